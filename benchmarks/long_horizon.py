"""Long horizons: the pipeline's roll-out against seasonal naive and the seasonal mean, far beyond the context.

From 512 steps of context, forecast 2,000 and 10,000 steps of long seasonal series:

- synthetic: 8 hourly-like series, a daily (24) and a weekly (168) cycle with random amplitudes and phases, plus
  AR(1) noise (seeded);
- ETTh2: the 7 channels of 4 windows spread over the file (not in the bundled model's training data).

Each window is scaled by its context's mean and std (the metrics are in units of the context's spread). Methods:
``timeartist`` is ``pipe.forecast(context, horizon)`` as a user calls it (period detected, the model's forecast
defaults; horizons beyond half the canvas are rolled out), ``seasonal_naive`` repeats the last 24 steps,
``seasonal_mean`` repeats the mean of the context's 21 whole days. ``spread`` is the forecast's std over the
horizon divided by the truth's: a forecast that collapses to a flat line has a spread near 0.

    .venv/bin/python benchmarks/long_horizon.py --out benchmarks/results/long_horizon
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from timeartist.data.ltsf import read_ltsf_csv
from timeartist.data.paths import ltsf_path
from timeartist.evaluation.baselines import make_baseline
from timeartist.pipelines.pipeline import TimeArtistPipeline

logger = logging.getLogger("long_horizon")
PERIOD = 24


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


def ett_windows(data_root: str | None, length: int, windows: int = 4) -> np.ndarray:
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


def run(pipe: TimeArtistPipeline, series: np.ndarray, context: int, horizon: int) -> dict[str, dict[str, float]]:
    """Scores of every method on ``series`` (B, >= context + horizon), scaled by each context's mean and std."""
    past, future = series[:, :context], series[:, context : context + horizon]
    mean, std = past.mean(axis=1, keepdims=True), past.std(axis=1, keepdims=True)
    past, future = (past - mean) / std, (future - mean) / std
    started = time.perf_counter()
    forecasts = {"timeartist": pipe.forecast(past, horizon, progress=False)}
    seconds = time.perf_counter() - started
    forecasts["seasonal_naive"] = make_baseline("seasonal_naive")(past, horizon, PERIOD)
    forecasts["seasonal_mean"] = make_baseline("seasonal_mean", k=context // PERIOD)(past, horizon, PERIOD)
    results = {name: scores(f, future) for name, f in forecasts.items()}
    results["timeartist"]["seconds"] = seconds
    return results


def to_markdown(results: dict, command: str) -> str:
    lines = [f"`{command}`", "", "| series | horizon | method | MSE | MAE | spread |", "|---|---:|---|---:|---:|---:|"]
    for name, by_horizon in results.items():
        for horizon, methods in by_horizon.items():
            for method, s in methods.items():
                lines.append(f"| {name} | {horizon} | {method} | {s['mse']:.3f} | {s['mae']:.3f} | {s['spread']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default: the bundled model)")
    parser.add_argument("--horizons", default="2000,10000")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--data-root", help="data folder with ETT/ETTh2.csv (default: $TIMEARTIST_DATA, ./dataset, ../shared/data)")
    parser.add_argument("--synthetic-only", action="store_true", help="skip ETTh2")
    parser.add_argument("--out", help="folder for long_horizon.json and long_horizon.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    horizons = [int(h) for h in args.horizons.split(",")]
    length = args.context + max(horizons)
    sets = {"synthetic": synthetic_series(8, length)}
    if not args.synthetic_only:
        sets["ETTh2"] = ett_windows(args.data_root, length)
    results = {name: {h: run(pipe, series, args.context, h) for h in horizons} for name, series in sets.items()}
    command = "python benchmarks/long_horizon.py " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    logger.info(to_markdown(results, command.strip()))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "long_horizon.json").write_text(json.dumps({"command": command.strip(), "results": results}, indent=2) + "\n")
        (out / "long_horizon.md").write_text(to_markdown(results, command.strip()))
    return results


if __name__ == "__main__":
    main()
