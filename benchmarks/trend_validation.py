"""Validation evidence for ``forecast(..., trend_ensemble=True)``: does averaging in the forecast of the detrended
context (plus its continued least-squares line) help, and where does it hurt? Never reads a test window.

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


class _TrendForecaster:
    """``pipe.forecast`` with or without the trend view, as a benchmark forecaster."""

    def __init__(self, pipe, trend: bool):
        self.pipe, self.trend, self.name = pipe, trend, f"trend_ensemble={trend}"

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray:
        return self.pipe.forecast(context, horizon, period=period, trend_ensemble=self.trend)


def _normalised_mae(pipe, series: list[ForecastSeries]) -> dict[str, float]:
    """MAE / MAE(naive) over the final windows of ``series``, with and without the trend view."""
    maes = {}
    for forecaster in (make_baseline("naive"), _TrendForecaster(pipe, False), _TrendForecaster(pipe, True)):
        forecasts = forecast_series(forecaster, series)
        maes[forecaster.name] = np.mean([np.abs(f - s.future).mean() for f, s in zip(forecasts, series)])
    naive = maes.pop("naive")
    return {name: float(mae / naive) for name, mae in maes.items()}


def competitions(pipe, data_root=None) -> dict[str, dict[str, float]]:
    scores = {}
    for competition, frequencies in JSON_SUBSETS.items():
        for frequency in frequencies:
            name = f"{competition}_{frequency}"
            held_back = [  # the test window dropped, the last horizon of the history becomes the window to score
                replace(one, values=one.history) for one in load_dataset(name, data_root) if one.history.size >= one.horizon + 4
            ]
            scores[name] = _normalised_mae(pipe, held_back)
            logger.info("%s: %s", name, scores[name])
    scores["geometric mean"] = {k: geometric_mean([s[k] for s in scores.values()]) for k in next(iter(scores.values()))}
    return scores


def corpus(pipe, data_root=None) -> dict[str, dict[str, float]]:
    series = read_corpus(data_root, min_length=20)
    scores = {}
    for freq, (period, horizon, length) in CORPUS_SHAPES.items():
        windows = [
            ForecastSeries(f"{one.name}@{end}", one.values[end - length : end + horizon], horizon, freq, period)
            for one in series if one.freq == freq
            for end in range(len(one.values) - horizon, length - 1, -max(horizon, len(one.values) // 4))[:4]
        ]  # fmt: skip
        scores[freq] = _normalised_mae(pipe, windows)
        logger.info("corpus %s: %s", freq, scores[freq])
    return scores


def ett(pipe, contexts, data_root=None) -> dict[str, dict[str, float]]:
    scores = {}
    for context in contexts:
        val = ValidationConfig(context=context, data_root=data_root)
        windows = validation_windows(val)
        defaults = {k: v for k, v in pipe.forecast_defaults.items() if k != "trend_ensemble"}
        scores[str(context)] = {
            f"trend_ensemble={trend}": validation_mse(pipe.outpainter, val, windows, trend_ensemble=trend, **defaults)["mse"]
            for trend in (False, True)
        }
        logger.info("ETT validation, context %d: %s", context, scores[str(context)])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="pipeline folder (default: the bundled model)")
    parser.add_argument("--data-root")
    parser.add_argument("--ett-contexts", default="720,2880")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    result = {
        "competitions_validation": competitions(pipe, args.data_root),
        "corpus_validation": corpus(pipe, args.data_root),
        "ett_validation_mse": ett(pipe, [int(c) for c in args.ett_contexts.split(",")], args.data_root),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trend_validation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
