"""What the playground reads from its page: uploaded tables and photos, and the values typed into its fields.

Every check raises ``ValueError`` with one line that names the file or field and says what was expected; the page
shows that line where the result would have been. Uploads are capped at ``UPLOAD_LIMIT_MB`` (stated in the page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from timeartist.data.images import load_image

UPLOAD_LIMIT_MB = 20
TABLE_SUFFIXES = (".csv", ".parquet")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_PIXELS = 40_000_000  # larger photos are refused before they are decoded (a 20 MB PNG can hold billions)
TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime", "month", "week", "day", "hour")
NO_TIME = "(row number)"  # the time-column choice for a table without one
MAX_HORIZON = 10_000


@dataclass
class Series:
    """One series read from a table: values in time order, their timestamps and the time column's name (None for
    both: row numbers), and the value column's name."""

    values: np.ndarray
    times: np.ndarray | None
    time_name: str | None
    name: str


def checked_upload(path: str | os.PathLike, suffixes: tuple[str, ...], what: str) -> Path:
    """An uploaded file that exists, is not empty, is within the size limit and has one of ``suffixes``."""
    path = Path(path)
    expected = ", ".join(suffixes)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path.name} is not {what}: expected a file ending in {expected}")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path.name} is empty: expected {what}")
    if size > UPLOAD_LIMIT_MB * 2**20:
        raise ValueError(f"{path.name} is {size / 2**20:.1f} MB; uploads are limited to {UPLOAD_LIMIT_MB} MB")
    return path


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV or Parquet upload -> a frame with at least one row."""
    path = checked_upload(path, TABLE_SUFFIXES, "a CSV or Parquet file")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, float_precision="round_trip")  # the numbers exactly as written
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path.name} has no header row: expected a CSV with column names and one row per time step") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
        reason = " ".join(str(error).split())
        raise ValueError(f"{path.name} is not a readable {kind} file ({reason[:160]})") from None
    if frame.empty:
        raise ValueError(f"{path.name} has a header but no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def _dates(column: pd.Series) -> bool:
    """A datetime column, or text whose first cells read as dates (how a CSV stores them)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    try:
        pd.to_datetime(column.head(20), format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def guess_time_column(frame: pd.DataFrame) -> str:
    """A column of dates, else one with a usual time name, else ``NO_TIME``."""
    dated = [c for c in frame.columns if _dates(frame[c])]
    named = [c for c in frame.columns if c.lower() in TIME_NAMES]
    return (dated or named or [NO_TIME])[0]


def value_columns(frame: pd.DataFrame, time_column: str) -> list[str]:
    """The numeric columns other than the time column; none is an error naming the columns there are."""
    values = [c for c in numeric_columns(frame) if c != time_column]
    if not values:
        raise ValueError(f"no numeric column to forecast: the columns are {list(frame.columns)}")
    return values


def series_from_table(frame: pd.DataFrame, time_column: str | None, value_column: str | None) -> Series:
    """The chosen column as a series sorted by the time column (defaults: ``guess_time_column`` and the last numeric
    column). Timestamps must parse and be distinct; values may have gaps (NaN) but need two observed ones."""
    time_column = time_column or guess_time_column(frame)
    if time_column != NO_TIME and time_column not in frame.columns:
        raise ValueError(f"time column {time_column!r} not found; the columns are {list(frame.columns)}")
    choices = value_columns(frame, time_column)
    value_column = value_column or choices[-1]
    if value_column not in choices:
        raise ValueError(f"column {value_column!r} is not a numeric column; choose one of {choices}")
    values = frame[value_column].to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise ValueError(f"column {value_column!r} has infinite values")
    if np.count_nonzero(~np.isnan(values)) < 2:
        raise ValueError(f"column {value_column!r} has fewer than 2 numbers")
    if time_column == NO_TIME:
        return Series(values, None, None, value_column)
    times = frame[time_column]
    if not pd.api.types.is_numeric_dtype(times):
        try:
            times = pd.to_datetime(times)
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"time column {time_column!r} holds values that are neither numbers nor dates, e.g. {frame[time_column].iloc[0]!r}") from None
    if times.isna().any():
        raise ValueError(f"time column {time_column!r} has empty cells")
    if times.duplicated().any():
        raise ValueError(f"time column {time_column!r} repeats the time {times[times.duplicated()].iloc[0]}; expected one row per time step")
    order = np.argsort(times.to_numpy(), kind="stable")
    return Series(values[order], times.to_numpy()[order], time_column, value_column)


def read_photo(path: str | os.PathLike) -> Image.Image:
    """An uploaded photo as an RGB image; too many pixels or undecodable data is an error naming the file."""
    path = checked_upload(path, IMAGE_SUFFIXES, "an image")
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"{path.name} is not a readable image ({' '.join(str(error).split())})") from None
    if width * height > MAX_PIXELS:
        raise ValueError(f"{path.name} has {width} x {height} pixels; at most {MAX_PIXELS // 1_000_000} million are read")
    return load_image(path, name=path.name)


def parse_horizon(value) -> int:
    """The horizon field: a whole number from 1 to ``MAX_HORIZON``."""
    try:
        horizon = float(value)
    except (TypeError, ValueError):
        horizon = float("nan")
    if not horizon.is_integer() or not 1 <= horizon <= MAX_HORIZON:
        raise ValueError(f"horizon must be a whole number from 1 to {MAX_HORIZON:,}, got {value!r}")
    return int(horizon)


def parse_period(text) -> int | None:
    """The period field: "auto" (or empty) -> None, else a whole number of steps >= 1."""
    text = str(text if text is not None else "").strip().lower()
    if text in ("", "auto"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"period must be 'auto' or a whole number of steps such as 24, got {text!r}")
    return int(text)


def parse_levels(text) -> tuple[float, ...]:
    """The quantile-levels field: increasing numbers strictly between 0 and 1, separated by commas."""
    try:
        levels = tuple(float(x) for x in str(text or "").replace(";", ",").split(",") if x.strip())
    except ValueError:
        levels = ()
    if not levels or not all(0 < q < 1 for q in levels) or list(levels) != sorted(set(levels)):
        raise ValueError(f"quantile levels must be increasing numbers between 0 and 1 separated by commas, e.g. 0.1, 0.5, 0.9; got {text!r}")
    return levels


LABEL_NAMES = ("label", "class", "target", "y")


def guess_label_column(frame: pd.DataFrame) -> str | None:
    """A column with a usual label name, else the first non-numeric column, else None."""
    named = [c for c in frame.columns if c.lower() in LABEL_NAMES]
    text = [c for c in frame.columns if c not in numeric_columns(frame)]
    return (named or text or [None])[0]


def cases_from_table(frame: pd.DataFrame, label_column: str | None, name: str, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """One series a row -> (cases (n, T) from the numeric columns other than the label column, labels or None).

    ``labelled``: the label column must be there (TRAIN); otherwise it is used when present (TEST)."""
    has_labels = label_column is not None and label_column in frame.columns
    if labelled and not has_labels:
        raise ValueError(f"{name} has no label column {label_column!r}; choose one of {list(frame.columns)}" if label_column else f"{name}: choose its label column")
    values = [c for c in numeric_columns(frame) if c != label_column]
    if len(values) < 2:
        raise ValueError(f"{name} needs one series a row in at least 2 numeric columns; its columns are {list(frame.columns)}")
    cases = frame[values].to_numpy(dtype=np.float64)
    if np.isinf(cases).any():
        raise ValueError(f"{name} has infinite values")
    labels = frame[label_column].astype(str).to_numpy() if has_labels else None
    if labels is not None and len(np.unique(labels)) < 2 and labelled:
        raise ValueError(f"{name}: the label column {label_column!r} holds one class only; a classifier needs at least 2")
    return cases, labels
