"""Long horizons: the pipeline's roll-out against seasonal naive and the seasonal mean, far beyond the context.

From ``--context`` (512) steps, forecast ``--horizons`` (2,000 and 10,000) steps of long seasonal series:

- synthetic: 8 hourly-like series, a daily (24) and a weekly (168) cycle with random amplitudes and phases, plus
  AR(1) noise (seeded);
- ETTh2: the 7 channels of 4 windows spread over the file (not in the bundled model's training data).

Each window is scaled by its context's mean and std (the metrics are in units of the context's spread). Methods:
``timeartist`` is ``pipe.forecast(context, horizon)`` as a user calls it (period detected, the model's forecast
defaults; horizons beyond half the canvas are rolled out), ``seasonal_naive`` repeats the last 24 steps,
``seasonal_mean`` repeats the mean of the context's whole days. ``spread`` is the forecast's std over the horizon
divided by the truth's: a forecast that collapses to a flat line has a spread near 0. Results: one row per (series,
horizon, method), and ``forecast_examples.png`` (the first series of each set at each horizon: the first and the
last ``SHOWN`` steps of the horizon, where a forecast that fades out would show it).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from timeartist.data.ltsf import read_ltsf_csv
from timeartist.data.paths import ltsf_path
from timeartist.evaluation.baselines import make_baseline
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, positive_ints
from timeartist.evaluation.report import ForecastExample, markdown_table, plot_forecast_examples, write_results

logger = logging.getLogger(__name__)

PERIOD = 24
SHOWN = 336  # steps of the horizon drawn at its start and at its end (two weeks of hourly data)
SYNTHETIC_SERIES = 8
ETT_WINDOWS = 4


def synthetic_series(n: int, length: int, seed: int = 0) -> np.ndarray:
    """(n, length): daily and weekly cycles with random amplitudes and phases plus AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = np.empty((n, length))
    for i in range(n):
        daily = rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 2 * np.pi))
        weekly = rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * t / 168 + rng.uniform(0, 2 * np.pi))
        noise = np.zeros(length)
        shocks = rng.normal(scale=0.1, size=length)
        for k in range(1, length):
            noise[k] = 0.8 * noise[k - 1] + shocks[k]
        out[i] = daily + weekly + noise
    return out


def ett_windows(data_root, length: int, windows: int = ETT_WINDOWS) -> np.ndarray:
    """(7 * windows, length): every channel of ``windows`` windows spread evenly over ETTh2."""
    values = read_ltsf_csv(ltsf_path("ETTh2", data_root)).to_numpy(dtype=np.float64).T  # (7, T)
    starts = np.linspace(0, values.shape[1] - length, windows).astype(int)
    return np.concatenate([values[:, s : s + length] for s in starts])


def scores(forecast: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {
        "mse": float(np.mean((forecast - truth) ** 2)),
        "mae": float(np.mean(np.abs(forecast - truth))),
        "spread": float(np.mean(forecast.std(axis=1) / np.maximum(truth.std(axis=1), 1e-12))),
    }


def forecast_scaled(pipe, series: np.ndarray, context: int, horizon: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, float]:
    """Every method's forecast of ``series`` (B, >= context + horizon) scaled by each context's mean and std:
    (forecasts by method, scaled contexts, scaled truth, seconds of the pipeline's forecast)."""
    past, future = series[:, :context], series[:, context : context + horizon]
    mean, std = past.mean(axis=1, keepdims=True), past.std(axis=1, keepdims=True)
    past, future = (past - mean) / std, (future - mean) / std
    started = time.perf_counter()
    forecasts = {"timeartist": pipe.forecast(past, horizon, progress=False)}
    seconds = time.perf_counter() - started
    forecasts["seasonal_naive"] = make_baseline("seasonal_naive")(past, horizon, PERIOD)
    forecasts["seasonal_mean"] = make_baseline("seasonal_mean", k=context // PERIOD)(past, horizon, PERIOD)
    return forecasts, past, future, seconds


def run_long_horizon(pipe, data_root=None, context: int = 512, horizons=(2000, 10000), synthetic_only: bool = False,
                     out_dir=None, command: str | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per (series, horizon, method): mse, mae, spread, seconds (the pipeline's forecast only)."""
    length = context + max(horizons)
    sets = {"synthetic": synthetic_series(SYNTHETIC_SERIES, length)}
    if not synthetic_only:
        sets["ETTh2"] = ett_windows(data_root, length)
    rows, examples = [], {}
    for name, series in sets.items():
        for horizon in horizons:
            forecasts, past, future, seconds = forecast_scaled(pipe, series, context, horizon)
            for method, forecast in forecasts.items():
                rows.append({"series": name, "horizon": horizon, "method": method, **scores(forecast, future),
                             "seconds": seconds if method == "timeartist" else np.nan})  # fmt: skip
            shown = min(SHOWN, horizon // 2)
            forecasts = dict(reversed(forecasts.items()))  # the pipeline's forecast drawn last, on top of the baselines
            examples[f"{name}, h={horizon}: steps 1-{shown}"] = ForecastExample(past[0], future[0, :shown], {m: f[0, :shown] for m, f in forecasts.items()})
            before_end = np.concatenate([past[0], future[0, : horizon - shown]])  # the truth up to the last steps drawn
            examples[f"{name}, h={horizon}: the last {shown} steps"] = ForecastExample(before_end, future[0, -shown:], {m: f[0, -shown:] for m, f in forecasts.items()})
            logger.info("%s h=%d: %s", name, horizon, {r["method"]: round(r["mse"], 3) for r in rows[-len(forecasts) :]})
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "context": context,
        "horizons": list(horizons),
        "series": {"synthetic": f"{SYNTHETIC_SERIES} seeded daily + weekly + AR(1) series",
                   **({} if synthetic_only else {"ETTh2": f"7 channels x {ETT_WINDOWS} windows spread over the file"})},  # fmt: skip
        "scaling": "each window by its context's mean and std",
        "seasonal_mean": f"the mean of the context's {context // PERIOD} whole days",
    }
    if out_dir is not None:
        table = frame.assign(cell=[f"{m:.3f} / {s:.2f}" for m, s in zip(frame["mse"], frame["spread"])])
        table = table.pivot_table(index=["series", "horizon"], columns="method", values="cell", aggfunc="first", sort=False)
        write_results(frame, out_dir, frame.attrs["meta"], {"MSE / spread": table}, "Long horizons", command)
        plot_forecast_examples(examples, Path(out_dir) / "forecast_examples.png", context_steps=SHOWN // 2)
    logger.info("\n%s", markdown_table(frame))
    return frame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--horizons", default="2000,10000", help="comma-separated horizons")
    parser.add_argument("--context", type=int, default=512, help="context steps")
    parser.add_argument("--synthetic-only", action="store_true", help="skip ETTh2")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    horizons = positive_ints(args.horizons, "--horizons")
    if not args.synthetic_only:
        ltsf_path("ETTh2", args.data_root)  # a missing data folder fails before the model loads
    check_out(args.out)
    return run_long_horizon(load_pipeline(args), args.data_root, args.context, horizons, args.synthetic_only, args.out, args.command_line)
