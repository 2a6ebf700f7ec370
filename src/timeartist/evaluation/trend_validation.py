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
series' seasonality as the period when the context holds one whole period, else 1. ``--parts`` runs some of the
three. Results: one row per (part, data, option) with its score, and ``trend_validation.png`` (each part's scores by
option).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from timeartist.data.competitions import ForecastSeries  # noqa: E402
from timeartist.data.corpus import read_corpus  # noqa: E402
from timeartist.evaluation.baselines import make_baseline  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names, positive_ints  # noqa: E402
from timeartist.evaluation.competitions import JSON_SUBSETS, forecast_series, load_dataset  # noqa: E402
from timeartist.evaluation.metrics import geometric_mean  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.training.outpainter import ValidationConfig, validation_mse, validation_windows  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)
CORPUS_SHAPES = {"YS": (1, 6, 24), "QS": (4, 8, 32), "MS": (12, 18, 72)}  # freq: (period, horizon, context)
PARTS = {  # part -> what its score is
    "competitions": "M1/M3 histories without their test window: MAE / MAE(naive)",
    "corpus": "training corpus cut to M-competition shapes: MAE / MAE(naive)",
    "ett": "ETT validation windows: MSE",
}


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


def plot_scores(frame: pd.DataFrame, path: Path) -> Path:
    parts = list(dict.fromkeys(frame["part"]))
    fig, axes = plt.subplots(1, len(parts), figsize=(5.0 * len(parts), 3.6), squeeze=False)
    options = list(dict.fromkeys(frame["option"]))
    for ax, part in zip(axes[0], parts):
        table = frame[frame["part"] == part].pivot_table(index="option", columns="data", values="score", sort=False).reindex(options)
        for data in table.columns:
            ax.plot(range(len(options)), table[data], marker="o", label=str(data))
        ax.set_xticks(range(len(options)), [o.replace("trend_ensemble=", "") for o in options], rotation=40, ha="right", fontsize=7)
        ax.set(title=part, ylabel=PARTS[part].split(": ")[-1])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}")
    parser.add_argument("--ett-contexts", default="720,2880", help="contexts of the ETT validation windows")
    parser.add_argument("--min-r2", default="0.2,0.35,0.5,0.65,0.8", help="thresholds of trend_ensemble='auto' to score")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    parts = names(args.parts)
    if not parts or set(parts) - set(PARTS):
        raise ValueError(f"unknown --parts {parts}; available: {', '.join(PARTS)}")
    try:
        options = trend_options([float(t) for t in names(args.min_r2)])
    except ValueError:
        raise ValueError(f"--min-r2 expects numbers separated by commas, e.g. 0.5,0.8; got {args.min_r2!r}") from None
    contexts = positive_ints(args.ett_contexts, "--ett-contexts")
    check_out(args.out)
    pipe = load_pipeline(args)
    scores = {}
    if "competitions" in parts:
        scores["competitions"] = competitions(pipe, options, args.data_root)
    if "corpus" in parts:
        scores["corpus"] = corpus(pipe, options, args.data_root)
    if "ett" in parts:
        scores["ett"] = ett(pipe, contexts, options, args.data_root)
    frame = pd.DataFrame([{"part": part, "data": data, "option": option, "score": score}
                          for part, by_data in scores.items() for data, by_option in by_data.items() for option, score in by_option.items()])  # fmt: skip
    meta = {"scores": {part: PARTS[part] for part in scores}, "options": options, "ett_contexts": contexts}
    tables = {PARTS[part]: frame[frame["part"] == part].pivot_table(index="data", columns="option", values="score", sort=False) for part in scores}
    write_results(frame, args.out, meta, tables, "Trend rule on validation series", args.command_line)
    plot_scores(frame, Path(args.out) / "trend_validation.png")
    return frame
