"""Baseline forecasters a user would pick instead of a vision model, behind one interface.

Every forecaster is a callable ``f(context (B, L), horizon, period) -> (B, horizon)`` with a snake_case
``name``, the interface the benchmark runners also use for the pipeline's ``artist`` and ``visionts``.
Two optional attributes tell the runners more:

- ``horizon_free = True``: the forecast for a short horizon is the prefix of the forecast for a long
  one, so a runner may forecast once at the longest horizon (true of every baseline here).
- ``context_length``: how many of the last context values the forecaster reads (reported per dataset).
- ``multivariate = True``: the LTSF runner passes each window's channels together, ``(W, L, C) -> (W, H, C)``,
  instead of one row per channel (a forecaster that detects the period lets the channels of a window share it).

Trivial baselines are vectorised numpy; the statsforecast models (AutoETS, AutoARIMA, AutoTheta) fit
one model per row, in parallel over ``n_jobs`` forked worker processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from einops import rearrange, repeat
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


@runtime_checkable
class Forecaster(Protocol):
    """``context (B, L)`` float (already scaled) -> point forecast ``(B, horizon)``."""

    name: str

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray: ...


INTERVAL = (0.1, 0.9)  # the 80% interval whose coverage the benchmarks report for probabilistic forecasters


def probabilistic(forecaster: Forecaster) -> bool:
    """Whether the forecaster also gives quantiles: ``probabilistic`` is true and ``forecast_quantiles(context,
    horizon, period, quantile_levels) -> (quantiles (B, horizon, Q), point (B, horizon))`` exists (as for
    ``PipelineForecaster`` of a pipeline with a quantile head)."""
    return bool(getattr(forecaster, "probabilistic", False))


def check_context(context, horizon: int, period: int, min_length: int = 1) -> np.ndarray:
    """Validate the forecaster inputs and return ``context`` as a float ``(B, L)`` array."""
    context = np.asarray(context)
    if context.ndim != 2 or not np.issubdtype(context.dtype, np.number):
        raise ValueError(f"context must be a numeric (B, L) array, got shape {context.shape} dtype {context.dtype}")
    if horizon < 1 or period < 1:
        raise ValueError(f"horizon and period must be >= 1, got horizon={horizon}, period={period}")
    if context.shape[1] < min_length:
        raise ValueError(f"context has {context.shape[1]} steps, this forecaster needs at least {min_length}")
    if not np.isfinite(context).all():
        raise ValueError("context contains NaN or inf; fill missing values before forecasting")
    return context


def repeat_profile(profile: np.ndarray, horizon: int) -> np.ndarray:
    """Tile a ``(B, period)`` profile along time and cut it to ``(B, horizon)``."""
    cycles = -(-horizon // profile.shape[1])
    return repeat(profile, "b p -> b (n p)", n=cycles)[:, :horizon]


@dataclass
class Naive:
    """Repeat the last observed value."""

    name: str = "naive"
    horizon_free: bool = True
    context_length: int = 1

    def __call__(self, context, horizon: int, period: int) -> np.ndarray:
        context = check_context(context, horizon, period)
        return np.repeat(context[:, -1:], horizon, axis=1)


@dataclass
class SeasonalNaive:
    """Repeat the last full period; needs ``L >= period``."""

    name: str = "seasonal_naive"
    horizon_free: bool = True

    def __call__(self, context, horizon: int, period: int) -> np.ndarray:
        context = check_context(context, horizon, period, min_length=period)
        return repeat_profile(context[:, -period:], horizon)


@dataclass
class SeasonalMean:
    """Mean of the last ``k`` periods, repeated: the strongest trivial LTSF baseline.

    Choose ``k`` on validation windows with ``seasonal_mean_errors`` (the LTSF runner does), never on test.
    """

    k: int
    name: str = "seasonal_mean"
    horizon_free: bool = True

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"seasonal_mean needs k >= 1 periods, got {self.k}")

    def __call__(self, context, horizon: int, period: int) -> np.ndarray:
        context = check_context(context, horizon, period, min_length=self.k * period)
        cycles = rearrange(context[:, context.shape[1] - self.k * period :], "b (k p) -> b k p", p=period)
        return repeat_profile(cycles.mean(axis=1), horizon)


def seasonal_mean_errors(
    context: np.ndarray, target: np.ndarray, period: int, candidates: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Summed squared and absolute errors of ``SeasonalMean(k)`` for every ``k`` in ``candidates``.

    ``context (B, L)`` with ``L >= max(candidates) * period``, ``target (B, H)``. Returns two arrays of
    shape ``(len(candidates),)``; a cumulative sum over periods makes every ``k`` cost one pass.
    """
    kmax = max(candidates)
    context = check_context(context, target.shape[1], period, min_length=kmax * period).astype(np.float64)
    cycles = rearrange(context[:, context.shape[1] - kmax * period :], "b (k p) -> b k p", p=period)
    running = np.cumsum(cycles[:, ::-1], axis=1)  # running[:, j] = sum of the last j + 1 periods
    squared, absolute = np.empty(len(candidates)), np.empty(len(candidates))
    for i, k in enumerate(candidates):
        error = repeat_profile(running[:, k - 1] / k, target.shape[1]) - target
        squared[i], absolute[i] = np.square(error).sum(), np.abs(error).sum()
    return squared, absolute


# ----------------------------------------------------------------------------- statsforecast models

STATSFORECAST_MODELS = {"auto_ets": "AutoETS", "auto_arima": "AutoARIMA", "auto_theta": "AutoTheta"}
_COMPILED: set[str] = set()  # models already run once in this process


def _statsforecast_class(name: str):
    try:
        import statsforecast.models as models
    except ImportError as err:  # optional dependency (extra "bench")
        raise ImportError(f"{name} needs statsforecast: pip install 'timeartist[bench]'") from err
    return getattr(models, STATSFORECAST_MODELS[name])


def _fit_predict(job: tuple[str, np.ndarray, int, int]) -> tuple[np.ndarray, bool]:
    """Fit one statsforecast model on one series; fall back to seasonal naive if it fails or diverges."""
    name, series, horizon, period = job
    season = period if series.size >= 2 * period else 1  # seasonal fits need two full cycles
    try:
        forecast = _statsforecast_class(name)(season_length=season).forecast(y=series, h=horizon)["mean"]
        if np.isfinite(forecast).all():
            return np.asarray(forecast, dtype=np.float64), False
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
        logger.debug("%s failed on a series (%s); using seasonal naive", name, err)
    return repeat_profile(series[None, -min(period, series.size) :], horizon)[0], True


@dataclass
class StatsForecastModel:
    """One statsforecast model (``auto_ets``, ``auto_arima`` or ``auto_theta``) fitted per row.

    Reads the last ``context_length`` values of each row (``None``: all). Rows run on ``n_jobs`` forked
    processes (``None``: all cores). A row whose fit fails or gives non-finite values gets the seasonal
    naive forecast instead; ``fallbacks`` counts them over the object's lifetime.
    """

    name: str
    context_length: int | None = 336
    n_jobs: int | None = 1
    horizon_free: bool = True
    fallbacks: int = 0

    def __post_init__(self):
        if self.name not in STATSFORECAST_MODELS:
            raise ValueError(f"unknown statsforecast model {self.name!r}; available: {sorted(STATSFORECAST_MODELS)}")
        _statsforecast_class(self.name)  # fail early when statsforecast is missing

    def __call__(self, context, horizon: int, period: int) -> np.ndarray:
        context = check_context(context, horizon, period, min_length=2)
        if self.context_length is not None:
            context = context[:, -self.context_length :]
        jobs = [(self.name, row.astype(np.float64), horizon, period) for row in context]
        workers = min(self.n_jobs or os.cpu_count() or 1, len(jobs))
        progress = dict(total=len(jobs), desc=self.name, leave=False, disable=None)
        if workers <= 1:
            results = [_fit_predict(job) for job in tqdm(jobs, **progress)]
        else:
            results = []
            if self.name not in _COMPILED:  # fit one row in the parent first: forked workers inherit the compiled numba code
                results.append(_fit_predict(jobs[0]))
                _COMPILED.add(self.name)
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results += tqdm(pool.imap(_fit_predict, jobs[len(results) :], chunksize=4), **progress)
        failed = sum(fallback for _, fallback in results)
        if failed:
            logger.warning("%s: %d of %d series fell back to seasonal naive", self.name, failed, len(jobs))
        self.fallbacks += failed
        return np.stack([forecast for forecast, _ in results])


BASELINES = ("naive", "seasonal_naive", "seasonal_mean", *STATSFORECAST_MODELS)


def make_baseline(name: str, *, k: int | None = None, context_length: int | None = 336, n_jobs: int | None = 1) -> Forecaster:
    """Build a baseline by snake_case name; ``seasonal_mean`` needs ``k`` (choose it on validation data)."""
    if name == "naive":
        return Naive()
    if name == "seasonal_naive":
        return SeasonalNaive()
    if name == "seasonal_mean":
        if k is None:
            raise ValueError("seasonal_mean needs k (number of periods); choose it on validation windows")
        return SeasonalMean(k)
    if name in STATSFORECAST_MODELS:
        return StatsForecastModel(name, context_length=context_length, n_jobs=n_jobs)
    raise ValueError(f"unknown baseline {name!r}; available: {', '.join(BASELINES)}")
