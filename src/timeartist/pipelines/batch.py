"""Long-format Parquet files in, Parquet part files out: what ``timeartist forecast --input`` runs.

    forecast_parquet(pipe, "data/*.parquet", "forecasts/", horizon=24)                  # one process
    forecast_parquet(pipe, "data/*.parquet", "forecasts/", horizon=24, engine="dask")   # on the current Dask client

Input: Parquet files with one row per series and time step (``id_col``, ``time_col``, ``target``), a file, a
folder or a glob. Output folder: ``part.00000.parquet``, ... with the columns of ``forecast_df`` (``id_col``,
``time_col``, ``"forecast"``), one part per partition (one in a single process), and ``_errors.parquet``
(``id_col``, ``"reason"``): one row per series whose data could not be forecast (empty when all could). Parquet
readers skip names starting with ``_`` or ``.``, so ``pd.read_parquet(out)`` reads the forecasts only.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from timeartist.hub import atomic_write

logger = logging.getLogger(__name__)

ENGINES = ("dask",)
ERRORS_FILE = "_errors.parquet"


@dataclass
class BatchSummary:
    """What a batch run wrote: forecast rows, series that failed, part files, and the output folder."""

    rows: int
    failed: int
    parts: int
    out: Path


def parquet_files(source: str | os.PathLike) -> list[str]:
    """A Parquet file, a folder of them or a glob -> the sorted file paths; FileNotFoundError when there are none."""
    path = Path(source)
    files = sorted(str(p) for p in path.glob("*.parquet")) if path.is_dir() else sorted(glob.glob(str(source)))
    if not files:
        raise FileNotFoundError(f"no Parquet files found at {source}")
    return files


def check_columns(files: list[str], columns: list[str]) -> None:
    """ValueError naming the first file that lacks one of ``columns`` (reads the Parquet footers only)."""
    import pyarrow.parquet as pq

    for f in files:
        names = pq.read_schema(f).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{f} has no column {missing}; its columns are {names} (pass id_col / time_col / target)")


def prepare_out(out: str | os.PathLike) -> Path:
    """Create the output folder; refuse one that already holds part files (a rerun would mix old and new parts)."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {folder} is a file; batch output goes to a folder of part files")
    if any(folder.glob("part.*.parquet")):
        raise ValueError(f"{folder} already holds part files from an earlier run; remove them or choose another folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_part(frame: pd.DataFrame, out: Path, index: int) -> Path:
    """Write one part file atomically (a task re-run after a lost worker overwrites it whole, never duplicates)."""
    path = out / f"part.{index:05d}.parquet"
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return path


def write_errors(frames: list[pd.DataFrame], out: Path) -> int:
    """Concatenate the errors frames of all parts into ``out/_errors.parquet``; returns the number of failed series."""
    errors = pd.concat(frames, ignore_index=True)
    atomic_write(out / ERRORS_FILE, lambda tmp: errors.to_parquet(tmp, index=False))
    if len(errors):
        logger.warning("%d series could not be forecast; see %s", len(errors), out / ERRORS_FILE)
    return len(errors)


def forecast_parquet(
    pipe,
    source: str | os.PathLike,
    out: str | os.PathLike,
    horizon: int,
    engine: str | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target: str = "y",
    progress: bool | None = None,
    **kwargs,
) -> BatchSummary:
    """Forecast the series of long-format Parquet files into part files in ``out`` (see the module docstring).

    engine: None reads everything into one pandas frame and runs ``pipe.forecast_df`` in this process; "dask"
    runs it per partition on the current Dask client (``timeartist.pipelines.distributed.write_parts``), with a
    progress bar over finished partitions (``progress=None``: on a terminal only). ``kwargs`` go to ``forecast``.
    """
    if engine not in (None, *ENGINES):
        raise ValueError(f"unknown engine {engine!r}; available: {list(ENGINES)} (or none: one process)")
    folder = prepare_out(out)
    columns = dict(id_col=id_col, time_col=time_col, target=target)
    if engine == "dask":
        from timeartist.pipelines.distributed import write_parts

        return write_parts(pipe, "forecast_df", source, folder, progress=progress, horizon=horizon, **columns, **kwargs)
    files = parquet_files(source)
    check_columns(files, [id_col, time_col, target])
    frame = pd.concat([pd.read_parquet(f, columns=[id_col, time_col, target]) for f in files], ignore_index=True)
    forecasts, errors = pipe.forecast_df(frame, horizon, errors="collect", progress=progress, **columns, **kwargs)
    write_part(forecasts, folder, 0)
    return BatchSummary(len(forecasts), write_errors([errors], folder), 1, folder)
