"""Period detection for folding a context into an image.

``detect_period`` scores candidate periods by the autocorrelation of the linearly detrended context at that lag
(computed with an FFT; the plain, lag-biased estimator, which prefers a fundamental period to its multiples). The
candidates are either given, e.g. derived from the sampling frequency with ``period_candidates("h") -> (24, 168)``
as VisionTS's ``freq_to_seasonality_list`` does, or found as the strongest peaks of the periodogram, each refined
to the best lag within +-10 %. A candidate must fit ``min_cycles`` times into the context; when no candidate
reaches an autocorrelation of ``threshold`` the series is treated as non-seasonal: period 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

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


def _peak_periods(x: np.ndarray, min_cycles: int, top: int = 3) -> list[int]:
    """Periods of the ``top`` strongest periodogram peaks of one row that fit ``min_cycles`` times."""
    length = len(x)
    power = np.abs(np.fft.rfft(detrend(x))) ** 2
    k = np.arange(len(power))
    power[k < min_cycles] = 0  # too few cycles in the context (and the mean)
    best = np.argsort(power)[::-1][:top]
    return sorted({int(round(length / i)) for i in best if power[i] > 0 and round(length / i) >= 2})


def detect_period(
    context: np.ndarray,
    candidates: tuple[int, ...] | list[int] | None = None,
    min_cycles: int = 3,
    threshold: float = 0.2,
) -> np.ndarray | int:
    """Seasonal period of each row of ``context`` (L,) or (B, L), NaN-free; int for (L,), else an int array (B,)."""
    x = np.asarray(context, dtype=np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.ndim != 2:
        raise ValueError(f"context must have shape (L,) or (B, L), got {np.shape(context)}")
    if not np.isfinite(x).all():
        raise ValueError("detect_period needs finite values; fill NaNs first")
    length = x.shape[-1]
    acf = autocorrelation(x)
    periods = np.ones(len(x), dtype=np.int64)
    for row in range(len(x)):
        if candidates is not None:
            lags = [int(p) for p in candidates if 2 <= p and p * min_cycles <= length]
        else:
            lags = []
            for p in _peak_periods(x[row], min_cycles):
                lo, hi = max(2, int(p * 0.9)), min(length // min_cycles, int(np.ceil(p * 1.1)))
                if lo <= hi:
                    lags.append(lo + int(np.argmax(acf[row, lo : hi + 1])))
        if lags:
            best = max(lags, key=lambda p: acf[row, p])
            if acf[row, best] >= threshold:
                periods[row] = best
    return int(periods[0]) if single else periods
