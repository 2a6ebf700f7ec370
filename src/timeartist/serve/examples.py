"""Example data for the playground, generated on the fly (seeded, so every start shows the same series).

Series: three shapes a forecaster meets in practice, each a frame with a time column and a value column, as an
uploaded file would give. Classification: three classes of noisy waves of random frequency and phase, one series a
row with a label column, split into TRAIN and TEST as the Classify tab expects its two uploads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """x[t] = phi * x[t-1] + shocks[t]: noise that wanders (numpy only; scipy.signal would cost the server's start
    a second)."""
    out = np.empty_like(shocks)
    level = 0.0
    for t, shock in enumerate(shocks):
        out[t] = level = phi * level + shock
    return out


def _hourly_load(rng: np.random.Generator) -> pd.DataFrame:
    """2,000 hours of an electricity load: morning and evening peaks, quieter weekends, a slow drift, AR(1) noise."""
    hours = pd.date_range("2024-01-01", periods=2000, freq="h")
    hour, weekday = hours.hour.to_numpy(), hours.dayofweek.to_numpy()
    daily = np.exp(-((hour - 8) ** 2) / 6) + 1.3 * np.exp(-((hour - 19) ** 2) / 8)
    weekly = np.where(weekday >= 5, 0.7, 1.0)
    noise = _ar1(rng.normal(0, 0.06, len(hours)), 0.7)
    load = 500 + 220 * daily * weekly + 15 * np.sin(np.arange(len(hours)) * 2 * np.pi / 1500) + 60 * noise
    return pd.DataFrame({"ds": hours, "load_mw": load.round(2)})


def _monthly_sales(rng: np.random.Generator) -> pd.DataFrame:
    """12 years of monthly sales: a growing trend with a yearly season that grows with it (multiplicative)."""
    months = pd.date_range("2013-01-01", periods=144, freq="MS")
    trend = 100 * 1.012 ** np.arange(len(months))
    season = 1 + 0.25 * np.sin((months.month.to_numpy() - 4) * 2 * np.pi / 12) + 0.1 * (months.month.to_numpy() == 12)
    sales = trend * season * rng.lognormal(0, 0.03, len(months))
    return pd.DataFrame({"month": months, "sales": sales.round(1)})


def _temperature(rng: np.random.Generator) -> pd.DataFrame:
    """Three weeks of a 15-minute temperature: a daily cycle on weather that wanders for days."""
    stamps = pd.date_range("2024-05-01", periods=3 * 7 * 96, freq="15min")
    steps = np.arange(len(stamps))
    weather = np.cumsum(rng.normal(0, 0.08, len(stamps)))
    weather = weather - np.convolve(weather, np.ones(289) / 289, mode="same") * 0.5  # keep the walk near its level
    temperature = 16 + 5 * np.sin((steps - 40) * 2 * np.pi / 96) + weather + rng.normal(0, 0.3, len(stamps))
    return pd.DataFrame({"timestamp": stamps, "temperature_c": temperature.round(2)})


SERIES_EXAMPLES: dict[str, Callable[[np.random.Generator], pd.DataFrame]] = {
    "hourly electricity load (2,000 hours)": _hourly_load,
    "monthly sales (12 years)": _monthly_sales,
    "15-minute temperature (3 weeks)": _temperature,
}


def example_series(name: str) -> pd.DataFrame:
    """The example series called ``name`` (a key of ``SERIES_EXAMPLES``) as a frame: time column, value column."""
    if name not in SERIES_EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose one of {list(SERIES_EXAMPLES)}")
    return SERIES_EXAMPLES[name](np.random.default_rng(0))


WAVES = {  # of the phase x: period 2 pi, values in [-1, 1]
    "sine": np.sin,
    "square": lambda x: np.where(np.mod(x, 2 * np.pi) < np.pi, 1.0, -1.0),
    "sawtooth": lambda x: np.mod(x, 2 * np.pi) / np.pi - 1,
}


def example_classes(per_class_train: int = 8, per_class_test: int = 10, length: int = 128) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(TRAIN, TEST) frames: one noisy wave a row (columns t000 ...), 2-4 cycles at a random phase, and a "label"
    column naming its shape (TEST keeps its labels, so the page can report test accuracy)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, length)

    def draw(count: int) -> pd.DataFrame:
        rows, labels = [], []
        for label, wave in WAVES.items():
            for _ in range(count):
                rows.append(wave(2 * np.pi * rng.uniform(2, 4) * t + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 0.3, length))
                labels.append(label)
        frame = pd.DataFrame(np.round(rows, 3), columns=[f"t{i:03d}" for i in range(length)])
        frame.insert(0, "label", labels)
        return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)

    return draw(per_class_train), draw(per_class_test)
