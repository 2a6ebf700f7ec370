"""Long-term forecasting (LTSF) benchmark data with the standard Time-Series-Library protocol.

Protocol (Informer / TSLib ``data_loader.py``):
- ETT files (name starts with ``ETTh`` / ``ETTm``): train = first 12 months, val = next 4, test = next 4,
  with months of 30 days (ETTh: 8640 / 2880 / 2880 rows; ETTm: x4). Rows after the test range are unused.
- Any other date-indexed CSV: 0.7 / 0.1 / 0.2 of the rows (train and test sizes rounded down).
- Val and test windows start ``seq_len`` rows before their border, so a lookback may reach back into
  the previous split while every target lies inside the split.
- A per-channel StandardScaler (mean, population std) is fitted on the train rows only and applied to
  the whole file; metrics are computed on these scaled values.
- Windows have stride 1 and none is dropped: ``num_windows = rows - seq_len - pred_len + 1``.

Columns are ``date`` first, then the channels; the target column is moved last (as TSLib does), so in
``features="M"`` the target is channel ``num_channels - 1`` and ``features="S"`` keeps only the target.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from timeartist.data.paths import ltsf_path, require_file

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitBorders:
    """Row ranges ``[start, end)`` of each split's own rows (without the ``seq_len`` lookback)."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def __getitem__(self, split: str) -> tuple[int, int]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return getattr(self, split)


def split_borders(path: str | os.PathLike, num_rows: int) -> SplitBorders:
    """Borders for a file: ETT 12/4/4 months (30-day months; ETTm x4), other files 0.7/0.1/0.2."""
    name = Path(path).name
    if name.startswith(("ETTh", "ETTm")):
        rows_per_month = 30 * 24 * (4 if name.startswith("ETTm") else 1)
        train_end, val_end, test_end = (m * rows_per_month for m in (12, 16, 20))
        if num_rows < test_end:
            raise ValueError(
                f"{path}: ETT files need at least {test_end} rows for the 12/4/4-month split, got {num_rows}"
            )
    else:
        num_train, num_test = int(num_rows * 0.7), int(num_rows * 0.2)
        train_end, val_end, test_end = num_train, num_rows - num_test, num_rows
    return SplitBorders(train=(0, train_end), val=(train_end, val_end), test=(val_end, test_end))


def read_ltsf_csv(path: str | os.PathLike, features: str = "M", target: str = "OT", date_col: str = "date") -> pd.DataFrame:
    """Read a date-indexed CSV and return its numeric channels (target last), checked for NaN and non-numbers."""
    path = require_file(path, f"a CSV with a {date_col!r} column followed by numeric channels, e.g. <data_root>/ETT/ETTh1.csv")
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' (all channels) or 'S' (target only), got {features!r}")
    frame = pd.read_csv(path)
    for column, role in ((date_col, "date"), (target, "target")):
        if column not in frame.columns:
            raise ValueError(f"{path}: no {role} column {column!r}; columns are {list(frame.columns)}")
    channels = [c for c in frame.columns if c not in (date_col, target)] + [target]
    frame = frame[[target] if features == "S" else channels]
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"{path}: columns {non_numeric} are not numeric; every column except {date_col!r} must be")
    missing = frame.isna().sum()
    if missing.any():
        bad = {c: int(n) for c, n in missing.items() if n}
        raise ValueError(f"{path}: missing values (column: count) {bad}; fill or drop them before loading")
    return frame


class LTSFDataset:
    """Channel-independent ``(context, target)`` windows of one split of an LTSF CSV.

    ``path`` is a CSV file or a known dataset name (``"ETTh1"``, ``"weather"``, ...) looked up under
    ``data_root`` (see ``timeartist.data.paths``).

    ``len(ds) == ds.num_windows * ds.num_channels``; item ``i`` is window ``i % num_windows`` of channel
    ``i // num_windows`` and is ``(context (seq_len,), target (pred_len,))`` float32, scaled.

    For evaluation, ``ds.windows()`` returns all windows at once as read-only strided views, with no copy.
    ``ds.series`` is the whole scaled file ``(C, N)`` and ``ds.borders`` the split row ranges, for methods
    that need the raw train or val range (e.g. choosing a seasonal-mean K on val).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = "train",
        seq_len: int = 512,
        pred_len: int = 96,
        features: str = "M",
        target: str = "OT",
        date_col: str = "date",
        data_root: str | os.PathLike | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if seq_len < 1 or pred_len < 1:
            raise ValueError(f"seq_len and pred_len must be positive, got seq_len={seq_len}, pred_len={pred_len}")
        path = ltsf_path(path, data_root)
        self.path, self.split, self.seq_len, self.pred_len = path, split, seq_len, pred_len
        frame = read_ltsf_csv(path, features, target, date_col)
        self.channels: list[str] = list(frame.columns)
        values = frame.to_numpy(dtype=np.float64).T  # (C, N)
        self.borders = split_borders(path, values.shape[1])

        train = values[:, slice(*self.borders.train)]
        self.mean, self.std = train.mean(axis=1), train.std(axis=1)
        constant = [c for c, s in zip(self.channels, self.std) if not s > 0]
        if constant:
            raise ValueError(f"{path}: channels {constant} are constant on the train rows, so they cannot be standardised")
        self.series = ((values - self.mean[:, None]) / self.std[:, None]).astype(np.float32)  # (C, N)

        start, end = self.borders[split]
        self.start = start if split == "train" else start - seq_len  # lookback reaches into the previous split
        self.end = end
        self.num_windows = self.end - self.start - seq_len - pred_len + 1
        if self.num_windows < 1:
            raise ValueError(
                f"{path}: the {split} split has {self.end - self.start} rows (with lookback), fewer than "
                f"seq_len + pred_len = {seq_len + pred_len}"
            )
        logger.debug("%s %s: %d windows x %d channels", self.path.name, split, self.num_windows, self.num_channels)

    @property
    def num_channels(self) -> int:
        return self.series.shape[0]

    def __len__(self) -> int:
        return self.num_windows * self.num_channels

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} windows")
        channel, window = divmod(index % len(self), self.num_windows)
        begin = self.start + window
        row = self.series[channel]
        return row[begin : begin + self.seq_len].copy(), row[begin + self.seq_len : begin + self.seq_len + self.pred_len].copy()

    def windows(self, channel: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All windows of the split as read-only views (no copy; slice them into batches).

        Returns ``contexts (W, C, seq_len)`` and ``targets (W, C, pred_len)``, or ``(W, seq_len)`` and
        ``(W, pred_len)`` for one ``channel``; ``W = num_windows``, window ``w`` starts at row ``start + w``.
        """
        rows = self.series[:, self.start : self.end]
        if channel is not None:
            rows = rows[self._check_channel(channel)]
        view = sliding_window_view(rows, self.seq_len + self.pred_len, axis=-1)  # (..., W, seq+pred)
        if channel is None:
            view = view.transpose(1, 0, 2)
        return view[..., : self.seq_len], view[..., self.seq_len :]

    def transform(self, values: np.ndarray, channel: int | None = None) -> np.ndarray:
        """Scale raw values of ``channel``; with ``channel=None`` the channel axis is ``-2``, size ``num_channels``."""
        mean, std = self._stats(values, channel)
        return (np.asarray(values) - mean) / std

    def inverse_transform(self, values: np.ndarray, channel: int | None = None) -> np.ndarray:
        """Undo the scaling for ``channel``; with ``channel=None`` the channel axis is ``-2`` (e.g. ``(W, C, L)``)."""
        mean, std = self._stats(values, channel)
        return np.asarray(values) * std + mean

    def _stats(self, values: np.ndarray, channel: int | None) -> tuple[np.ndarray, np.ndarray]:
        if channel is not None:
            channel = self._check_channel(channel)
            return self.mean[channel], self.std[channel]
        shape = np.shape(values)
        if len(shape) < 2 or shape[-2] != self.num_channels:
            raise ValueError(f"with channel=None values must have shape (..., {self.num_channels}, L), got {shape}")
        return self.mean[:, None], self.std[:, None]

    def _check_channel(self, channel: int) -> int:
        if not 0 <= channel < self.num_channels:
            raise ValueError(f"channel must be in [0, {self.num_channels}), got {channel}")
        return int(channel)

    def __repr__(self) -> str:
        return (
            f"LTSFDataset({self.path.name}, split={self.split!r}, seq_len={self.seq_len}, pred_len={self.pred_len}, "
            f"channels={self.num_channels}, windows={self.num_windows})"
        )
