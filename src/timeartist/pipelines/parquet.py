"""Parquet files of long frames in, part files out: the helpers under both batch engines.

``batch.forecast_parquet`` (one process) and ``distributed.write_parts`` (Dask) find their input files, check their
columns and write their part files and ``_errors.parquet`` here, so that neither engine imports the other.
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
