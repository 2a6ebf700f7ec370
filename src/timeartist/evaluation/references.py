"""Equal-bit references a tokenizer has to beat: a DCT code for series windows, block averages for images.

Equal-bit accounting. A tokenizer's output is N indices into a codebook of K codes: a fixed-length code spends
B = N * log2(K) bits per window or image (the default model: 64 * log2(4096) = 768 bits). Each reference below is
given the same budget B and spends at most B bits; its decoder rule is fixed, so it costs no bits.

Series (``DCTCode``). Neither code pays for a window's mean and standard deviation: both reconstruct the z-scored
window. That window has mean 0, so its DC coefficient (orthonormal DCT-II) is 0 and only the L - 1 AC coefficients
carry information. A ``DCTCode`` keeps k of them, each quantised uniformly to b bits: 2**b cells over
[-clip, clip], reconstruction at the cell centres, values beyond the range clipped; clip is a constant of the code,
not sent per window. Two ways to pick the k:

- low-pass: the first k AC coefficients; the decoder knows which, so the code costs k * b bits;
- adaptive: the k largest in magnitude; which ones is sent as the index of the k-subset among the C(L - 1, k)
  possible (enumerative coding), ceil(log2 C(L - 1, k)) bits, so the code costs k * b + ceil(log2 C(L - 1, k)).

For every b in 1..12 each variant takes the largest k whose cost is at most B; clip is one of a few quantiles of
the kept coefficients' magnitudes. The (variant, b, clip) with the lowest MSE on train windows is the baseline
(``choose_dct_code``).

Images (``BlockAverageCode``). The mean of each channel over each cell of a g x g grid, quantised uniformly to b
bits over [0, 1] (cell centres), costs 3 * g * g * b bits; the decoder upsamples the g x g grid bilinearly to the
image size. ``block_average_code`` takes the token grid (g = floor(sqrt(N)), 8 x 8 for 64 tokens) and the most bits
per value that fit B (768 bits: 8 x 8 x 3 values x 4 bits). The mean colour is the 1 x 1 grid at 8 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.fft import dct, idct

VALUE_BITS = tuple(range(1, 13))
CLIP_QUANTILES = (0.5, 0.75, 0.9, 0.97, 0.99, 1.0)
MEAN_COLOUR_BITS = 8


def uniform_quantise(values, bits: int, low: float, high: float):
    """Uniform ``bits``-bit quantiser over [low, high]: values (any shape, numpy or torch) -> the centres of their
    2**bits equal cells (same shape and type); values outside the range go to the end cells."""
    cells = 2**bits
    step = (high - low) / cells
    lib = torch if isinstance(values, torch.Tensor) else np
    index = lib.clip(lib.floor((values - low) / step), 0, cells - 1)
    return low + (index + 0.5) * step


# ---------------------------------------------------------------------------------------------- series
@dataclass(frozen=True)
class DCTCode:
    """An equal-bit transform code for z-scored windows of ``length`` steps (see the module docstring).

    keep: k AC coefficients kept; value_bits: b bits per kept value; clip: quantiser range [-clip, clip];
    adaptive: keep the k largest (and send which) instead of the first k.
    """

    length: int
    keep: int
    value_bits: int
    clip: float
    adaptive: bool

    @property
    def support_bits(self) -> int:
        """Bits naming the kept coefficients: ceil(log2 C(L - 1, k)) when adaptive, else 0."""
        return math.ceil(math.log2(math.comb(self.length - 1, self.keep))) if self.adaptive else 0

    @property
    def bits(self) -> int:
        """Bits per window: k * b + support bits."""
        return self.keep * self.value_bits + self.support_bits

    @property
    def name(self) -> str:
        kind = "top" if self.adaptive else "first"
        return f"dct ({kind} {self.keep} x {self.value_bits} bits, clip {self.clip:.2f})"

    def quantise(self, values: np.ndarray) -> np.ndarray:
        """Uniform b-bit quantiser over [-clip, clip]: values -> cell centres (same shape)."""
        return uniform_quantise(values, self.value_bits, -self.clip, self.clip)

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        """Windows (W, L), z-scored -> their reconstructions (W, L) from this code's bits."""
        return idct(self.kept_coefficients(dct(windows, norm="ortho", axis=-1), quantised=True), norm="ortho", axis=-1)

    def kept_coefficients(self, coefficients: np.ndarray, quantised: bool) -> np.ndarray:
        """Coefficients (W, L) -> (W, L) with only the kept AC coefficients (quantised or not), the rest 0."""
        ac = coefficients[:, 1:]
        if self.adaptive:
            picked = np.argpartition(-np.abs(ac), self.keep - 1, axis=1)[:, : self.keep]
        else:
            picked = np.broadcast_to(np.arange(self.keep), (len(ac), self.keep))
        values = np.take_along_axis(ac, picked, axis=1)
        out = np.zeros_like(coefficients)
        np.put_along_axis(out[:, 1:], picked, self.quantise(values) if quantised else values, axis=1)
        return out


def largest_keep(length: int, budget: float, value_bits: int, adaptive: bool) -> int:
    """The largest k whose DCT code costs at most ``budget`` bits (0 when not even one coefficient fits)."""
    best = 0
    for keep in range(1, length):
        if DCTCode(length, keep, value_bits, 1.0, adaptive).bits > budget:
            break
        best = keep
    return best


def choose_dct_code(train_windows: np.ndarray, budget: float) -> tuple[DCTCode, pd.DataFrame]:
    """The equal-bit DCT code with the lowest MSE on ``train_windows`` (W, L), z-scored.

    Returns the code and every candidate's train MSE (variant, keep, value_bits, clip, bits, train_mse).
    """
    length = train_windows.shape[1]
    coefficients = dct(train_windows, norm="ortho", axis=-1)
    candidates = []
    for adaptive in (False, True):
        for value_bits in VALUE_BITS:
            keep = largest_keep(length, budget, value_bits, adaptive)
            if keep == 0:
                continue
            probe = DCTCode(length, keep, value_bits, 1.0, adaptive)
            magnitudes = np.abs(probe.kept_coefficients(coefficients, quantised=False)[:, 1:])
            for q in CLIP_QUANTILES:
                clip = float(np.quantile(magnitudes[magnitudes > 0], q))
                code = DCTCode(length, keep, value_bits, clip, adaptive)
                error = idct(code.kept_coefficients(coefficients, quantised=True), norm="ortho", axis=-1) - train_windows
                candidates.append({"variant": "top" if adaptive else "first", "keep": keep, "value_bits": value_bits,
                                   "clip": clip, "bits": code.bits, "train_mse": float(np.mean(error**2)), "code": code})  # fmt: skip
    if not candidates:
        raise ValueError(f"a budget of {budget:.1f} bits per window does not fit even one DCT coefficient")
    table = pd.DataFrame(candidates)
    best = table.loc[table["train_mse"].idxmin(), "code"]
    return best, table.drop(columns="code")


# ---------------------------------------------------------------------------------------------- images
@dataclass(frozen=True)
class BlockAverageCode:
    """Per-channel means over a ``grid`` x ``grid`` grid of cells, each quantised to ``value_bits`` bits over
    [0, 1], upsampled bilinearly by the decoder (see the module docstring)."""

    grid: int
    value_bits: int
    channels: int = 3

    @property
    def bits(self) -> int:
        """Bits per image: channels * grid * grid * value_bits."""
        return self.channels * self.grid**2 * self.value_bits

    @property
    def name(self) -> str:
        if self.grid == 1:
            return f"mean colour ({self.value_bits} bits per channel)"
        return f"block average ({self.grid}x{self.grid} x {self.value_bits} bits)"

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> their reconstructions (B, C, H, W) from this code's bits."""
        means = uniform_quantise(F.adaptive_avg_pool2d(images.float(), self.grid), self.value_bits, 0.0, 1.0)
        if self.grid == 1:
            return means.expand_as(images).clone()
        return F.interpolate(means, size=images.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)


def block_average_code(budget: float, tokens: int, channels: int = 3) -> BlockAverageCode:
    """The block-average code on the token grid (side floor(sqrt(tokens))) with the most bits per value (at most
    12) within ``budget``; a coarser grid when not even 1 bit per value fits."""
    for grid in range(math.isqrt(tokens), 0, -1):
        bits = min(int(budget // (channels * grid**2)), VALUE_BITS[-1])
        if bits >= 1:
            return BlockAverageCode(grid, bits, channels)
    raise ValueError(f"a budget of {budget:.1f} bits per image does not fit even one {channels}-channel mean of 1 bit")


MEAN_COLOUR = BlockAverageCode(grid=1, value_bits=MEAN_COLOUR_BITS)
