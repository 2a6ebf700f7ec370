"""Self-supervised pretraining windows from several LTSF datasets (the seed's ``MultiDomainSelfSupervisionDataset``).

Each dataset contributes non-overlapping windows of ``seq_len`` rows per channel, cut inside contiguous
runs of the chosen splits and z-scored per channel with the mean/std of exactly those rows.

By default only the train split is used, so the val and test ranges stay unseen and a model pretrained
on these windows can still be evaluated zero-shot on them. ``splits="all"`` reproduces the seed, which
concatenated train, val and test of every dataset; a warning is logged because zero-shot claims on
those datasets are then void. (The seed also standardised over its overlapping split arrays; here each
row is used once, in time order, and rows outside the three protocol splits are never used.)
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from timeartist.data.ltsf import SPLITS, read_ltsf_csv, split_borders
from timeartist.data.paths import ltsf_path

logger = logging.getLogger(__name__)


def contiguous_runs(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge ``[start, end)`` ranges that touch, e.g. train + val -> one run: [(0, 5), (5, 9)] -> [(0, 9)]."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
        else:
            runs.append((start, end))
    return runs


class MultiDomainSelfSupervisionDataset(Dataset):
    """Windows ``(seq_len,)`` float32 tensors from one or more datasets, channel-independent.

    ``data_name``: a known name (``"etth1"``, ``"weather"``, ... see ``timeartist.data.paths``), a CSV
    path, or a list of them. Item order follows the seed: for each dataset in turn, window-major with the
    channel varying fastest (``index = window * num_channels + channel`` inside a dataset).
    """

    def __init__(
        self,
        data_name: str | os.PathLike | Sequence[str | os.PathLike] = "etth1",
        seq_len: int = 512,
        splits: str | Sequence[str] = ("train",),
        data_root: str | os.PathLike | None = None,
    ):
        if seq_len < 1:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        names = [data_name] if isinstance(data_name, (str, os.PathLike)) else list(data_name)
        if not names:
            raise ValueError("data_name must name at least one dataset")
        self.splits = self._check_splits(splits)
        self.seq_len = seq_len
        if {"val", "test"} & set(self.splits):
            logger.warning(
                "self-supervised windows include the %s ranges of %s: zero-shot claims on these datasets are void",
                "/".join(s for s in self.splits if s != "train"),
                ", ".join(map(str, names)),
            )

        self.names: list[str] = []
        self.series: list[np.ndarray] = []  # per dataset (C, N) float32, z-scored on the used rows
        self.starts: list[np.ndarray] = []  # per dataset: window start rows
        for name in names:
            self._add(name, data_root)
        sizes = [len(s) * x.shape[0] for s, x in zip(self.starts, self.series)]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        if self.offsets[-1] == 0:
            raise ValueError(f"no window of seq_len={seq_len} fits in the {self.splits} splits of {names}")

    @staticmethod
    def _check_splits(splits: str | Sequence[str]) -> tuple[str, ...]:
        if splits == "all":
            return SPLITS
        chosen = (splits,) if isinstance(splits, str) else tuple(splits)
        unknown = [s for s in chosen if s not in SPLITS]
        if unknown or not chosen:
            raise ValueError(f"splits must be 'all' or a non-empty subset of {SPLITS}, got {splits!r}")
        return chosen

    def _add(self, name: str | os.PathLike, data_root: str | os.PathLike | None) -> None:
        path = ltsf_path(name, data_root)
        values = read_ltsf_csv(path).to_numpy(dtype=np.float64).T  # (C, N)
        borders = split_borders(path, values.shape[1])
        runs = contiguous_runs([borders[s] for s in self.splits])
        used = np.concatenate([values[:, a:b] for a, b in runs], axis=1)
        mean, std = used.mean(axis=1, keepdims=True), used.std(axis=1, keepdims=True)
        if not (std > 0).all():
            raise ValueError(f"{path}: channels {np.flatnonzero(~(std[:, 0] > 0)).tolist()} are constant on {self.splits}")
        starts = np.concatenate([np.arange(a, b - self.seq_len + 1, self.seq_len) for a, b in runs])
        self.names.append(str(name))
        self.series.append(((values - mean) / std).astype(np.float32))
        self.starts.append(starts.astype(np.int64))
        logger.info("%s: %d windows x %d channels from %s rows %s", name, len(starts), values.shape[0], self.splits, runs)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: int) -> tuple[str, int, int]:
        """``(dataset name, channel, start row)`` of item ``index``."""
        d, channel, start = self._locate(index)
        return self.names[d], channel, start

    def _locate(self, index: int) -> tuple[int, int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} windows")
        d = int(np.searchsorted(self.offsets, index, side="right") - 1)
        window, channel = divmod(int(index - self.offsets[d]), self.series[d].shape[0])
        return d, channel, int(self.starts[d][window])

    def __getitem__(self, index: int) -> torch.Tensor:
        """Window ``index`` as a float32 tensor of shape ``(seq_len,)``."""
        d, channel, start = self._locate(int(index))
        return torch.from_numpy(self.series[d][channel, start : start + self.seq_len].copy())
