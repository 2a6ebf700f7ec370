"""Known-answer forecasting suite: the ordinary series users bring, each against the baseline a user would try first.

Every class is a seeded generator of (context, future) pairs whose structure is known: a linear or damped trend, a
random walk, a daily cycle whose level shifts near the end of the context, hourly and 15-minute data with daily and
weekly cycles, daily data with weekly and yearly cycles, a clean cycle with only 2.5 periods of context, white noise,
intermittent demand (mostly zeros). Each class is scored against the simple baselines a user would try first
(naive, drift, seasonal naive at each true period of the class, the mean of the context), measured on the same series.

Scores per series (then averaged over the seeds of a class):

- MASE: mean absolute error over the horizon divided by the in-sample mean absolute error of the naive forecast at
  the class's shortest true period (1 for non-seasonal classes), so a score of 1 is as good as that in-sample rule;
- relative MSE: mean squared error divided by the variance of the future itself (1 = forecasting the future's mean);
- with quantile forecasts: the coverage of the 80% interval (levels 0.1 and 0.9) and the CRPS (mean over the levels
  of 2 * sum(pinball loss) / sum(|y|), GIFT-Eval's weighted quantile loss).

The suite's headline is, per class, the model's mean MASE divided by the best baseline's mean MASE (<= 1: holds its
own). The forecaster sees the values only: no timestamps, no period (``forecast(context, horizon)``), as a user
calling ``TimeArtistPipeline.forecast`` does.

    timeartist bench sanity --out benchmarks/results/default_model/sanity            # the reported suite (seed 0)
    timeartist bench sanity --seed 1 --out ...                                         # the validation instance
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names
from timeartist.evaluation.metrics import geometric_mean, inside_interval, mase_scale
from timeartist.evaluation.report import figure_legend, report_panels, write_results
from timeartist.viz import draw_forecast, save_figure

logger = logging.getLogger(__name__)

QUANTILE_LEVELS = tuple(round(0.1 * k, 1) for k in range(1, 10))


@dataclass
class SanityCase:
    """One known-answer series: ``context`` (L,), ``future`` (H,), its true seasonal periods (empty: none), and the
    sampling frequency a user's timestamps would carry (a pandas alias)."""

    name: str
    context: np.ndarray
    future: np.ndarray
    periods: tuple[int, ...]
    freq: str

    @property
    def horizon(self) -> int:
        return len(self.future)

    @property
    def scale_period(self) -> int:
        return min(self.periods) if self.periods else 1


def _daily_profile(rng: np.random.Generator, period: int) -> np.ndarray:
    """A smooth random daily shape of ``period`` steps: a few harmonics with decaying amplitudes, unit std."""
    phase = np.arange(period) / period
    shape = sum(rng.normal() / k * np.sin(2 * np.pi * k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 4))
    return shape / shape.std()


def _weekly_factor(rng: np.random.Generator, days: int) -> np.ndarray:
    """One value a day: weekdays near 1, the two weekend days lower (offices, shops, traffic)."""
    week = 1 + rng.normal(0, 0.05, 7)
    week[5:] = rng.uniform(0.3, 0.7, 2)
    return np.tile(week, -(-days // 7))[:days]


def _daily_weekly(rng: np.random.Generator, length: int, per_day: int, noise: float) -> np.ndarray:
    """Per-day steps: a daily profile scaled by a weekday factor, a level, AR(1) noise."""
    days = -(-length // per_day)
    profile = np.tile(_daily_profile(rng, per_day), days)[:length]
    factor = np.repeat(_weekly_factor(rng, days), per_day)[:length]
    ar = np.zeros(length)
    eps = rng.normal(0, noise, length)
    for t in range(1, length):
        ar[t] = 0.5 * ar[t - 1] + eps[t]
    return 10 + 3 * factor * (1.5 + profile) + ar


def _case(name, series, context_len, periods, freq) -> SanityCase:
    series = np.asarray(series, dtype=np.float64)
    return SanityCase(name, series[:context_len], series[context_len:], tuple(periods), freq)


def linear_trend(rng: np.random.Generator) -> SanityCase:
    length, horizon = 512, 64
    t = np.arange(length + horizon)
    slope = rng.choice([-1, 1]) * rng.uniform(0.02, 0.1)
    return _case("linear_trend", 10 + slope * t + rng.normal(0, 1, len(t)), length, (), "D")


def damped_trend(rng: np.random.Generator) -> SanityCase:
    length, horizon = 512, 64
    t = np.arange(length + horizon)
    rise = rng.choice([-1, 1]) * rng.uniform(10, 30) * (1 - np.exp(-t / rng.uniform(100, 200)))
    return _case("damped_trend", 20 + rise + rng.normal(0, 1, len(t)), length, (), "D")


def random_walk(rng: np.random.Generator) -> SanityCase:
    length, horizon = 512, 64
    return _case("random_walk", 50 + np.cumsum(rng.normal(0, 1, length + horizon)), length, (), "D")


def level_shift(rng: np.random.Generator) -> SanityCase:
    """An hourly daily cycle whose level jumps by 2-3 cycle amplitudes in the last 10% of the context."""
    length, horizon = 720, 48
    t = np.arange(length + horizon)
    series = 10 + np.tile(_daily_profile(rng, 24), -(-len(t) // 24))[: len(t)] + rng.normal(0, 0.2, len(t))
    start = int(rng.integers(int(0.9 * length), length - 12))
    series[start:] += rng.choice([-1, 1]) * rng.uniform(2, 3)
    return _case("level_shift", series, length, (24,), "h")


def hourly_daily_weekly(rng: np.random.Generator) -> SanityCase:
    length, horizon = 2000, 168
    return _case("hourly_daily_weekly", _daily_weekly(rng, length + horizon, 24, 0.2), length, (24, 168), "h")


def quarter_hourly_daily_weekly(rng: np.random.Generator) -> SanityCase:
    length, horizon = 4 * 672, 192
    return _case("15min_daily_weekly", _daily_weekly(rng, length + horizon, 96, 0.1), length, (96, 672), "15min")


def daily_weekly_yearly(rng: np.random.Generator) -> SanityCase:
    length, horizon = 3 * 365, 56
    t = np.arange(length + horizon)
    yearly = 3 * np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 2 * np.pi))
    weekly = np.tile(_weekly_factor(rng, 7) * 2, -(-len(t) // 7))[: len(t)]
    return _case("daily_weekly_yearly", 20 + yearly + weekly + rng.normal(0, 0.3, len(t)), length, (7, 365), "D")


def short_context(rng: np.random.Generator) -> SanityCase:
    """A clean hourly daily cycle with 2.5 days of context."""
    length, horizon = 60, 24
    t = np.arange(length + horizon)
    series = 5 + np.tile(_daily_profile(rng, 24), 4)[: len(t)] + rng.normal(0, 0.1, len(t))
    return _case("short_context", series, length, (24,), "h")


def white_noise(rng: np.random.Generator) -> SanityCase:
    length, horizon = 512, 64
    return _case("white_noise", rng.normal(5, 1, length + horizon), length, (), "D")


def intermittent(rng: np.random.Generator) -> SanityCase:
    """Demand on 20-40% of the days, gamma-distributed sizes, zero otherwise."""
    length, horizon = 512, 64
    n = length + horizon
    series = (rng.random(n) < rng.uniform(0.2, 0.4)) * rng.gamma(2.0, 3.0, n)
    return _case("intermittent", series, length, (), "D")


CLASSES: dict[str, Callable[[np.random.Generator], SanityCase]] = {
    "linear_trend": linear_trend,
    "damped_trend": damped_trend,
    "random_walk": random_walk,
    "level_shift": level_shift,
    "hourly_daily_weekly": hourly_daily_weekly,
    "15min_daily_weekly": quarter_hourly_daily_weekly,
    "daily_weekly_yearly": daily_weekly_yearly,
    "short_context": short_context,
    "white_noise": white_noise,
    "intermittent": intermittent,
}


def sanity_cases(classes: Sequence[str] | None = None, seeds: int = 5, seed: int = 0) -> list[SanityCase]:
    """``seeds`` cases of every class (all by default); case k of a class depends only on (seed, class, k)."""
    names = list(CLASSES) if classes is None else list(classes)
    unknown = sorted(set(names) - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown sanity classes {unknown}; available: {list(CLASSES)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    cases = []
    for name in names:
        for k in range(seeds):
            rng = np.random.default_rng([seed, list(CLASSES).index(name), k])
            cases.append(CLASSES[name](rng))
    return cases


def baseline_forecasts(case: SanityCase) -> dict[str, np.ndarray]:
    """The simple baselines of a case: naive, drift, the context mean and seasonal naive at each true period."""
    x, h = case.context, case.horizon
    steps = np.arange(1, h + 1)
    out = {
        "naive": np.full(h, x[-1]),
        "drift": x[-1] + steps * (x[-1] - x[0]) / (len(x) - 1),
        "mean": np.full(h, x.mean()),
    }
    for p in case.periods:
        if p <= len(x):
            out[f"seasonal_naive_{p}"] = np.tile(x[-p:], -(-h // p))[:h]
    return out


def weighted_quantile_loss(quantiles: np.ndarray, target: np.ndarray, levels: Sequence[float]) -> float:
    """GIFT-Eval's CRPS: mean over levels of 2 * sum(pinball loss) / sum(|y|); quantiles (..., H, Q), target (..., H)."""
    levels = np.asarray(levels, dtype=np.float64)
    error = target[..., None] - quantiles
    pinball = np.maximum(levels * error, (levels - 1) * error)
    return float(np.mean(2 * pinball.reshape(-1, len(levels)).sum(0) / max(np.abs(target).sum(), 1e-12)))


@dataclass
class CaseScore:
    """Scores of one forecast of one case."""

    mase: float
    rel_mse: float
    coverage: float = float("nan")
    crps: float = float("nan")
    extra: dict = field(default_factory=dict)


def score(case: SanityCase, forecast: np.ndarray, quantiles: np.ndarray | None = None, levels=QUANTILE_LEVELS) -> CaseScore:
    """MASE, relative MSE and, given quantiles (H, Q) at ``levels``, the 80% interval's coverage and the CRPS."""
    forecast = np.asarray(forecast, dtype=np.float64)
    if forecast.shape != case.future.shape:
        raise ValueError(f"{case.name}: expected a forecast of shape {case.future.shape}, got {forecast.shape}")
    scale = mase_scale(case.context, case.scale_period)
    result = CaseScore(
        mase=float(np.abs(forecast - case.future).mean() / scale),
        rel_mse=float(np.mean((forecast - case.future) ** 2) / max(case.future.var(), 1e-12)),
    )
    if quantiles is not None:
        levels = list(levels)
        low, high = quantiles[:, levels.index(0.1)], quantiles[:, levels.index(0.9)]
        result.coverage = float(np.mean(inside_interval(low, high, case.future)))
        result.crps = weighted_quantile_loss(quantiles, case.future, levels)
    return result


# ---------------------------------------------------------------------------------------------- the benchmark
def model_forecasts(pipe, cases: Sequence[SanityCase], levels=QUANTILE_LEVELS) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The pipeline's (point, quantiles (H, Q) or None) for each case, from the values alone (``forecast`` or, for a
    ``probabilistic`` pipeline, ``forecast_quantiles`` at ``levels``)."""
    out = []
    for case in cases:
        if getattr(pipe, "probabilistic", False):
            quantiles, point = pipe.forecast_quantiles(case.context, case.horizon, quantile_levels=levels)
            out.append((np.asarray(point), np.asarray(quantiles)))
        else:
            out.append((np.asarray(pipe.forecast(case.context, case.horizon)), None))
    return out


def run_sanity(pipe, classes: Sequence[str] | None = None, seeds: int = 5, seed: int = 0, out_dir=None, command: str | None = None) -> pd.DataFrame:
    """Score the pipeline and every simple baseline on ``sanity_cases``: one row per (class, case, method) with MASE,
    relative MSE and, for the pipeline's quantiles, coverage and CRPS. With ``out_dir``: ``results.*`` (per-class
    table: the pipeline's mean MASE over the best baseline's) and ``sanity_examples.png``."""
    cases = sanity_cases(classes, seeds, seed)
    began = time.perf_counter()
    forecasts = model_forecasts(pipe, tqdm(cases, desc="sanity", disable=None))
    seconds = time.perf_counter() - began
    rows = []
    for k, (case, (point, quantiles)) in enumerate(zip(cases, forecasts)):
        for method, values, q in [("timeartist", point, quantiles), *((m, v, None) for m, v in baseline_forecasts(case).items())]:
            result = score(case, values, q)
            rows.append({"class": case.name, "case": k % seeds, "method": method, "mase": result.mase, "rel_mse": result.rel_mse,
                         "coverage80": result.coverage, "crps": result.crps})  # fmt: skip
    frame = pd.DataFrame(rows)
    summary = summary_table(frame)
    frame.attrs["summary"] = summary
    if out_dir is not None:
        meta = {
            "protocol": "known-answer series (evaluation.sanity), values only; MASE against the in-sample naive error at the "
                        "class's shortest true period; ratio = the pipeline's mean MASE / the best simple baseline's",
            "classes": list(dict.fromkeys(c.name for c in cases)), "seeds": seeds, "seed": seed, "model_seconds": seconds,
            "geometric_mean_ratio": geometric_mean(summary["ratio"].tolist()), "max_ratio": float(summary["ratio"].max()),
        }  # fmt: skip
        write_results(frame, out_dir, meta, {"Per class (mean over the cases)": summary}, "Known-answer forecasting suite", command)
        plot_sanity_examples(cases, forecasts, Path(out_dir) / "sanity_examples.png", seeds)
    return frame


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per class: the pipeline's mean MASE, the best simple baseline (by mean MASE) and its MASE, their ratio, and the
    pipeline's 80% coverage and CRPS when it gave quantiles."""
    means = frame.groupby(["class", "method"], sort=False)[["mase", "rel_mse", "coverage80", "crps"]].mean().reset_index()
    rows = []
    for name, part in means.groupby("class", sort=False):
        ours = part[part.method == "timeartist"].iloc[0]
        baselines = part[part.method != "timeartist"]
        best = baselines.loc[baselines.mase.idxmin()]
        rows.append({"class": name, "timeartist": ours.mase, "best baseline": best.method, "baseline MASE": best.mase,
                     "ratio": ours.mase / best.mase, "rel. MSE": ours.rel_mse, "coverage80": ours.coverage80, "CRPS": ours.crps})  # fmt: skip
    return pd.DataFrame(rows).set_index("class")


def plot_sanity_examples(cases: Sequence[SanityCase], forecasts, path, seeds: int) -> Path:
    """The first case of every class: history tail, truth, the pipeline's forecast with its 80% band, the best
    baseline for that case."""
    firsts = [(c, f) for k, (c, f) in enumerate(zip(cases, forecasts)) if k % seeds == 0]
    fig, axes = report_panels(len(firsts), width=5.5)
    for ax, (case, (point, quantiles)) in zip(axes, firsts):
        baselines = baseline_forecasts(case)
        best = min(baselines, key=lambda m: score(case, baselines[m]).mase)
        band = None if quantiles is None else (quantiles[:, QUANTILE_LEVELS.index(0.1)], quantiles[:, QUANTILE_LEVELS.index(0.9)])
        # one legend for all panels: the baseline is named in the title, its line is "best simple baseline"
        draw_forecast(ax, case.context, {"timeartist": point, "best simple baseline": baselines[best]}, case.future, f"{case.name} (best baseline: {best})",
                      history_steps=min(len(case.context), max(3 * case.horizon, 2 * max(case.periods, default=1))), legend=False, band=band)  # fmt: skip
        ax.grid(alpha=0.3)
    figure_legend(fig, axes)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classes", help=f"comma-separated classes (default: all): {', '.join(CLASSES)}")
    parser.add_argument("--seeds", type=int, default=20, help="cases per class")
    parser.add_argument("--seed", type=int, default=0, help="the suite's seed (1 is the validation instance the defaults were chosen on)")
    add_common_arguments(parser, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    classes = names(args.classes) or None
    sanity_cases(classes, 1, args.seed)  # checks the class names before anything is written
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    check_out(args.out)
    return run_sanity(load_pipeline(args), classes, args.seeds, args.seed, args.out, args.command_line)
