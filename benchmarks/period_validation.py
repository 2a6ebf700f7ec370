"""Validation evidence for ``detect_period``: what does detecting the period from the values cost the bundled
forecaster against the true period, on the ETT validation splits? Never reads a test window.

For ETTh1 / ETTh2 (period 24) and ETTm1 (period 96), contexts of 720, 1,440 and 2,880 steps, every 97th validation
window of the hourly sets and every 389th of ETTm1 (all channels), horizons 96 / 192 / 336 / 720: the forecast MSE
with the period given and with ``detect_period``'s choice, both with the bundled forecast defaults. As in
``pipe.forecast`` of a multivariate context, the 7 channels of a window share the period most of them show
(``shared_period``); ``--per-channel`` scores each channel's own detection instead (what a univariate context gets).
The cost of a (set, context) cell is detected minus given, averaged over the horizons.

The rule constants of ``timeartist.pipelines.periodicity`` can be overridden to score the alternatives that the
module docstring reports, e.g. rule 3 at +-2 steps and rule 4 at half of the best divisor, without rules 5 and 6:

    .venv/bin/python benchmarks/period_validation.py --per-channel --refine-width 0 --fundamental-relative 0.5 --no-calendar --no-suffix-vote
    .venv/bin/python benchmarks/period_validation.py --out benchmarks/results/period_validation
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from timeartist.data import LTSFDataset
from timeartist.pipelines import periodicity
from timeartist.pipelines.forecasting import forecast_with_outpainter
from timeartist.pipelines.pipeline import TimeArtistPipeline

logger = logging.getLogger("period_validation")
SETS = {"ETTh1": (97, 24), "ETTh2": (97, 24), "ETTm1": (389, 96)}  # name: (window stride, true period)
CONTEXTS = (720, 1440, 2880)
HORIZONS = (96, 192, 336, 720)


def forecast_by_period(pipe, contexts: np.ndarray, horizon: int, periods: np.ndarray) -> np.ndarray:
    """Forecasts (R, H) of the rows (R, L), each with its own period (R,), one call per distinct period."""
    out = np.empty((len(contexts), horizon))
    for period in np.unique(periods):
        rows = periods == period
        out[rows] = forecast_with_outpainter(contexts[rows], horizon, pipe.outpainter, period=int(period), progress=False, **pipe.forecast_defaults)
    return out


def detected_periods(contexts: np.ndarray, per_channel: bool) -> np.ndarray:
    """Periods (W * C,) of windows (W, C, L), row-major like ``contexts.reshape(-1, L)``."""
    windows, channels, length = contexts.shape
    periods = np.asarray(periodicity.detect_period(contexts.reshape(-1, length)))
    return periods if per_channel else np.repeat(periodicity.shared_period(periods.reshape(windows, channels)), channels)


def cell_costs(pipe, name: str, context: int, data_root, per_channel: bool = False) -> dict[str, float]:
    """Given and detected MSE (mean over the horizons) of one (set, context) cell, the share of series whose
    detected period is the true one, and the number of series (windows x channels) per horizon."""
    stride, true_period = SETS[name]
    given, detected, hits, counts = [], [], [], {}
    for horizon in HORIZONS:
        contexts, targets = LTSFDataset(name, split="val", seq_len=context, pred_len=horizon, data_root=data_root).windows()
        periods = detected_periods(contexts[::stride], per_channel)
        contexts, targets = contexts[::stride].reshape(-1, context), targets[::stride].reshape(-1, horizon)
        given.append(np.mean((forecast_by_period(pipe, contexts, horizon, np.full(len(contexts), true_period)) - targets) ** 2))
        detected.append(np.mean((forecast_by_period(pipe, contexts, horizon, periods) - targets) ** 2))
        hits.append(np.mean(periods == true_period))
        counts[horizon] = len(contexts)
    return {"given": float(np.mean(given)), "detected": float(np.mean(detected)), "cost": float(np.mean(detected) - np.mean(given)),
            "true_period_share": float(np.mean(hits)), "series_by_horizon": counts}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="pipeline folder (default: the bundled model)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--refine-width", type=float, default=None, help="override periodicity.REFINE_WIDTH (rule 3)")
    parser.add_argument("--fundamental-relative", type=float, default=None, help="override periodicity.FUNDAMENTAL_RELATIVE (rule 4)")
    parser.add_argument("--no-calendar", action="store_true", help="switch rule 5 off")
    parser.add_argument("--per-channel", action="store_true", help="each channel keeps its own period (no shared_period)")
    parser.add_argument("--no-suffix-vote", action="store_true", help="switch rule 6 off (the whole context only)")
    parser.add_argument("--suffix-ties", choices=("first", "shortest"), default=None, help="override periodicity.SUFFIX_TIES (rule 6)")
    parser.add_argument("--out", default=None, help="folder for period_validation.json / .md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.refine_width is not None:
        periodicity.REFINE_WIDTH = args.refine_width
    if args.fundamental_relative is not None:
        periodicity.FUNDAMENTAL_RELATIVE = args.fundamental_relative
    if args.no_calendar:
        periodicity.CALENDAR_PERIODS = ()
    if args.no_suffix_vote:
        periodicity.SUFFIX_FRACTIONS = ()
    if args.suffix_ties is not None:
        periodicity.SUFFIX_TIES = args.suffix_ties
    rules = {"refine_width": periodicity.REFINE_WIDTH, "fundamental_relative": periodicity.FUNDAMENTAL_RELATIVE,
             "calendar": bool(periodicity.CALENDAR_PERIODS), "suffix_fractions": list(periodicity.SUFFIX_FRACTIONS),
             "suffix_ties": periodicity.SUFFIX_TIES, "channels_share_period": not args.per_channel}  # fmt: skip
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    cells = {}
    for name in tqdm(SETS, desc="sets", disable=None):
        for context in CONTEXTS:
            cells[f"{name} {context}"] = cell_costs(pipe, name, context, args.data_root, args.per_channel)
            logger.info("%s %d: %s", name, context, {k: round(v, 4) if isinstance(v, float) else v for k, v in cells[f"{name} {context}"].items()})
    mean_cost = float(np.mean([c["cost"] for c in cells.values()]))
    logger.info("rules %s: mean cost of detection over the %d cells %.4f", rules, len(cells), mean_cost)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "period_validation.json").write_text(json.dumps({"rules": rules, "mean_cost": mean_cost, "cells": cells}, indent=2))
        lines = [f"# Period detection on ETT validation\n\nrules: {rules}; mean cost over the cells: {mean_cost:.4f}\n",
                 "| cell | given | detected | cost | true period found |", "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {k} | {c['given']:.4f} | {c['detected']:.4f} | {c['cost']:+.4f} | {c['true_period_share']:.0%} |" for k, c in cells.items()]
        (out / "period_validation.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
