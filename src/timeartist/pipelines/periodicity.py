"""Period detection for folding a context into an image.

``detect_period`` reads the autocorrelation function (ACF) of the linearly detrended context (computed with an
FFT; the plain, lag-biased estimator). A lag p is scored by its *prominence*, acf[p] - (acf[p/2] + acf[3p/2]) / 2:
a seasonal period is a peak of the ACF between troughs, while a wandering level (a random walk, a slow cycle)
only makes the ACF decay smoothly and scores about 0 at every lag, which plain ACF values do not tell apart from
seasonality. Among the ACF's local maxima, the period is

1. the shortest lag whose prominence is at least ``relative`` times the best one (the fundamental, not one of its
   multiples, which are peaks too);
2. doubled while the ACF at twice the lag is clearly higher (a day with two humps first peaks at half a day);
3. refined to the lag within +-2 whose first four multiples have the highest mean ACF (a comb: 23 and 25 drift out
   of phase over several cycles where 24 does not);
4. reduced to its fundamental: in the ACF of the context minus its moving average over one such period (which
   removes whatever varies more slowly than the period, such as the weeks-long swings under a daily cycle that
   keep lag 24 from being a peak of the plain ACF of 2,880 hourly steps), the shortest lag that divides the period
   (to within one step per cycle) and scores at least ``relative`` times the best such lag, refined as in 3.

Given ``candidates`` (e.g. from the sampling frequency, ``period_candidates("h") -> (24, 168)``, as VisionTS's
``freq_to_seasonality_list``), only those lags compete, by the same rule 1. A period must fit ``min_cycles`` times
into the context; when no lag reaches a prominence of ``threshold`` the series is non-seasonal: period 1. The
default threshold, max(0.05, 2.5 * sqrt(1.5 / L)), is 2.5 standard deviations of a prominence under white noise;
it errs towards finding a period, which costs a column-averaging forecaster little on a non-seasonal series
(white noise of 720 steps: period 1 in 38%; a random walk: 76%), while missing a real one costs a flat forecast.

Rule 4 was chosen on the ETTh1 / ETTh2 / ETTm1 validation splits (contexts of 720 to 2,880 steps, every 97th window
of the hourly sets and every 389th of ETTm1, 4 horizons, the bundled model): it lowered the forecast MSE with the
period detected in 8 of the 9 (set, context) cells, e.g. ETTh2 at 2,880 steps from 0.484 to 0.431 (0.380 with the
period given), and raised it on ETTm1 at 2,880 steps from 0.654 to 0.662.

Measured on ETTh1 / ETTh2 test windows of 720 to 2,880 hourly steps (every 97th, all channels), this rule finds the
daily period 24 in 68-82% of them where the previous one (plain ACF over periodogram peaks, threshold 0.2) found it
in 60-77%, with period 1 (a flat forecast) in at most 10% instead of up to 31%.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

# Seasonal periods per base frequency, in units of that frequency (before dividing by its multiple, e.g. 15min).
_PERIODS_PER_UNIT = {
    "s": (3600, 86400, 60),
    "min": (1440, 10080, 60),
    "h": (24, 168),
    "D": (7, 30, 365),
    "B": (5, 21, 252),
    "W": (52, 4),
    "M": (12, 3),
    "Q": (4,),
    "Y": (),
}
DOUBLING_MARGIN = 0.02
NOISE_Z = 2.5
COMB_MULTIPLES = 4
MIN_FUNDAMENTAL_SEARCH = 4  # rule 4 looks for divisors of periods from this length on
_ALIASES = {"T": "min", "H": "h", "S": "s", "C": "B", "A": "Y", "ME": "M", "MS": "M", "QE": "Q", "QS": "Q", "YE": "Y", "YS": "Y"}


def period_candidates(freq: str) -> tuple[int, ...]:
    """Seasonal periods (in steps) that a sampling frequency suggests, most common first, e.g. ``"15min"`` ->
    ``(96, 672, 4)``, ``"h"`` -> ``(24, 168)``, ``"M"`` -> ``(12, 3)``; ``()`` for yearly data."""
    try:
        with warnings.catch_warnings():  # pandas deprecates some aliases ("M", "Y") that users still pass
            warnings.simplefilter("ignore", FutureWarning)
            offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as error:
        raise ValueError(f"unknown frequency {freq!r}; expected a pandas offset alias such as 'h', '15min', 'D', 'W', 'M'") from error
    base = offset.name.split("-")[0]  # "W-SUN" -> "W"
    base = _ALIASES.get(base, base)
    if base not in _PERIODS_PER_UNIT:
        raise ValueError(f"no seasonal periods known for frequency {freq!r} (base {base!r}); pass the period explicitly")
    periods = (p / offset.n for p in _PERIODS_PER_UNIT[base])
    return tuple(int(p) for p in periods if p >= 2 and p == int(p))


def detrend(x: np.ndarray) -> np.ndarray:
    """Rows (B, L) minus their least-squares line."""
    x = np.asarray(x, dtype=np.float64)
    t = np.arange(x.shape[-1]) - (x.shape[-1] - 1) / 2
    slope = (x * t).sum(-1, keepdims=True) / max((t * t).sum(), 1e-12)
    return x - x.mean(-1, keepdims=True) - slope * t


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Biased autocorrelation of linearly detrended rows: (B, L) -> (B, L), lag 0 equals 1 (0 for flat rows)."""
    x = detrend(x)
    length = x.shape[-1]
    spectrum = np.fft.rfft(x, n=2 * length)
    acov = np.fft.irfft(spectrum * spectrum.conj(), n=2 * length)[..., :length]
    return acov / np.maximum(acov[..., :1], np.finfo(np.float64).tiny)  # no absolute floor: scale-free


def _prominence(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """(B, L) ACF, (P,) lags -> (B, P) prominence acf[p] - (acf[p/2] + acf[3p/2]) / 2, -inf where p is no local max."""
    last = acf.shape[-1] - 1
    half, three_halves = np.rint(lags / 2).astype(int), np.minimum(np.rint(1.5 * lags).astype(int), last)
    score = acf[:, lags] - 0.5 * (acf[:, half] + acf[:, three_halves])
    peak = (acf[:, lags] >= acf[:, lags - 1]) & (acf[:, lags] >= acf[:, np.minimum(lags + 1, last)])
    return np.where(peak, score, -np.inf)


def _refine(acf: np.ndarray, period: int, longest: int) -> int:
    """Rules 2 and 3 of the module docstring for one row's ACF (L,)."""
    while 2 * period <= longest and acf[2 * period] > acf[period] + DOUBLING_MARGIN:
        period *= 2

    def comb(lag: int) -> float:
        return float(acf[lag * np.arange(1, min(COMB_MULTIPLES, longest // lag) + 1)].mean())

    return max(range(max(2, period - 2), min(longest, period + 2) + 1), key=comb)


def _fundamental(row: np.ndarray, period: int, longest: int, relative: float, threshold: float) -> int:
    """Rule 4 of the module docstring for one row (L,) of the context and its period from rules 1-3."""
    seasonal = row - uniform_filter1d(row, size=period, mode="nearest")
    acf = autocorrelation(seasonal[None])
    divisors = np.array([q for q in range(2, period + 1) if abs(period - round(period / q) * q) <= round(period / q)])
    score = _prominence(acf, divisors)[0]
    best = score.max()
    if not best >= threshold:  # also -inf: no divisor is a peak once the slow part is gone
        return period
    return _refine(acf[0], int(divisors[np.argmax(score >= relative * best)]), longest)


def detect_period(
    context: np.ndarray,
    candidates: tuple[int, ...] | list[int] | None = None,
    min_cycles: int = 3,
    threshold: float | None = None,
    relative: float = 0.5,
) -> np.ndarray | int:
    """Seasonal period of each row of ``context`` (L,) or (B, L), NaN-free; int for (L,), else an int array (B,).

    See the module docstring for the rule; ``candidates`` restricts it to those lags (rule 1 only)."""
    x = np.asarray(context, dtype=np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.ndim != 2:
        raise ValueError(f"context must have shape (L,) or (B, L), got {np.shape(context)}")
    if not np.isfinite(x).all():
        raise ValueError("detect_period needs finite values; fill NaNs first")
    longest = x.shape[-1] // min_cycles
    if candidates is not None:
        lags = np.array(sorted({int(p) for p in candidates if 2 <= p <= longest}), dtype=int)
    else:
        lags = np.arange(2, longest + 1)
    periods = np.ones(len(x), dtype=np.int64)
    if lags.size == 0:
        return int(periods[0]) if single else periods
    if threshold is None:
        threshold = max(0.05, NOISE_Z * np.sqrt(1.5 / x.shape[-1]))
    acf = autocorrelation(x)
    score = _prominence(acf, lags)
    best = score.max(axis=1)
    shortest = lags[np.argmax(score >= relative * best[:, None], axis=1)]
    for row in np.flatnonzero(best >= threshold):
        if candidates is not None:
            periods[row] = shortest[row]
            continue
        period = _refine(acf[row], int(shortest[row]), longest)
        periods[row] = _fundamental(x[row], period, longest, relative, threshold) if period >= MIN_FUNDAMENTAL_SEARCH else period
    return int(periods[0]) if single else periods
