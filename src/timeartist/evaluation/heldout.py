"""Held-out data of the tokenizer benchmark: series windows and photos no tokenizer has trained on.

Series: strided windows of the tokenizer length L over every channel of an LTSF split (values scaled with the
train split's scaler, as in the LTSF protocol), then each window z-scored as the pipeline does; windows without
variation (std < 1e-8) are dropped. ``heldout_windows`` picks the largest stride (at most L, i.e. no overlap) that
gives a wanted number of windows over the test splits of several datasets.

Images: the held-out split of the ImageNet samples (``data.images.is_heldout``: one file in ten by a hash of its
name; the image tokenizer never trains on it) as centre crops at the tokenizer size S, and random views of the
same photos (squares of a random fraction of the shorter edge, random flips, seeded) for counting codes over
many more tokens than the photos hold.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from tqdm.auto import tqdm

from timeartist.data import ImageFolderDataset, ImageTransform, LTSFDataset, load_image, ltsf_path, resolve_data_root

logger = logging.getLogger(__name__)

IMAGENET_SAMPLES = "images/imagenet_samples"
VIEW_SCALE = (0.35, 1.0)  # random squares of 35-100% of the shorter edge: the image tokenizer's training crops
STD_EPS = 1e-8


def evenly_spaced(n: int, count: int) -> np.ndarray:
    """Indices of ``min(count, n)`` items spread evenly over ``n`` (first and last included)."""
    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))


def zscore_windows(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows (W, L) -> (z-scored windows (W', L) float64, kept (W,) bool): rows with std < 1e-8 are dropped."""
    windows = np.asarray(windows, dtype=np.float64)
    std = windows.std(axis=1, keepdims=True)
    kept = std[:, 0] >= STD_EPS
    return (windows[kept] - windows[kept].mean(axis=1, keepdims=True)) / std[kept], kept


def split_rows(dataset: str, data_root, split: str) -> np.ndarray:
    """The train-scaled values (C, T) of one split's own rows of an LTSF dataset."""
    data = LTSFDataset(ltsf_path(dataset, data_root), split, seq_len=1, pred_len=1)
    start, end = data.borders[split]
    return data.series[:, start:end]


def ltsf_windows(dataset: str, data_root, split: str, length: int, stride: int, limit: int | None = None) -> np.ndarray:
    """z-scored windows (W, length) every ``stride`` steps over each channel of one split (channel by channel);
    ``limit`` keeps that many, spread evenly over the split's windows."""
    rows = split_rows(dataset, data_root, split)
    if rows.shape[1] < length:
        raise ValueError(f"the {split} split of {dataset} has {rows.shape[1]} rows, fewer than one window of {length}")
    windows, kept = zscore_windows(sliding_window_view(rows, length, axis=1)[:, ::stride].reshape(-1, length))
    if not kept.all():
        logger.info("%s %s: skipped %d constant windows", dataset, split, int((~kept).sum()))
    return windows if limit is None else windows[evenly_spaced(len(windows), limit)]


def stride_for(rows: Sequence[tuple[int, int]], length: int, wanted: int) -> int:
    """The largest stride in [1, length] at which splits of (channels, steps) give at least ``wanted`` windows
    of ``length`` (1 when even stride 1 gives fewer)."""
    def count(stride: int) -> int:
        return sum(c * ((t - length) // stride + 1) for c, t in rows if t >= length)

    return next((s for s in range(length, 0, -1) if count(s) >= wanted), 1)


def heldout_windows(datasets: Sequence[str], data_root, length: int, wanted: int, split: str = "test") -> tuple[dict[str, np.ndarray], int]:
    """z-scored windows of one split ("test"; "val" for choices) of each dataset ({name: (W_d, length)}) at the
    largest stride (at most ``length``) that gives ``wanted`` windows in all, and that stride."""
    shapes = [split_rows(name, data_root, split).shape for name in datasets]
    stride = stride_for(shapes, length, wanted)
    windows = {name: ltsf_windows(name, data_root, split, length, stride) for name in datasets}
    total = sum(len(w) for w in windows.values())
    logger.info("held-out series: %d %s windows of %d steps, stride %d (%s)", total, split, length, stride,
                ", ".join(f"{k} {len(v)}" for k, v in windows.items()))  # fmt: skip
    if total < wanted:
        logger.warning("held-out series: only %d windows at stride %d, fewer than the %d wanted", total, stride, wanted)
    return windows, stride


def imagenet_folder(data_root, size: int, split: str) -> ImageFolderDataset:
    """Centre crops (3, size, size) of the ImageNet samples of one split ("all", "train" or "heldout")."""
    return ImageFolderDataset(resolve_data_root(data_root) / IMAGENET_SAMPLES, size=size, crop="center", flip=False, split=split)


def load_images(folder: ImageFolderDataset, index: Sequence[int] | None = None) -> torch.Tensor:
    """Images (len(index), 3, S, S) of ``folder`` (default: all), in [0, 1]."""
    index = range(len(folder)) if index is None else index
    return torch.stack([folder[int(i)] for i in tqdm(index, desc=f"load {folder.root.name}", disable=None, leave=False)])


def random_views(files: Sequence[Path], size: int, count: int, seed: int) -> torch.Tensor:
    """``count`` random views (count, 3, size, size) of the photos ``files``, photo ``i % len(files)`` for view i:
    squares of ``VIEW_SCALE`` of the shorter edge at a random place, flipped with probability 0.5. Seeded: the
    same arguments give the same views, whatever the global RNG state."""
    transform = ImageTransform(size=size, crop="random", flip=True, scale=VIEW_SCALE)
    photos = [load_image(path) for path in files]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        views = [transform(photos[i % len(photos)]) for i in tqdm(range(count), desc="random views", disable=None, leave=False)]
    return torch.stack(views)


def views_for(tokens_per_code: float, codebook_size: int, tokens_per_item: int) -> int:
    """Items needed so that their tokens number at least ``tokens_per_code`` x the codebook size."""
    return math.ceil(tokens_per_code * codebook_size / tokens_per_item)
