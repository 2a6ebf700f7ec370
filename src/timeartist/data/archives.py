"""UEA/UCR classification archives in the sktime ``.ts`` format, plus label and length helpers.

A ``.ts`` file is a header (``@problemName``, ``@univariate``, ``@dimensions``, ``@equalLength``,
``@seriesLength``, ``@missing``, ``@classLabel true <labels>`` or ``@targetLabel true``), then
``@data`` and one case per line: dimensions separated by ``:``, values by ``,``, ``?`` for a missing
value, the label last. Lines starting with ``#`` are comments. Timestamped files (``@timeStamps true``)
are not supported and say so.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from timeartist.data.headers import read_header_and_data
from timeartist.data.paths import resolve_data_root

logger = logging.getLogger(__name__)

# (n, C, T) when every case has the same length, else one (C, T_i) array per case.
Panel = Union[np.ndarray, list]

_TS_LAYOUT = "a UEA/UCR .ts file (header lines starting with @, then @data and one case per line)"


@dataclass(frozen=True)
class TSArchive:
    """Contents of one ``.ts`` file."""

    X: Panel  # float64, NaN where the file has '?'
    y: np.ndarray | None  # class labels as written in the file (str), regression targets (float), or None
    class_labels: tuple[str, ...] | None  # labels declared in the header, in header order
    problem_name: str | None
    path: Path


def _flag(value: str, key: str, path: Path) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{path}: @{key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _parse_values(text: str, allow_missing: bool, line_no: int, path: Path) -> np.ndarray:
    fields = text.split(",")
    if "?" in fields:
        if not allow_missing:
            raise ValueError(f"{path}:{line_no}: '?' (missing value) in a file that declares @missing false")
        fields = ["nan" if f == "?" else f for f in fields]
    try:
        return np.array(fields, dtype=np.float64)
    except ValueError:
        bad = next(f for f in fields if not _is_float(f))
        raise ValueError(f"{path}:{line_no}: expected comma-separated numbers, found {bad!r}") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_ts(path: str | os.PathLike) -> TSArchive:
    """Read a ``.ts`` file; malformed lines raise ValueError naming the file and line number."""
    path = Path(path)
    header, lines = read_header_and_data(path, _TS_LAYOUT)
    fields = {key: value for _, key, value in header}
    spec = _header_spec(fields, path)
    cases: list[np.ndarray] = []
    labels: list[str] = []
    for line_no, line in lines:
        case, label = _parse_case(line, spec, line_no, path)
        cases.append(case)
        if label is not None:
            labels.append(label)
    if not cases:
        raise ValueError(f"{path}: no cases after @data")

    lengths = {c.shape[1] for c in cases}
    if spec.equal_length and len(lengths) > 1:
        raise ValueError(f"{path}: @equalLength true but case lengths range from {min(lengths)} to {max(lengths)}")
    X: Panel = np.stack(cases) if len(lengths) == 1 else cases
    if spec.classes is not None:
        y = np.array(labels, dtype=str)
    elif spec.regression:
        y = np.array(labels, dtype=np.float64)
    else:
        y = None
    logger.debug("%s: %d cases, %d dims, lengths %s", path.name, len(cases), cases[0].shape[0], sorted(lengths)[:3])
    return TSArchive(X=X, y=y, class_labels=spec.classes, problem_name=fields.get("problemname"), path=path)


@dataclass
class _TSHeader:
    """What the case parser needs from a ``.ts`` header."""

    dims: int | None  # None: multivariate without @dimensions, set by the first case
    missing: bool
    equal_length: bool
    series_length: int | None
    classes: tuple[str, ...] | None
    regression: bool


def _header_spec(header: dict[str, str], path: Path) -> _TSHeader:
    if _flag(header.get("timestamps", "false"), "timeStamps", path):
        raise ValueError(f"{path}: timestamped .ts files (@timeStamps true) are not supported")
    univariate = _flag(header.get("univariate", "true"), "univariate", path)
    dims = header.get("dimensions")
    class_spec = (header.get("classlabel") or "false").split()
    has_class = _flag(class_spec[0], "classLabel", path)
    if has_class and len(class_spec) < 2:
        raise ValueError(f"{path}: @classLabel true must list the class labels")
    series_length = header.get("serieslength")
    return _TSHeader(
        dims=1 if univariate else (int(dims) if dims else None),
        missing=_flag(header.get("missing", "false"), "missing", path),
        equal_length=_flag(header.get("equallength", "true"), "equalLength", path),
        series_length=int(series_length) if series_length else None,
        classes=tuple(class_spec[1:]) if has_class else None,
        regression=_flag((header.get("targetlabel") or "false").split()[0], "targetLabel", path),
    )


def _parse_case(line: str, spec: _TSHeader, line_no: int, path: Path) -> tuple[np.ndarray, str | None]:
    """One data line -> ((C, T) values, label or None)."""
    parts = line.split(":")
    label = None
    if spec.classes is not None or spec.regression:
        if len(parts) < 2:
            raise ValueError(f"{path}:{line_no}: expected '<values>:<label>', found no ':'")
        label = parts.pop().strip()
        if spec.classes is not None and label not in spec.classes:
            raise ValueError(f"{path}:{line_no}: label {label!r} is not among the declared classes {spec.classes}")
    if spec.dims is None:
        spec.dims = len(parts)  # multivariate file without @dimensions: the first case decides
    if len(parts) != spec.dims:
        raise ValueError(f"{path}:{line_no}: expected {spec.dims} dimension(s) separated by ':', found {len(parts)}")
    dims = [_parse_values(p.strip(), spec.missing, line_no, path) for p in parts]
    if len({len(d) for d in dims}) > 1:
        raise ValueError(f"{path}:{line_no}: dimensions have different lengths {[len(d) for d in dims]}")
    if spec.series_length is not None and spec.equal_length and len(dims[0]) != spec.series_length:
        raise ValueError(f"{path}:{line_no}: expected @seriesLength {spec.series_length} values, found {len(dims[0])}")
    return np.stack(dims), label


def load_ts(path: str | os.PathLike) -> tuple[Panel, np.ndarray | None]:
    """``(X, y)`` of a ``.ts`` file: ``X`` is ``(n, C, T)`` float64 for equal lengths, else a list of ``(C, T_i)``."""
    archive = read_ts(path)
    return archive.X, archive.y


def archive_path(name: str, split: str = "train", data_root: str | os.PathLike | None = None) -> Path:
    """Official ``<name>_TRAIN.ts`` / ``<name>_TEST.ts`` under ``<root>/UCR/<name>/`` or ``<root>/UEA/<name>/``."""
    if split not in ("train", "test"):
        raise ValueError(f"archive split must be 'train' or 'test' (the official split), got {split!r}")
    root = resolve_data_root(data_root)
    candidates = [root / group / name / f"{name}_{split.upper()}.ts" for group in ("UCR", "UEA", ".")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"archive {name!r} ({split}) not found; tried {', '.join(map(str, candidates))}")


def load_archive(name: str, split: str = "train", data_root: str | os.PathLike | None = None) -> tuple[Panel, np.ndarray | None]:
    """``load_ts`` of the official TRAIN or TEST file of a UCR/UEA dataset, e.g. ``load_archive("GunPoint", "test")``."""
    return load_ts(archive_path(name, split, data_root))


@dataclass(frozen=True)
class LabelEncoder:
    """Maps string labels to ``0..K-1`` and back; ``classes[i]`` is the label of id ``i``."""

    classes: tuple[str, ...]

    @classmethod
    def fit(cls, *label_sets: Sequence[str]) -> "LabelEncoder":
        """Classes of all given label arrays, sorted numerically when every label is a number ("2" < "10")."""
        labels = {str(label) for labels in label_sets for label in labels}
        if not labels:
            raise ValueError("cannot fit a LabelEncoder on no labels")
        numeric = all(_is_float(label) for label in labels)
        return cls(tuple(sorted(labels, key=(lambda s: (float(s), s)) if numeric else None)))

    def encode(self, labels: Sequence[str]) -> np.ndarray:
        """Labels -> int64 ids ``(n,)``; an unknown label raises ValueError."""
        index = {label: i for i, label in enumerate(self.classes)}
        unknown = sorted({str(label) for label in labels} - set(index))
        if unknown:
            raise ValueError(f"labels {unknown} are not among the encoder's classes {self.classes}")
        return np.array([index[str(label)] for label in labels], dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> np.ndarray:
        """Ids ``(n,)`` -> labels ``(n,)`` (str)."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.classes)):
            raise ValueError(f"ids must be in [0, {len(self.classes)}), got range [{ids.min()}, {ids.max()}]")
        return np.array(self.classes, dtype=str)[ids]


def _cases(X: Panel) -> list[np.ndarray]:
    cases = list(X) if isinstance(X, (list, tuple)) or np.ndim(X) == 3 else []
    if not cases or any(np.ndim(c) != 2 for c in cases):
        shapes = [np.shape(c) for c in X[:3]] if isinstance(X, (list, tuple)) else np.shape(X)
        raise ValueError(f"expected an (n, C, T) array or a non-empty list of (C, T_i) arrays, got shape(s) {shapes}")
    return [np.asarray(c, dtype=np.float64) for c in cases]


def fill_missing(X: Panel) -> Panel:
    """Linearly interpolate NaNs along time (edges take the nearest value); same layout as ``X``.

    A dimension with no value at all raises ValueError naming the case and dimension.
    """
    out = []
    for i, case in enumerate(_cases(X)):
        case = case.copy()
        for c, row in enumerate(case):
            missing = np.isnan(row)
            if missing.all():
                raise ValueError(f"case {i}, dimension {c} has no values at all; cannot fill it")
            if missing.any():
                t = np.arange(len(row))
                row[missing] = np.interp(t[missing], t[~missing], row[~missing])
        out.append(case)
    return np.stack(out) if isinstance(X, np.ndarray) else out


def resample_to_length(X: Panel, length: int) -> np.ndarray:
    """Linear resampling of every case to ``length`` steps (``align_corners=True``): -> ``(n, C, length)``.

    Endpoints are kept; this is what the seed does (``F.interpolate(..., mode="linear", align_corners=True)``)
    to feed archive series to a tokenizer of fixed length. NaNs must be filled first (``fill_missing``).
    """
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    out = []
    for i, case in enumerate(_cases(X)):
        if np.isnan(case).any():
            raise ValueError(f"case {i} contains NaN; call fill_missing first")
        steps = case.shape[1]
        if steps == 1:
            out.append(np.repeat(case, length, axis=1))
            continue
        position = np.linspace(0, steps - 1, length)
        low = np.minimum(np.floor(position).astype(int), steps - 2)
        weight = position - low
        out.append(case[:, low] * (1 - weight) + case[:, low + 1] * weight)
    return np.stack(out)
