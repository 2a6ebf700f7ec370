"""Point-forecast error metrics, as the benchmarks define them.

- ``mse`` / ``mae``: mean over every element (windows, channels, steps), as Time-Series-Library's
  ``utils/metrics.py``; the LTSF protocol applies them to the train-scaled values.
- ``smape``: symmetric MAPE in percent, ``200 * |y - f| / (|y| + |f|)`` averaged over steps (M3/M4
  convention); a step where both are 0 counts as 0 error.
- ``mase``: MAE scaled by the in-sample MAE of the seasonal-naive forecast on the series' own history
  (Hyndman & Koehler 2006, M4); a history shorter than ``period + 1`` falls back to period 1.
- ``normalised_mae``: per dataset MAE / MAE(Naive), aggregated by the geometric mean over datasets
  (Monash / Moirai convention; the arithmetic mean would favour a few easy datasets).
- ``inside_interval``: which targets an interval holds, ends included (its mean is the interval's coverage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _pair(forecast, target) -> tuple[np.ndarray, np.ndarray]:
    forecast, target = np.asarray(forecast, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if forecast.shape != target.shape:
        raise ValueError(f"forecast and target must have the same shape, got {forecast.shape} and {target.shape}")
    if forecast.size == 0:
        raise ValueError("forecast and target are empty")
    if not np.isfinite(forecast).all():
        raise ValueError(f"forecast has {int((~np.isfinite(forecast)).sum())} non-finite values")
    return forecast, target


def mse(forecast, target) -> float:
    """Mean squared error over all elements of same-shaped arrays."""
    forecast, target = _pair(forecast, target)
    return float(np.mean((forecast - target) ** 2))


def mae(forecast, target) -> float:
    """Mean absolute error over all elements of same-shaped arrays."""
    forecast, target = _pair(forecast, target)
    return float(np.mean(np.abs(forecast - target)))


def smape(forecast, target) -> float:
    """Symmetric MAPE in percent (0..200), averaged over all elements."""
    forecast, target = _pair(forecast, target)
    denominator = np.abs(forecast) + np.abs(target)
    ratio = np.divide(np.abs(forecast - target), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(200.0 * ratio.mean())


def mase_scale(history, period: int = 1) -> float:
    """In-sample MAE of the seasonal-naive forecast on ``history (T,)``: the MASE denominator.

    Uses ``period`` when ``T > period``, else period 1. Raises ValueError for a history of fewer than 2
    values or a history whose scale is 0 (a constant series has no defined MASE).
    """
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 1 or history.size < 2:
        raise ValueError(f"history must be a 1-D series of at least 2 values, got shape {history.shape}")
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    lag = period if history.size > period else 1
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    if not scale > 0:
        raise ValueError("history has zero naive in-sample error (constant series), so MASE is undefined")
    return scale


def mase(forecast, target, history, period: int = 1) -> float:
    """MAE of ``forecast (h,)`` against ``target (h,)`` divided by ``mase_scale(history, period)``."""
    return mae(forecast, target) / mase_scale(history, period)


def geometric_mean(values: Sequence[float]) -> float:
    """Geometric mean of positive numbers."""
    values = np.asarray(list(values), dtype=np.float64)
    if values.size == 0 or not (values > 0).all():
        raise ValueError(f"geometric mean needs a non-empty list of positive values, got {values.tolist()}")
    return float(np.exp(np.log(values).mean()))


def normalised_mae(mae_by_dataset: Mapping[str, float], naive_mae_by_dataset: Mapping[str, float]) -> float:
    """Geometric mean over datasets of ``MAE(method) / MAE(Naive)``; both mappings need the same datasets."""
    if set(mae_by_dataset) != set(naive_mae_by_dataset):
        raise ValueError(
            f"datasets differ: method has {sorted(mae_by_dataset)}, naive has {sorted(naive_mae_by_dataset)}"
        )
    return geometric_mean(mae_by_dataset[name] / naive_mae_by_dataset[name] for name in mae_by_dataset)


def inside_interval(low, high, target) -> np.ndarray:
    """Boolean array: ``low <= target <= high`` elementwise (broadcast); its mean is the interval's coverage."""
    target = np.asarray(target)
    return (target >= np.asarray(low)) & (target <= np.asarray(high))
