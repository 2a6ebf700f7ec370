"""Validation evidence for ``forecast(..., trend_ensemble=...)``: does averaging in the forecast of the detrended
context (plus its continued least-squares line) help, where does it hurt, and which share of variance explained by
the line (``trend_min_r2`` of ``trend_ensemble="auto"``) should switch it on? Never reads a test window.

Options scored: off, on for every series, and "auto" at each ``--min-r2`` threshold.

- ``competitions``: each M1/M3 series' history with its last ``horizon`` values held out (the final test window
  is dropped first), forecast from the rest; geometric mean over the 7 M1/M3 subsets of MAE / MAE(naive).
- ``corpus``: the training corpus' yearly, quarterly and monthly series, up to 4 cut points each, contexts of 24 /
  32 / 72 steps and horizons 6 / 8 / 18 (the M-competition shapes); MAE / MAE(naive).
- ``ett``: the ETTh1/ETTh2/ETTm1 validation windows of the outpainter's training-time validation, at the given
  contexts.

Forecasts go through the competition runner (``evaluation.competitions.forecast_series``): gaps interpolated, the
series' seasonality as the period when the context holds one whole period, else 1.

    .venv/bin/python benchmarks/trend_validation.py --out benchmarks/results/trend_validation
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from timeartist.data.competitions import ForecastSeries
from timeartist.data.corpus import read_corpus
from timeartist.evaluation.baselines import make_baseline
from timeartist.evaluation.competitions import JSON_SUBSETS, forecast_series, load_dataset
from timeartist.evaluation.metrics import geometric_mean
from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.training.outpainter import ValidationConfig, validation_mse, validation_windows

logger = logging.getLogger("trend_validation")
CORPUS_SHAPES = {"YS": (1, 6, 24), "QS": (4, 8, 32), "MS": (12, 18, 72)}  # freq: (period, horizon, context)


def trend_options(min_r2s: list[float]) -> dict[str, dict]:
    """Forecast keyword options by name: the trend view off, on, and "auto" at each threshold."""
    options = {"trend_ensemble=False": {"trend_ensemble": False}, "trend_ensemble=True": {"trend_ensemble": True}}
    options.update({f"auto, r2>={t:g}": {"trend_ensemble": "auto", "trend_min_r2": t} for t in min_r2s})
    return options


class _TrendForecaster:
    """``pipe.forecast`` with one set of trend options, as a benchmark forecaster."""

    def __init__(self, pipe, name: str, options: dict):
        self.pipe, self.name, self.options = pipe, name, options

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray:
        return self.pipe.forecast(context, horizon, period=period, **self.options)


def _normalised_mae(pipe, series: list[ForecastSeries], options: dict[str, dict]) -> dict[str, float]:
    """MAE / MAE(naive) over the final windows of ``series``, for each set of trend options."""
    maes = {}
    forecasters = [make_baseline("naive")] + [_TrendForecaster(pipe, name, o) for name, o in options.items()]
    for forecaster in forecasters:
        forecasts = forecast_series(forecaster, series)
        maes[forecaster.name] = np.mean([np.abs(f - s.future).mean() for f, s in zip(forecasts, series)])
    naive = maes.pop("naive")
    return {name: float(mae / naive) for name, mae in maes.items()}


def competitions(pipe, options, data_root=None) -> dict[str, dict[str, float]]:
    scores = {}
    for competition, frequencies in JSON_SUBSETS.items():
        for frequency in frequencies:
            name = f"{competition}_{frequency}"
            held_back = [  # the test window dropped, the last horizon of the history becomes the window to score
                replace(one, values=one.history) for one in load_dataset(name, data_root) if one.history.size >= one.horizon + 4
            ]
            scores[name] = _normalised_mae(pipe, held_back, options)
            logger.info("%s: %s", name, scores[name])
    scores["geometric mean"] = {k: geometric_mean([s[k] for s in scores.values()]) for k in next(iter(scores.values()))}
    return scores


def corpus(pipe, options, data_root=None) -> dict[str, dict[str, float]]:
    series = read_corpus(data_root, min_length=20)
    scores = {}
    for freq, (period, horizon, length) in CORPUS_SHAPES.items():
        windows = [
            ForecastSeries(f"{one.name}@{end}", one.values[end - length : end + horizon], horizon, freq, period)
            for one in series if one.freq == freq
            for end in range(len(one.values) - horizon, length - 1, -max(horizon, len(one.values) // 4))[:4]
        ]  # fmt: skip
        scores[freq] = _normalised_mae(pipe, windows, options)
        logger.info("corpus %s: %s", freq, scores[freq])
    return scores


def ett(pipe, contexts, options, data_root=None) -> dict[str, dict[str, float]]:
    scores = {}
    for context in contexts:
        val = ValidationConfig(context=context, data_root=data_root)
        windows = validation_windows(val)
        defaults = {k: v for k, v in pipe.forecast_defaults.items() if not k.startswith("trend_")}
        scores[str(context)] = {
            name: validation_mse(pipe.outpainter, val, windows, **defaults, **o)["mse"] for name, o in options.items()
        }
        logger.info("ETT validation, context %d: %s", context, scores[str(context)])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="pipeline folder (default: the bundled model)")
    parser.add_argument("--data-root")
    parser.add_argument("--ett-contexts", default="720,2880")
    parser.add_argument("--min-r2", default="0.2,0.35,0.5,0.65,0.8", help="thresholds of trend_ensemble='auto' to score")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    options = trend_options([float(t) for t in args.min_r2.split(",")])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    result = {
        "competitions_validation": competitions(pipe, options, args.data_root),
        "corpus_validation": corpus(pipe, options, args.data_root),
        "ett_validation_mse": ett(pipe, [int(c) for c in args.ett_contexts.split(",")], options, args.data_root),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trend_validation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
