"""In-context backtests: a context's own recent past decides how to forecast it.

Each context (L,) is cut at a few origins before its end; whatever is being decided forecasts the stretch after each
origin from the part before it, and the errors (mean absolute error, so a spike does not decide alone) are compared.

``choose_periods`` decides the period a series is folded by (1: none). Candidates: the period ``detect_period``
found and the principal seasonal periods of the common sampling frequencies (``SEASONAL_PERIODS``: 24 and 168 for
hourly data, 96 and 672 for quarter hours, 7 and 365 for days, ...), so no timestamp is needed and the values decide.
A candidate p is scored by the mean of its last periods (``seasonal_mean``) forecasting the stretch after each of up
to ``ORIGINS`` origins, relative to the better of two non-seasonal rules on the same stretches (the last value, the
mean of the last stretch). The series is seasonal only if the best candidate beats them by
``NO_PERIOD_RATIO``; the detected period is kept unless another candidate is better by ``KEEP_DETECTED``.

``simple_forecasts`` are the rules a user tries first (naive, drift, the mean, seasonal naive and seasonal mean at the
chosen period); the forecaster checks itself against them on the same backtests (``forecasting``).

Shapes: rows (N, L) float64, already free of NaNs; forecasts (N, H).
"""

from __future__ import annotations

import numpy as np

# The principal seasons of common sampling frequencies: (daily, weekly) for 5, 10, 15, 30 minutes and hours, (weekly,
# yearly) for days, yearly for weeks, months and quarters.
SEASONAL_PERIODS = (288, 2016, 144, 1008, 96, 672, 48, 336, 24, 168, 7, 365, 52, 12, 4)
ORIGINS = 3  # backtest origins at L - k * stretch, k = 1 ... 3, where the history before them holds a period
MAX_CYCLES = 8  # seasonal_mean averages at most this many of the last periods
NO_PERIOD_RATIO = 0.9  # a period must cut the non-seasonal rules' backtest error by 10%
KEEP_DETECTED = 0.9  # another candidate replaces the detected period only if 10% better


def seasonal_mean(rows: np.ndarray, horizon: int, period: int, periods: int) -> np.ndarray:
    """Contexts (N, L), L >= periods * period -> the mean of their last ``periods`` periods, repeated (N, horizon)."""
    profile = rows[:, rows.shape[1] - periods * period :].reshape(len(rows), periods, period).mean(axis=1)
    return np.tile(profile, (1, -(-horizon // period)))[:, :horizon]


def simple_forecasts(rows: np.ndarray, horizon: int, period: int) -> dict[str, np.ndarray]:
    """The simple rules for contexts (N, L) with one seasonal ``period`` (1: none): naive (the last value), drift (the
    line through the first and last values), mean, and for period > 1 that fits the context, seasonal naive (the last
    period repeated) and seasonal mean (of the last ``MAX_CYCLES`` periods at most). Each (N, horizon)."""
    length = rows.shape[1]
    steps = np.arange(1, horizon + 1)
    out = {
        "naive": np.repeat(rows[:, -1:], horizon, axis=1),
        "drift": rows[:, -1:] + steps * (rows[:, -1:] - rows[:, :1]) / max(length - 1, 1),
        "mean": np.repeat(rows.mean(axis=1, keepdims=True), horizon, axis=1),
    }
    if 1 < period <= length:
        out["seasonal_naive"] = seasonal_mean(rows, horizon, period, 1)
        out["seasonal_mean"] = seasonal_mean(rows, horizon, period, min(MAX_CYCLES, length // period))
    return out


def backtest_origins(length: int, stretch: int, history: int = 1, count: int = ORIGINS) -> list[int]:
    """Origins L - k * stretch (k = 1 ... count, latest first) with at least ``history`` steps before them."""
    return [length - k * stretch for k in range(1, count + 1) if length - k * stretch >= max(history, 1)]


def choose_periods(rows: np.ndarray, horizon: int, detected: np.ndarray) -> np.ndarray:
    """The period to fold each context by: rows (N, L), the detected periods (N,) -> periods (N,), 1 = non-seasonal
    (see the module docstring). Every candidate is scored on the same stretches of max(horizon, the longest candidate
    that fits twice) steps, at most L // 4, so a short and a long period are judged on the same data."""
    rows = np.asarray(rows, dtype=np.float64)
    detected = np.asarray(detected, dtype=int)
    count, length = rows.shape
    candidates = sorted(p for p in set(SEASONAL_PERIODS) | set(detected[detected > 1].tolist()) if 2 * p <= length)
    if not candidates or length < 8:
        return np.ones(count, dtype=int)
    stretch = min(max(horizon, candidates[-1]), length // 4)
    origins = backtest_origins(length, stretch, history=min(candidates))
    seasonal = np.zeros((count, len(candidates)))
    reference = np.zeros((count, len(candidates)))
    used = np.zeros(len(candidates))
    for origin in origins:
        past, target = rows[:, :origin], rows[:, origin : origin + stretch]
        recent = past[:, -min(origin, stretch) :].mean(axis=1, keepdims=True)
        flat = np.minimum(np.abs(past[:, -1:] - target).mean(axis=1), np.abs(recent - target).mean(axis=1))
        for j, period in enumerate(candidates):
            if period <= origin:
                cycles = min(MAX_CYCLES, origin // period)
                seasonal[:, j] += np.abs(seasonal_mean(past, stretch, period, cycles) - target).mean(axis=1)
                reference[:, j] += flat
                used[j] += 1
    ratios = np.where(used > 0, seasonal / np.maximum(reference, np.finfo(np.float64).tiny), np.inf)
    allowed = np.isin(np.asarray(candidates)[None, :], SEASONAL_PERIODS) | (np.asarray(candidates)[None, :] == detected[:, None])
    ratios = np.where(allowed, ratios, np.inf)
    best = ratios.argmin(axis=1)  # ties: the shorter period (candidates are sorted)
    chosen = np.asarray(candidates)[best]
    best_ratio = ratios[np.arange(count), best]
    for i in np.flatnonzero(np.isin(detected, candidates)):  # keep the detected period unless clearly beaten
        if ratios[i, candidates.index(detected[i])] * KEEP_DETECTED <= best_ratio[i]:
            chosen[i] = detected[i]
    return np.where(best_ratio <= NO_PERIOD_RATIO, chosen, 1).astype(int)
