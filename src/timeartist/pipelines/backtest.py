"""In-context backtests: a context's own recent past decides how to forecast it.

Each context (L,) is cut at a few origins before its end; whatever is being decided forecasts the stretch after each
origin from the part before it, and the errors (mean absolute error, so a spike does not decide alone) are compared.

``choose_periods`` decides the period a series is folded by: the period ``detect_period`` found, or a calendar period
that backtests far better (a day's week, a week's year, a day that detection missed), so no timestamp is needed and
the values decide. A period p
is scored by the mean of its last periods (``seasonal_mean``) forecasting the stretch after each of up to ``ORIGINS``
origins.

``simple_forecasts`` are the rules a user tries first (naive, drift, the mean, seasonal naive and seasonal mean at the
chosen period); the forecaster checks itself against them on the same backtests (``forecasting``).

Shapes: rows (N, L) float64, already free of NaNs; forecasts (N, H).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import f as f_distribution

# The principal seasons of common sampling frequencies: (daily, weekly) for 5, 10, 15, 30 minutes and hours, (weekly,
# yearly) for days, yearly for weeks, months and quarters.
SEASONAL_PERIODS = (4, 7, 12, 24, 48, 52, 96, 144, 168, 288, 336, 365, 672, 1008, 2016)
ORIGINS = 3  # backtest origins at L - k * stretch, k = 1 ... 3, where the history before them holds a period
MAX_CYCLES = 8  # seasonal_mean averages at most this many of the last periods
# A calendar period must halve the error of the detected one: on the ETT validation windows (and GIFT's ett1) the
# week's mean is at best 0.79 (0.57) times the day's, on the validation instance of the known-answer suite at most
# 0.30 times (``evaluation.sanity``, seed 1, weekly and yearly classes).
SWITCH_RATIO = 0.5
# A context holding fewer cycles of its period than this keeps the period only where the season backtests better than
# the non-seasonal rules: random walks and trends show 4-11 "cycles" of 45-132 steps to the autocorrelation (the
# suite's seed 1: random walk 1.347 -> 1.078; ETT validation with detection 0.7442 -> 0.7320, M1/M3 histories
# unchanged). Longer seasonal contexts are left alone: there the test cost ETT 0.048 MSE with detection.
LONG_SEASONAL = 28


def seasonal_mean(rows: np.ndarray, horizon: int, period: int, periods: int) -> np.ndarray:
    """Contexts (N, L), L >= periods * period -> the mean of their last ``periods`` periods, repeated (N, horizon)."""
    profile = rows[:, rows.shape[1] - periods * period :].reshape(len(rows), periods, period).mean(axis=1)
    return np.tile(profile, (1, -(-horizon // period)))[:, :horizon]


def season_pvalue(rows: np.ndarray, period: int) -> np.ndarray:
    """p-value (N,) of a season of ``period`` in contexts (N, L): two-way analysis of variance of the last whole
    cycles (cycle x phase, after the context's line and each cycle's own mean are removed, so trends and slow level
    changes do not count), the phase
    means' F statistic against F(p - 1, (k - 1)(p - 1)) for k cycles. 1 where fewer than two cycles fit."""
    rows = np.asarray(rows, dtype=np.float64)
    cycles = rows.shape[1] // period
    if period < 2 or cycles < 2:
        return np.ones(len(rows))
    x = rows[:, rows.shape[1] - cycles * period :]
    t = np.arange(x.shape[1]) - (x.shape[1] - 1) / 2
    x = x - x.mean(axis=1, keepdims=True) - np.outer((x @ t) / (t @ t), t)  # a line would draw a ramp in every cycle
    x = x.reshape(len(rows), cycles, period)
    x = x - x.mean(axis=2, keepdims=True)
    profile = x.mean(axis=1, keepdims=True)
    between = cycles * (profile**2).sum(axis=(1, 2)) / (period - 1)
    within = ((x - profile) ** 2).sum(axis=(1, 2)) / ((cycles - 1) * (period - 1))
    return f_distribution.sf(between / np.maximum(within, np.finfo(np.float64).tiny), period - 1, (cycles - 1) * (period - 1))


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


def _backtest_errors(rows: np.ndarray, stretch: int, periods) -> dict[int, np.ndarray]:
    """Mean absolute error (N,) of ``seasonal_mean`` at each period of ``periods`` (1: the better of the last value and
    the mean of the last stretch) over the stretches after ``backtest_origins``; inf where no origin has a period of
    history."""
    count, length = rows.shape
    totals = {int(p): np.zeros(count) for p in periods}
    used = dict.fromkeys(totals, 0)
    for origin in backtest_origins(length, stretch):
        past, target = rows[:, :origin], rows[:, origin : origin + stretch]
        for period in totals:
            if period == 1:
                recent = past[:, -min(origin, stretch) :].mean(axis=1, keepdims=True)
                error = np.minimum(np.abs(past[:, -1:] - target).mean(axis=1), np.abs(recent - target).mean(axis=1))
            elif period <= origin:
                error = np.abs(seasonal_mean(past, stretch, period, min(MAX_CYCLES, origin // period)) - target).mean(axis=1)
            else:
                continue
            totals[period] += error
            used[period] += 1
    return {p: totals[p] / used[p] if used[p] else np.full(count, np.inf) for p in totals}


def choose_periods(rows: np.ndarray, horizon: int, detected: np.ndarray) -> np.ndarray:
    """The period to fold each context by: rows (N, L), the detected periods (N,) -> periods (N,).

    First no period is invented: a detected period the context holds fewer than ``LONG_SEASONAL`` cycles of, whose
    season backtests worse than none, becomes 1 (none).
    Then the calendar periods (``SEASONAL_PERIODS``) that fit twice into the context, the detected period and none (1,
    scored by the non-seasonal rules) are backtested on the same stretches of max(horizon, the longest candidate)
    steps (at most L // 4). The calendar period with the lowest error replaces the detected one where its error is
    below ``SWITCH_RATIO`` times the detected one's: a day's week where weekdays are unlike weekends, a year, a day
    that detection split or missed in a short context; a noisy or drifting season never halves the error, so there
    the detection's choice stands."""
    rows = np.asarray(rows, dtype=np.float64)
    chosen = np.asarray(detected, dtype=int).copy()
    length = rows.shape[1]
    candidates = sorted(p for p in SEASONAL_PERIODS if 2 * p <= length)
    if not candidates or length < 8:
        return chosen
    stretch = max(1, min(max(horizon, candidates[-1]), length // 4))
    errors = _backtest_errors(rows, stretch, {1, *candidates, *np.unique(chosen).tolist()})
    incumbent = np.stack([errors[int(p)][i] for i, p in enumerate(chosen)])
    invented = (chosen > 1) & (length // np.maximum(chosen, 1) < LONG_SEASONAL) & (incumbent > errors[1])
    chosen, incumbent = np.where(invented, 1, chosen), np.where(invented, errors[1], incumbent)
    scores = np.stack([errors[p] for p in candidates])  # (candidates, N)
    best = scores.argmin(axis=0)  # ties: the shorter period
    switch = scores[best, np.arange(len(rows))] < SWITCH_RATIO * incumbent
    return np.where(switch, np.asarray(candidates)[best], chosen)
