"""Validation evidence for ``detect_period``: what does detecting the period from the values cost the bundled
forecaster against the true period, on the ETT validation splits? Never reads a test window.

For ETTh1 / ETTh2 (period 24) and ETTm1 (period 96), contexts of 720, 1,440 and 2,880 steps, every 97th validation
window of the hourly sets and every 389th of ETTm1 (all channels), horizons 96 / 192 / 336 / 720: the forecast MSE
with the period given and with ``detect_period``'s choice, both with the bundled forecast defaults. As in
``pipe.forecast`` of a multivariate context, the 7 channels of a window share the period most of them show
(``shared_period``); ``--per-channel`` scores each channel's own detection instead (what a univariate context gets).
The cost of a (set, context) cell is detected minus given, averaged over the horizons.

The rule constants of ``timeartist.pipelines.periodicity`` can be overridden for the run to score the alternatives
that the module docstring reports, e.g. rule 3 at +-2 steps and rule 4 at half of the best divisor, without rules 5
and 6: ``--per-channel --refine-width 0 --fundamental-relative 0.5 --no-calendar --no-suffix-vote``. Results: one row
per cell, the rules and the mean cost in the meta data, and ``period_validation.png`` (given and detected MSE by cell).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from timeartist.data import LTSFDataset, ltsf_path  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.pipelines import periodicity  # noqa: E402
from timeartist.pipelines.forecasting import forecast_with_outpainter  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)
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


@contextmanager
def detection_rules(args: argparse.Namespace) -> Iterator[dict]:
    """The rule constants of ``periodicity`` as the options set them, restored on exit; yields the rules in force."""
    names = ("REFINE_WIDTH", "FUNDAMENTAL_RELATIVE", "CALENDAR_PERIODS", "SUFFIX_FRACTIONS", "SUFFIX_TIES")
    saved = {name: getattr(periodicity, name) for name in names}
    try:
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
        yield {"refine_width": periodicity.REFINE_WIDTH, "fundamental_relative": periodicity.FUNDAMENTAL_RELATIVE,
               "calendar": bool(periodicity.CALENDAR_PERIODS), "suffix_fractions": list(periodicity.SUFFIX_FRACTIONS),
               "suffix_ties": periodicity.SUFFIX_TIES, "channels_share_period": not args.per_channel}  # fmt: skip
    finally:
        for name, value in saved.items():
            setattr(periodicity, name, value)


def plot_cells(frame: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    x = np.arange(len(frame))
    ax.bar(x - 0.2, frame["given"], 0.4, label="period given")
    ax.bar(x + 0.2, frame["detected"], 0.4, label="period detected")
    ax.set_xticks(x, frame["cell"], rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="validation MSE (mean over horizons)", title=f"mean cost of detection {frame['cost'].mean():+.4f}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refine-width", type=float, help="override periodicity.REFINE_WIDTH (rule 3)")
    parser.add_argument("--fundamental-relative", type=float, help="override periodicity.FUNDAMENTAL_RELATIVE (rule 4)")
    parser.add_argument("--no-calendar", action="store_true", help="switch rule 5 off")
    parser.add_argument("--per-channel", action="store_true", help="each channel keeps its own period (no shared_period)")
    parser.add_argument("--no-suffix-vote", action="store_true", help="switch rule 6 off (the whole context only)")
    parser.add_argument("--suffix-ties", choices=("first", "shortest"), help="override periodicity.SUFFIX_TIES (rule 6)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    for name in SETS:
        ltsf_path(name, args.data_root)  # a missing data folder fails before the model loads
    check_out(args.out)
    pipe = load_pipeline(args)
    with detection_rules(args) as rules:
        rows = []
        for name in tqdm(SETS, desc="sets", disable=None):
            for context in CONTEXTS:
                rows.append({"cell": f"{name} {context}", **cell_costs(pipe, name, context, args.data_root, args.per_channel)})
                logger.info("%s", {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()})
    frame = pd.DataFrame(rows)
    meta = {"rules": rules, "mean_cost": float(frame["cost"].mean()), "horizons": list(HORIZONS),
            "windows": {name: f"every {stride}th validation window, all channels" for name, (stride, _) in SETS.items()}}  # fmt: skip
    logger.info("rules %s: mean cost of detection over the %d cells %.4f", rules, len(frame), meta["mean_cost"])
    table = frame[["cell", "given", "detected", "cost", "true_period_share"]]
    write_results(frame, args.out, meta, {"Validation MSE, period given and detected": table}, "Period detection on ETT validation", args.command_line, floatfmt=".4f")
    plot_cells(frame, Path(args.out) / "period_validation.png")
    return frame
