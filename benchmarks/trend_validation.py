"""Validation evidence for ``forecast(..., trend_ensemble=True)``: does averaging in the forecast of the detrended
context (plus its continued least-squares line) help, and where does it hurt? Never reads a test window.

- ``competitions``: each M1/M3 series' history with its last ``horizon`` values held out (the final test window
  is dropped first), forecast from the rest; geometric mean over the 7 M1/M3 subsets of MAE / MAE(naive).
- ``corpus``: the training corpus' yearly, quarterly and monthly series, up to 4 cut points each, contexts of 24 /
  32 / 72 steps and horizons 6 / 8 / 18 (the M-competition shapes); MAE / MAE(naive).
- ``ett``: the ETTh1/ETTh2/ETTm1 validation windows of the outpainter's training-time validation, at the given
  contexts.

Period: the series' seasonality when the context holds two periods, else 1 (as the competition benchmark).

    .venv/bin/python benchmarks/trend_validation.py --out benchmarks/results/trend_validation
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from timeartist.data.corpus import read_corpus
from timeartist.evaluation.competitions import JSON_SUBSETS, _history, load_dataset
from timeartist.evaluation.metrics import geometric_mean
from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.training.outpainter import ValidationConfig, validation_mse, validation_windows

logger = logging.getLogger("trend_validation")
CORPUS_SHAPES = {"YS": (1, 6, 24), "QS": (4, 8, 32), "MS": (12, 18, 72)}  # freq: (period, horizon, context)


def _normalised_mae(pipe, tasks: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray]]]) -> dict[str, float]:
    """tasks: (context length, horizon, period) -> [(context, future)]; MAE / MAE(naive) with and without the trend view."""
    errors = defaultdict(list)
    for (_, horizon, period), items in tasks.items():
        contexts, futures = np.stack([c for c, _ in items]), np.stack([f for _, f in items])
        errors["naive"].extend(np.abs(contexts[:, -1:] - futures).mean(1))
        for trend in (False, True):
            forecast = pipe.forecast(contexts, horizon, period=period, trend_ensemble=trend)
            errors[f"trend_ensemble={trend}"].extend(np.abs(forecast - futures).mean(1))
    naive = np.mean(errors.pop("naive"))
    return {name: float(np.mean(values) / naive) for name, values in errors.items()}


def competitions(pipe, data_root=None) -> dict[str, dict[str, float]]:
    scores = {}
    for competition, frequencies in JSON_SUBSETS.items():
        for frequency in frequencies:
            name, tasks = f"{competition}_{frequency}", defaultdict(list)
            for series in load_dataset(name, data_root):
                history, h = _history(series), series.horizon
                if history.size < h + 4:
                    continue
                context = history[:-h]
                period = series.seasonality if context.size >= 2 * series.seasonality else 1
                tasks[context.size, h, period].append((context, history[-h:]))
            scores[name] = _normalised_mae(pipe, tasks)
            logger.info("%s: %s", name, scores[name])
    scores["geometric mean"] = {k: geometric_mean([s[k] for s in scores.values()]) for k in next(iter(scores.values()))}
    return scores


def corpus(pipe, data_root=None) -> dict[str, dict[str, float]]:
    series = read_corpus(data_root, min_length=20)
    scores = {}
    for freq, (period, horizon, length) in CORPUS_SHAPES.items():
        tasks = defaultdict(list)
        for one in (s for s in series if s.freq == freq):
            v = one.values
            for end in range(len(v) - horizon, length - 1, -max(horizon, len(v) // 4))[:4]:
                tasks[length, horizon, period].append((v[end - length : end], v[end : end + horizon]))
        scores[freq] = _normalised_mae(pipe, tasks)
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
