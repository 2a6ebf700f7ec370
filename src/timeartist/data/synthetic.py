"""Synthetic series for pretraining tokenizers and forecasters: unlimited, seeded, deterministic.

Sample ``i`` of a generator with seed ``s`` depends only on ``(s, i)``, so any worker or node can produce
any sample and a run is reproducible. Two families are mixed:

- **Structural**: trend (linear, piecewise-linear, damped) + one to three seasonalities with realistic
  periods (24, 168, 7, 12, 96, 52, ... or random) whose shapes are random Fourier series or sharp
  bumps (rush hours, weekly peaks), combined additively or multiplicatively with the level, slowly
  modulated amplitudes, level shifts, and white / AR(1) noise with occasional spikes.
- **KernelSynth** (Ansari et al. 2024, Chronos): a draw from a Gaussian process whose kernel is a random
  sum / product of up to ``max_kernels`` kernels from a bank (periodic, RBF, rational quadratic, linear,
  white noise, constant) on ``x = linspace(0, 1, length)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.utils.data import IterableDataset, get_worker_info

# Periods of real data: hourly day / week, daily week, monthly year, 15-min day, weekly year, ...
COMMON_PERIODS = (24, 168, 7, 12, 96, 52, 4, 48, 144, 288, 30, 365)


@dataclass(frozen=True)
class SyntheticConfig:
    """Mixture settings. A KernelSynth draw costs O(length^3) (about 15 ms at 512 on one core, 30x a
    structural one), so lower ``kernel_prob`` for long windows or a CPU-bound data pipeline."""

    length: int = 512
    kernel_prob: float = 0.3  # share of KernelSynth samples; the rest are structural
    seasonal_prob: float = 0.9  # share of structural samples with at least one seasonality
    max_kernels: int = 5
    periods: tuple[int, ...] = COMMON_PERIODS
    random_period_prob: float = 0.25  # else a period from `periods`
    max_seasonalities: int = 3
    multiplicative_prob: float = 0.35
    level_shift_prob: float = 0.25
    spike_prob: float = 0.15
    normalize: bool = True  # z-score every sample (mean 0, std 1)

    def __post_init__(self):
        if self.length < 8:
            raise ValueError(f"length must be at least 8, got {self.length}")
        if not (0 <= self.kernel_prob <= 1 and 0 <= self.seasonal_prob <= 1) or self.max_kernels < 1 or self.max_seasonalities < 1:
            raise ValueError("need kernel_prob and seasonal_prob in [0, 1], max_kernels >= 1 and max_seasonalities >= 1")
        if not self.periods or min(self.periods) < 2:
            raise ValueError(f"periods must be a non-empty tuple of integers >= 2, got {self.periods}")


# ---- structural series -------------------------------------------------------------------------------


def _trend(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Total change over the window ~ N(0, 1) in units of the seasonal amplitude; various shapes."""
    kind = rng.choice(["flat", "linear", "piecewise", "damped"], p=[0.2, 0.35, 0.3, 0.15])
    u = t / t[-1]
    if kind == "flat":
        return np.zeros_like(u)
    if kind == "linear":
        return rng.normal(0, 1.0) * u
    if kind == "piecewise":
        knots = np.sort(rng.uniform(0, 1, rng.integers(1, 4)))
        slopes = rng.normal(0, 1.5, len(knots) + 1)
        return np.interp(u, np.r_[0, knots, 1], np.r_[0, np.cumsum(slopes * np.diff(np.r_[0, knots, 1]))])
    return rng.normal(0, 1.0) * (1 - np.exp(-u * rng.uniform(2, 8)))


def _seasonal_shape(phase: np.ndarray, rng: np.random.Generator, max_harmonics: int) -> np.ndarray:
    """A periodic pattern of ``phase`` in [0, 1), std ~ 1: smooth Fourier series or sharp bumps."""
    if rng.random() < 0.7:
        harmonics = rng.integers(1, max(2, max_harmonics) + 1)
        k = np.arange(1, harmonics + 1)[:, None]
        amplitude = rng.normal(0, 1, (harmonics, 1)) / k ** rng.uniform(0.5, 2.0)
        shape = (amplitude * np.sin(2 * np.pi * k * phase + rng.uniform(0, 2 * np.pi, (harmonics, 1)))).sum(0)
    else:  # one to three peaks per period, e.g. morning / evening rush hours
        centers = rng.uniform(0, 1, rng.integers(1, 4))
        widths = rng.uniform(0.02, 0.15, len(centers))
        heights = rng.uniform(0.3, 1.0, len(centers))
        distance = np.abs(phase[None] - centers[:, None])
        distance = np.minimum(distance, 1 - distance)  # circular
        shape = (heights[:, None] * np.exp(-0.5 * (distance / widths[:, None]) ** 2)).sum(0)
    return (shape - shape.mean()) / (shape.std() + 1e-8)


def _seasonality(t: np.ndarray, config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    count = rng.integers(1, config.max_seasonalities + 1)
    total = np.zeros_like(t)
    for j in range(count):
        if rng.random() < config.random_period_prob:
            period = float(rng.uniform(3, len(t) / 2))
        else:
            period = float(rng.choice(config.periods))
        phase = ((t + rng.uniform(0, period)) / period) % 1.0
        shape = _seasonal_shape(phase, rng, max_harmonics=min(8, int(period // 2)))
        amplitude = rng.lognormal(0, 0.4) * (0.6**j)  # the first seasonality dominates
        if rng.random() < 0.3:  # slowly varying strength
            amplitude = amplitude * (1 + rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * t / rng.uniform(len(t), 4 * len(t)) + rng.uniform(0, 6.3)))
        total += amplitude * shape
    return total


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    # Imported here: scipy.signal costs a second at import, and every command that loads a pipeline imports this
    # package (timeartist.data), while only training draws synthetic series.
    from scipy.signal import lfilter

    white = rng.normal(0, 1, n)
    if rng.random() < 0.4:  # AR(1): noise that wanders
        phi = rng.uniform(0.3, 0.95)
        white = lfilter([np.sqrt(1 - phi**2)], [1, -phi], white)
    return white


def structural_series(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """One structural series ``(length,)`` float64 (not normalised)."""
    n = config.length
    t = np.arange(n, dtype=np.float64)
    seasonal = _seasonality(t, config, rng) if rng.random() < config.seasonal_prob else np.zeros(n)
    trend = _trend(t, rng) * rng.lognormal(0, 0.7)
    if rng.random() < config.multiplicative_prob:
        level = 3.0 + trend - min(0.0, trend.min())  # positive level; seasonal swing grows with it
        series = level * (1 + rng.uniform(0.1, 0.3) * seasonal)
        noise_scale = level * rng.uniform(0.01, 0.1)
    else:
        series = trend + seasonal
        noise_scale = rng.uniform(0.02, 0.5)
    if rng.random() < config.level_shift_prob:
        for at in rng.integers(n // 10, n, rng.integers(1, 4)):
            series[at:] += rng.normal(0, 1.0) * (series.std() + 1e-3)
    series += noise_scale * _noise(n, rng)
    if rng.random() < config.spike_prob:
        at = rng.integers(0, n, rng.integers(1, 6))
        series[at] += rng.choice([-1, 1], len(at)) * rng.uniform(2, 5, len(at)) * (series.std() + 1e-3)
    return series


# ---- KernelSynth --------------------------------------------------------------------------------------


def _kernel_bank(length: int) -> list:
    """Kernels as functions of ``x (n, 1)`` -> ``(n, n)``; periodic ones use periods in samples / length."""
    periods = (24, 48, 96, 168, 336, 672, 7, 14, 30, 60, 365, 730, 4, 26, 52, 6, 12, 40, 10)

    def periodic(p):
        return lambda x: np.exp(-2 * np.sin(np.pi * np.abs(x - x.T) / (p / length)) ** 2)

    def rbf(scale):
        return lambda x: np.exp(-0.5 * ((x - x.T) / scale) ** 2)

    def rational_quadratic(alpha):
        return lambda x: (1 + (x - x.T) ** 2 / (2 * alpha)) ** -alpha

    def linear(sigma0):
        return lambda x: sigma0**2 + x @ x.T

    def white(level):
        return lambda x: level * np.eye(len(x))

    return (
        [periodic(p) for p in periods]
        + [rbf(s) for s in (0.1, 1.0, 10.0)]
        + [rational_quadratic(a) for a in (0.1, 1.0, 10.0)]
        + [linear(s) for s in (0.0, 1.0, 10.0)]
        + [white(level) for level in (0.1, 1.0)]
        + [lambda x: np.ones((len(x), len(x)))]
    )


def kernel_synth_series(config: SyntheticConfig, rng: np.random.Generator, bank: list) -> np.ndarray:
    """One GP draw ``(length,)`` with a random composite kernel (KernelSynth)."""
    x = np.linspace(0, 1, config.length)[:, None]
    picks = rng.integers(0, len(bank), rng.integers(1, config.max_kernels + 1))
    cov = bank[picks[0]](x)
    for pick in picks[1:]:
        cov = cov + bank[pick](x) if rng.random() < 0.5 else cov * bank[pick](x)
    noise = rng.normal(0, 1, config.length)
    jitter = 1e-6 * max(1.0, float(np.abs(np.diag(cov)).mean()))
    # One BLAS thread: on a few shared cores a threaded Cholesky of this size is ~10x slower, not faster.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(6):
            try:
                return np.linalg.cholesky(cov + jitter * np.eye(config.length)) @ noise
            except np.linalg.LinAlgError:
                jitter *= 10  # numerically singular (e.g. smooth products): regularise harder
        eigenvalues, vectors = np.linalg.eigh(cov)
        return vectors @ (np.sqrt(np.clip(eigenvalues, 0, None)) * noise)


# ---- public generator and dataset ---------------------------------------------------------------------


class SyntheticSeriesGenerator:
    """``gen.sample(i) -> (length,)`` float32, a pure function of ``(seed, i)``; ``gen.batch(start, n) -> (n, length)``."""

    def __init__(self, config: SyntheticConfig | None = None, seed: int = 0):
        self.config = config or SyntheticConfig()
        self.seed = int(seed)
        self._bank = _kernel_bank(self.config.length)

    def sample(self, index: int) -> np.ndarray:
        if index < 0:
            raise ValueError(f"sample index must be >= 0, got {index}")
        rng = np.random.default_rng([self.seed, int(index)])
        if rng.random() < self.config.kernel_prob:
            series = kernel_synth_series(self.config, rng, self._bank)
        else:
            series = structural_series(self.config, rng)
        if self.config.normalize:
            series = (series - series.mean()) / (series.std() + 1e-8)
        return series.astype(np.float32)

    def batch(self, start: int, count: int) -> np.ndarray:
        """Samples ``start .. start + count - 1`` stacked: ``(count, length)``."""
        return np.stack([self.sample(start + i) for i in range(count)])


class SyntheticSeriesDataset(IterableDataset):
    """Unlimited stream of ``(length,)`` float32 tensors.

    DataLoader workers and distributed ranks take disjoint interleaved sample indices (no sample is
    produced twice), and each sample depends only on ``(seed, index)``.
    """

    def __init__(self, config: SyntheticConfig | None = None, seed: int = 0, start: int = 0):
        self.generator = SyntheticSeriesGenerator(config, seed)
        self.start = start

    def __iter__(self) -> Iterator[torch.Tensor]:
        worker = get_worker_info()
        worker_id, num_workers = (worker.id, worker.num_workers) if worker else (0, 1)
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        stride = num_workers * world
        index = self.start + rank * num_workers + worker_id
        while True:
            yield torch.from_numpy(self.generator.sample(index))
            index += stride
