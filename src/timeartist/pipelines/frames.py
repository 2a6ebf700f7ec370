"""Long frames (one row per series and time step: id, time, value) <-> batches of equal-length series.

``TimeArtistPipeline.forecast_df`` and ``series_to_image_df`` read their frames through ``series_groups`` and
isolate series with bad data through ``apply_per_series``; with ``errors="collect"`` such series go to an errors
frame (``id_col``, ``"reason"``) instead of failing the call. Everything here is pandas and numpy: the Dask path
(``timeartist.pipelines.distributed``) runs the same pipeline methods on each partition.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from timeartist.pipelines.forecasting import SeriesError

ERRORS = ("raise", "collect")
REASON = "reason"


def is_distributed_input(df) -> bool:
    """A Dask DataFrame, or a path / glob of Parquet files: inputs for the Dask path (detected without importing dask)."""
    return isinstance(df, (str, os.PathLike)) or type(df).__module__.partition(".")[0] in ("dask", "dask_expr")


def check_long_frame(df: pd.DataFrame, columns: Sequence[str], errors: str, what: str) -> None:
    """Clear errors for a frame that is not a long frame with ``columns``, or a bad ``errors`` value."""
    if errors not in ERRORS:
        raise ValueError(f"{what}: errors must be one of {ERRORS}, got {errors!r}")
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, a Dask DataFrame or a Parquet path, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: columns {missing} not found; the frame has {list(df.columns)}")
    if df[columns[0]].isna().any():
        raise ValueError(f"{what}: column {columns[0]!r} has missing ids")


@dataclass
class SeriesGroup:
    """Series of one length L: ``keys`` (n,) ids, ``values`` (n, L) float64 and ``times`` (n, L), sorted by time."""

    keys: np.ndarray
    values: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def series_groups(df: pd.DataFrame, id_col: str, time_col: str, target: str) -> Iterator[SeriesGroup]:
    """The series of a long frame, each whole and sorted by time, grouped by length (shortest first)."""
    codes, uniques = pd.factorize(df[id_col])
    order = pd.DataFrame({"code": codes, "time": df[time_col].to_numpy()}).sort_values(["code", "time"], kind="stable").index.to_numpy()
    codes = codes[order]
    values = df[target].to_numpy(dtype=np.float64)[order]
    times = df[time_col].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.empty(0, dtype=int)
    lengths = np.diff(np.r_[starts, len(codes)])
    keys = np.asarray(uniques)
    for length in np.unique(lengths):
        first = starts[lengths == length]
        index = first[:, None] + np.arange(length)
        yield SeriesGroup(keys[codes[first]], values[index], times[index])


def apply_per_series(run: Callable[[np.ndarray], Sequence], index: np.ndarray, errors: str) -> tuple[np.ndarray, list, list[tuple[int, str]]]:
    """``run(index)`` -> one result per position of ``index``, as (positions kept, their results, failures).

    With ``errors="collect"``, a batch that raises ``SeriesError`` is split in halves until the failing positions
    are alone; each becomes a failure ``(position, reason)``. Other exceptions (bad arguments, bugs) propagate.
    Checks that run before the model (NaNs, lengths) fail fast, so isolating k bad series costs about k log n
    cheap calls and one model pass over the rest.
    """
    if len(index) == 0:
        return index, [], []
    if errors == "raise":
        return index, list(run(index)), []
    try:
        return index, list(run(index)), []
    except SeriesError as err:
        if len(index) == 1:
            return index[:0], [], [(int(index[0]), err.reason)]
        half = len(index) // 2
        (kept_a, out_a, bad_a), (kept_b, out_b, bad_b) = (apply_per_series(run, part, errors) for part in (index[:half], index[half:]))
        return np.concatenate([kept_a, kept_b]), out_a + out_b, bad_a + bad_b


def future_times(times: np.ndarray, horizon: int, freq: str | None, key) -> np.ndarray:
    """``horizon`` time stamps after the last of ``times`` (datetimes at ``freq`` or inferred; numbers step on)."""
    if pd.api.types.is_numeric_dtype(times.dtype):
        step = times[-1] - times[-2] if len(times) > 1 else 1
        return times[-1] + step * np.arange(1, horizon + 1)
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if freq is None and len(stamps) >= 3:
        freq = pd.infer_freq(stamps)
    if freq is None:
        raise SeriesError("cannot infer the time step from its timestamps (rows missing or irregular); pass freq= (CLI: --freq), e.g. 'h'", [key])
    return pd.date_range(stamps[-1], periods=horizon + 1, freq=freq)[1:].to_numpy()


def drop_duplicate_times(df: pd.DataFrame, id_col: str, time_col: str, errors: str) -> tuple[pd.DataFrame, list]:
    """Series with a time stamp given twice are ambiguous: a ``SeriesError`` (errors="raise") or, with
    errors="collect", failures (id, reason) dropped from the frame. Unsorted rows are fine (series are sorted)."""
    twice = df.duplicated([id_col, time_col], keep=False)
    if not twice.any():
        return df, []
    keys = pd.unique(df.loc[twice, id_col])
    reason = "duplicated time stamps"
    if errors == "raise":
        raise SeriesError(reason, list(keys))
    return df[~df[id_col].isin(keys)], [(key, reason) for key in keys]


def regrid_series(df: pd.DataFrame, id_col: str, time_col: str, target: str, freq: str | None, errors: str) -> tuple[pd.DataFrame, list]:
    """Every series on its regular grid at ``freq``, missing steps as NaN rows (datetime times and a given ``freq``
    only; otherwise ``df`` unchanged). A series whose timestamps are off the grid or duplicated, or for which ``freq``
    is finer than its data (at least every other grid step would be a gap, e.g. "30min" for hourly rows), is a
    ``SeriesError`` (errors="raise") or a failure (id, reason) dropped from the frame (errors="collect")."""
    if freq is None or pd.api.types.is_numeric_dtype(df[time_col]):
        return df, []
    parts, failures = [], []
    for key, group in df.groupby(id_col, sort=False):
        stamps = pd.DatetimeIndex(pd.to_datetime(group[time_col])).sort_values()
        grid = pd.date_range(stamps[0], stamps[-1], freq=freq)
        if len(grid) == len(stamps) and (grid == stamps).all():
            parts.append(group)
            continue
        reason = None
        if stamps.has_duplicates or not stamps.isin(grid).all():
            reason = f"timestamps are not on a regular {freq!r} grid from {stamps[0]} (duplicates or steps off the grid)"
        elif len(grid) - len(stamps) >= len(stamps) - 1:  # at least every other step a gap: freq finer than the data
            typical = pd.Timedelta(int(np.median(np.diff(stamps.asi8))))
            own = (pd.infer_freq(stamps) if len(stamps) >= 3 else None) or to_offset(typical).freqstr
            reason = (
                f"timestamps are mostly {typical.to_pytimedelta()} apart, so at freq {freq!r} {len(grid) - len(stamps)} of the "
                f"{len(grid)} steps would be interpolated; pass the data's own time step as freq= (CLI: --freq), e.g. {own!r}"
            )
        if reason is not None:
            if errors == "raise":
                raise SeriesError(reason, [key])
            failures.append((key, reason))
            continue
        values = pd.Series(group[target].to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(group[time_col]))).reindex(grid)
        parts.append(pd.DataFrame({id_col: key, time_col: grid, target: values.to_numpy()}))
    frame = pd.concat(parts, ignore_index=True) if parts else df.iloc[:0]
    return frame, failures


def future_time_dtype(dtype):
    """dtype of the future time column: a numeric or datetime input keeps its dtype, anything else (strings) is
    parsed to datetime64[ns]."""
    numeric_or_datetime = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
    return dtype if numeric_or_datetime else np.dtype("datetime64[ns]")


def column(parts: list[np.ndarray], dtype) -> pd.Series:
    """Concatenated arrays (or none) as one column of ``dtype``."""
    return pd.Series(np.concatenate(parts) if parts else np.empty(0), dtype=dtype)


def errors_frame(df: pd.DataFrame, id_col: str, failures: list[tuple[object, str]]) -> pd.DataFrame:
    """Failures (id, reason) -> a frame (``id_col`` in the input's dtype, ``"reason"``)."""
    return pd.DataFrame({
        id_col: pd.Series([key for key, _ in failures], dtype=df[id_col].dtype),
        REASON: pd.Series([reason for _, reason in failures], dtype=object),
    })  # fmt: skip
