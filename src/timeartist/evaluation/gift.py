"""GIFT-Eval's protocol on the GIFT-Eval data we have: ett1 (ETTm1) at 15 minutes and summed to hours.

Protocol (SalesforceAIResearch/gift-eval ``src/gift_eval/data.py`` and GluonTS ``evaluate_model``, ``axis=None``):

- Data: ``ett1/15T`` is ETTm1 as shipped; ``ett1/H`` sums each 4 quarter-hour values to one hourly value. Each of
  the 7 channels is one univariate series (GIFT-Eval's ``to_univariate``).
- Horizons: short 48, medium 480, long 720 steps, at both frequencies (6 configurations).
- Test windows: ``w = min(ceil(0.1 * T / H), 20)`` windows of ``H`` steps rolling by ``H``, the last ending at the
  end of the series (the test region is the last ``w * H`` steps); all history before a window is its context.
- Metrics over every target point of a configuration: ``MAE[0.5]``, ``MASE[0.5]`` (each window's absolute error of
  the 0.5 quantile divided by the in-sample seasonal-naive error of its own context, seasonality 24 for H and 96
  for 15T, then the mean), ``ND[0.5] = sum |y - q0.5| / sum |y|``, and "CRPS" = GluonTS'
  ``mean_weighted_sum_quantile_loss``: the mean over the levels 0.1 ... 0.9 of ``2 * sum pinball_q / sum |y|``.
  A point forecast is scored with every quantile equal to it, so its CRPS equals its ND. Also ``MSE[mean]`` of the
  point forecast and the 80% interval coverage (share of targets between the 0.1 and 0.9 quantiles).
- Aggregate: the geometric mean over configurations of each model's ratio to the leaderboard's seasonal naive.

``seasonal_naive`` is the leaderboard's seasonal naive (statsforecast ``SeasonalNaive`` with its default normal
intervals, as GIFT-Eval's ``StatsForecastPredictor`` runs it), so it reproduces the leaderboard's rows; every run
checks that first (``check_seasonal_naive``) and stops when the data does not match GIFT-Eval's.

A forecaster is ``f(contexts: list of (L_i,) arrays, horizon, freq, quantile_levels) -> (quantiles (n, H, Q) or None,
point (n, H))``; ``freq`` is the pandas alias (``"h"``, ``"15min"``); ``None`` quantiles mean a point forecast.
``timeartist`` is the pipeline (``PipelineQuantileForecaster``: ``forecast_quantiles`` when its outpainter has a quantile head, else
its point forecast) with the period detected per series among the frequency's candidates, as ``forecast_df`` does;
``timeartist_period`` gives it GIFT-Eval's seasonality (24 / 96) as the period instead.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy.stats import norm
from tqdm.auto import tqdm

from timeartist.data.ltsf import read_ltsf_csv
from timeartist.data.paths import ltsf_path
from timeartist.evaluation.baselines import repeat_profile
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names
from timeartist.evaluation.metrics import geometric_mean, inside_interval, mase_scale
from timeartist.evaluation.report import ordered, plt, write_results
from timeartist.viz import save_figure

logger = logging.getLogger(__name__)

QUANTILE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TEST_SPLIT, MAX_WINDOWS = 0.1, 20
TERMS = {"short": 48, "medium": 480, "long": 720}
# GIFT-Eval frequency -> (pandas alias, GluonTS seasonality, quarter-hour rows summed per step)
FREQUENCIES = {"H": ("h", 24, 4), "15T": ("15min", 96, 1)}
METHODS = ("seasonal_naive", "timeartist", "timeartist_period")
GEOMETRIC_MEAN = "geometric mean"

# Leaderboard values, SalesforceAIResearch/gift-eval ``results/<model>/all_results.csv``, columns
# ``eval_metrics/MASE[0.5]`` and ``eval_metrics/mean_weighted_sum_quantile_loss`` (3 decimals, as quoted in issue 24).
LEADERBOARD_SOURCE = (
    "SalesforceAIResearch/gift-eval results/<model>/all_results.csv: eval_metrics/MASE[0.5] and "
    "eval_metrics/mean_weighted_sum_quantile_loss (CRPS), 3 decimals"
)
SEASONAL_NAIVE = "Seasonal naive"
LEADERBOARD: dict[str, dict[str, tuple[float, float]]] = {  # model -> config -> (MASE[0.5], CRPS)
    "TiRex": {"ett1/H/short": (0.817, 0.176), "ett1/H/medium": (1.235, 0.252), "ett1/H/long": (1.321, 0.258),
              "ett1/15T/short": (0.709, 0.161), "ett1/15T/medium": (1.014, 0.237), "ett1/15T/long": (1.020, 0.234)},
    "TimesFM-2.5": {"ett1/H/short": (0.839, 0.188), "ett1/H/medium": (1.348, 0.287), "ett1/H/long": (1.447, 0.288),
                    "ett1/15T/short": (0.694, 0.157), "ett1/15T/medium": (1.038, 0.251), "ett1/15T/long": (1.060, 0.255)},
    "Chronos-2": {"ett1/H/short": (0.787, 0.171), "ett1/H/medium": (1.274, 0.261), "ett1/H/long": (1.380, 0.275),
                  "ett1/15T/short": (0.687, 0.165), "ett1/15T/medium": (0.986, 0.233), "ett1/15T/long": (1.013, 0.241)},
    "Chronos-Bolt small": {"ett1/H/short": (0.834, 0.189), "ett1/H/medium": (1.370, 0.295), "ett1/H/long": (1.442, 0.337),
                           "ett1/15T/short": (0.704, 0.169), "ett1/15T/medium": (1.107, 0.288), "ett1/15T/long": (1.193, 0.296)},
    "VisionTS": {"ett1/H/short": (0.850, 0.241), "ett1/H/medium": (1.400, 0.372), "ett1/H/long": (1.420, 0.364),
                 "ett1/15T/short": (0.836, 0.251), "ett1/15T/medium": (1.270, 0.370), "ett1/15T/long": (1.080, 0.320)},
    SEASONAL_NAIVE: {"ett1/H/short": (0.977, 0.240), "ett1/H/medium": (1.568, 0.435), "ett1/H/long": (1.479, 0.471),
                     "ett1/15T/short": (0.934, 0.241), "ett1/15T/medium": (1.188, 0.322), "ett1/15T/long": (1.191, 0.340)},
}  # fmt: skip
# The leaderboard's seasonal-naive MAE[0.5], MASE[0.5] and ND[0.5] (4 decimals) where issue 24 quotes them.
SEASONAL_NAIVE_CHECK = {
    "ett1/H/short": {"mae": 5.8222, "mase": 0.9773, "nd": 0.2717},
    "ett1/H/long": {"mae": 7.7494, "mase": 1.4787, "nd": 0.3711},
    "ett1/15T/short": {"mae": 1.4945, "mase": 0.9342, "nd": 0.2825},
}


@dataclass(frozen=True)
class GiftConfig:
    """One GIFT-Eval configuration of ett1: frequency ``"H"`` or ``"15T"`` and term ``"short"|"medium"|"long"``."""

    freq: str
    term: str

    @property
    def name(self) -> str:
        return f"ett1/{self.freq}/{self.term}"

    @property
    def horizon(self) -> int:
        return TERMS[self.term]

    @property
    def pandas_freq(self) -> str:
        return FREQUENCIES[self.freq][0]

    @property
    def seasonality(self) -> int:
        return FREQUENCIES[self.freq][1]


CONFIGS = tuple(GiftConfig(freq, term) for freq in FREQUENCIES for term in TERMS)


def parse_configs(names: Sequence[str] | None) -> list[GiftConfig]:
    """``["H/short", "ett1/15T/long", ...]`` -> configurations (None: all 6); an unknown name is a ValueError."""
    if names is None:
        return list(CONFIGS)
    known = {c.name: c for c in CONFIGS}
    chosen = []
    for name in names:
        key = name.strip() if name.strip().startswith("ett1/") else f"ett1/{name.strip()}"
        if key not in known:
            raise ValueError(f"unknown GIFT-Eval configuration {name!r}; expected FREQ/TERM with FREQ in H, 15T and TERM in short, medium, long (e.g. H/short)")
        if known[key] not in chosen:
            chosen.append(known[key])
    if not chosen:
        raise ValueError("no GIFT-Eval configuration given; expected e.g. H/short,15T/long")
    return chosen


def load_ett1(freq: str, data_root=None) -> np.ndarray:
    """ett1 at ``freq`` (``"H"`` or ``"15T"``) as (7, T) float64: ETTm1's channels, summed over 4 rows for H."""
    if freq not in FREQUENCIES:
        raise ValueError(f"unknown ett1 frequency {freq!r}; expected one of {list(FREQUENCIES)}")
    values = read_ltsf_csv(ltsf_path("ETTm1", data_root)).to_numpy(dtype=np.float64).T
    rows = FREQUENCIES[freq][2]
    usable = values.shape[1] // rows * rows  # GIFT-Eval's hourly ett1 has only complete hours
    return values[:, :usable].reshape(len(values), -1, rows).sum(axis=-1)


def window_count(length: int, horizon: int) -> int:
    """GIFT-Eval's number of test windows: ``min(max(1, ceil(0.1 * T / H)), 20)``."""
    return min(max(1, math.ceil(TEST_SPLIT * length / horizon)), MAX_WINDOWS)


@dataclass
class GiftWindows:
    """The test windows of a set of series: ``contexts[i]`` (all history before window i) and ``targets (n, H)``."""

    contexts: list[np.ndarray]
    targets: np.ndarray
    series: np.ndarray  # (n,) series index of each window
    windows: int  # windows per series


def rolling_windows(values: np.ndarray, horizon: int, max_windows: int | None = None) -> GiftWindows:
    """GIFT-Eval's rolling test windows of each row of ``values (S, T)``, series-major; ``max_windows`` keeps only the
    last that many windows of each series (for quick runs)."""
    count = window_count(values.shape[1], horizon)
    if count * horizon >= values.shape[1]:
        raise ValueError(f"series of {values.shape[1]} steps are too short for {count} test windows of {horizon} steps")
    first = 0 if max_windows is None else max(0, count - max_windows)
    ends = [values.shape[1] - (count - i) * horizon for i in range(first, count)]
    contexts = [row[:end] for row in values for end in ends]
    targets = np.stack([row[end : end + horizon] for row in values for end in ends])
    return GiftWindows(contexts, targets, np.repeat(np.arange(len(values)), len(ends)), len(ends))


@runtime_checkable
class QuantileForecaster(Protocol):
    """``(contexts, horizon, freq, quantile_levels) -> (quantiles (n, H, Q) or None for a point forecast, point (n, H))``."""

    name: str

    def __call__(self, contexts: list[np.ndarray], horizon: int, freq: str, quantile_levels: Sequence[float]) -> tuple[np.ndarray | None, np.ndarray]: ...


def seasonality_of(freq: str) -> int:
    """GluonTS' seasonality of a pandas alias used here (24 for ``"h"``, 96 for ``"15min"``)."""
    by_alias = {alias: season for alias, season, _ in FREQUENCIES.values()}
    if freq not in by_alias:
        raise ValueError(f"no GIFT-Eval seasonality for frequency {freq!r}; expected one of {list(by_alias)}")
    return by_alias[freq]


class SeasonalNaiveQuantiles:
    """The last season repeated, with statsforecast ``SeasonalNaive``'s normal intervals: quantile q is
    ``point + Phi^-1(q) * sigma * sqrt(floor((h - 1) / m) + 1)`` at step h, where ``sigma^2`` is the mean squared
    seasonal difference of the context (the leaderboard's seasonal naive)."""

    name = "seasonal_naive"

    def __call__(self, contexts, horizon, freq, quantile_levels):
        season = seasonality_of(freq)
        z = norm.ppf(np.asarray(quantile_levels, dtype=np.float64))
        growth = np.sqrt(np.arange(horizon) // season + 1.0)
        points, quantiles = [], []
        for context in contexts:
            if len(context) <= season:
                raise ValueError(f"seasonal_naive needs more than {season} context steps, got {len(context)}")
            point = repeat_profile(context[None, -season:], horizon)[0]
            sigma = np.sqrt(np.mean((context[season:] - context[:-season]) ** 2))
            points.append(point)
            quantiles.append(point[:, None] + (sigma * growth)[:, None] * z[None, :])
        return np.stack(quantiles), np.stack(points)


class PipelineQuantileForecaster:
    """The pipeline's forecast: ``pipe.forecast_quantiles`` when it is ``probabilistic``, else the point forecast
    ``pipe.forecast`` (reported as a point forecast). Contexts of equal length forecast as one batch. The values
    choose each series' period, as in ``forecast`` and ``forecast_df`` (``timeartist``); ``fixed_period=True`` passes
    GIFT-Eval's seasonality (24 or 96) instead (``timeartist_period``)."""

    def __init__(self, pipe, batch_size: int = 256, fixed_period: bool = False):
        self.pipe, self.batch_size, self.fixed_period = pipe, batch_size, fixed_period
        self.name = "timeartist_period" if fixed_period else "timeartist"

    @property
    def probabilistic(self) -> bool:
        return bool(getattr(self.pipe, "probabilistic", False))

    def __call__(self, contexts, horizon, freq, quantile_levels):
        kwargs = {"period": seasonality_of(freq) if self.fixed_period else None, "batch_size": self.batch_size, "progress": False}
        groups: dict[int, list[int]] = defaultdict(list)
        for index, context in enumerate(contexts):
            groups[len(context)].append(index)
        points = np.empty((len(contexts), horizon))
        quantiles = np.empty((len(contexts), horizon, len(quantile_levels))) if self.probabilistic else None
        for members in groups.values():
            batch = np.stack([contexts[i] for i in members])
            if quantiles is None:
                points[members] = self.pipe.forecast(batch, horizon, **kwargs)
            else:
                quantiles[members], points[members] = self.pipe.forecast_quantiles(batch, horizon, quantile_levels=tuple(quantile_levels), **kwargs)
        return quantiles, points


def make_method(name: str, pipe=None, batch_size: int = 256) -> QuantileForecaster:
    """A method by name: ``seasonal_naive``, or ``timeartist`` / ``timeartist_period`` (need ``pipe``)."""
    if name == "seasonal_naive":
        return SeasonalNaiveQuantiles()
    if name in ("timeartist", "timeartist_period"):
        if pipe is None:
            raise ValueError(f"method {name!r} needs a pipeline (pipe=)")
        return PipelineQuantileForecaster(pipe, batch_size, fixed_period=name == "timeartist_period")
    raise ValueError(f"unknown GIFT-Eval method {name!r}; available: {', '.join(METHODS)} (or a QuantileForecaster object)")


def gift_metrics(quantiles: np.ndarray, point: np.ndarray, targets: np.ndarray, scales: np.ndarray, quantile_levels: Sequence[float] = QUANTILE_LEVELS) -> dict:
    """GluonTS metrics over all points (``axis=None``): quantiles (n, H, Q), point (n, H), targets (n, H) and each
    window's seasonal-naive in-sample error ``scales (n,)`` -> mae, mase, nd (of the 0.5 quantile), crps, coverage80
    (0.1-0.9 interval), mse_mean (of the point)."""
    levels = np.asarray(quantile_levels, dtype=np.float64)
    position = {round(float(q), 6): i for i, q in enumerate(levels)}
    missing = [q for q in (0.1, 0.5, 0.9) if q not in position]
    if missing:
        raise ValueError(f"quantile levels must include 0.1, 0.5 and 0.9; missing {missing}")
    median = quantiles[..., position[0.5]]
    error = np.abs(targets - median)
    total = np.abs(targets).sum()
    below = (targets[..., None] <= quantiles).astype(np.float64)
    pinball = 2 * np.abs((targets[..., None] - quantiles) * (below - levels)).sum(axis=(0, 1))
    inside = inside_interval(quantiles[..., position[0.1]], quantiles[..., position[0.9]], targets)
    return {
        "mae": float(error.mean()),
        "mase": float((error / scales[:, None]).mean()),
        "nd": float(error.sum() / total),
        "crps": float((pinball / total).mean()),
        "coverage80": float(inside.mean()),
        "mse_mean": float(np.mean((targets - point) ** 2)),
    }


def _forecast(method: QuantileForecaster, windows: GiftWindows, config: GiftConfig) -> tuple[np.ndarray, np.ndarray, bool]:
    quantiles, point = method(windows.contexts, config.horizon, config.pandas_freq, QUANTILE_LEVELS)
    shape = windows.targets.shape
    point = np.asarray(point, dtype=np.float64)
    if point.shape != shape or not np.isfinite(point).all():
        raise ValueError(f"method {method.name!r} returned a point forecast of shape {point.shape} or with non-finite values, expected {shape}")
    if quantiles is None:  # a point forecast: every quantile is the point, so CRPS = ND
        return np.repeat(point[..., None], len(QUANTILE_LEVELS), axis=-1), point, False
    quantiles = np.asarray(quantiles, dtype=np.float64)
    if quantiles.shape != (*shape, len(QUANTILE_LEVELS)) or not np.isfinite(quantiles).all():
        raise ValueError(f"method {method.name!r} returned quantiles of shape {quantiles.shape} or with non-finite values, expected {(*shape, len(QUANTILE_LEVELS))}")
    return quantiles, point, True


def evaluate_config(method: QuantileForecaster, config: GiftConfig, values: np.ndarray, max_windows: int | None = None) -> dict:
    """Score ``method`` on one configuration of ``values (7, T)`` -> one result row."""
    windows = rolling_windows(values, config.horizon, max_windows)
    scales = np.array([mase_scale(context, config.seasonality) for context in windows.contexts])
    began = time.perf_counter()
    quantiles, point, probabilistic = _forecast(method, windows, config)
    seconds = time.perf_counter() - began
    row = {"config": config.name, "method": method.name, "source": "measured", "series": len(values), "windows": windows.windows,
           "quantiles": probabilistic, **gift_metrics(quantiles, point, windows.targets, scales), "seconds": seconds}  # fmt: skip
    logger.info("%s %s: MASE %.4f CRPS %.4f in %.1f s", config.name, method.name, row["mase"], row["crps"], seconds)
    return row


def check_seasonal_naive(rows: Sequence[dict]) -> pd.DataFrame:
    """Our seasonal-naive rows against the leaderboard's: one row per (config, metric) with ``ours``, ``leaderboard``
    and ``match`` (equal at the leaderboard's decimals)."""
    checks = []
    for row in rows:
        reference = {"mase": LEADERBOARD[SEASONAL_NAIVE][row["config"]][0], "crps": LEADERBOARD[SEASONAL_NAIVE][row["config"]][1]}
        decimals = dict.fromkeys(reference, 3)
        for metric, value in SEASONAL_NAIVE_CHECK.get(row["config"], {}).items():
            reference[metric], decimals[metric] = value, 4  # the 4-decimal value replaces the 3-decimal one
        for metric, value in reference.items():
            match = abs(row[metric] - value) <= 0.5 * 10.0 ** -decimals[metric] + 1e-12
            checks.append({"config": row["config"], "metric": metric, "ours": row[metric], "leaderboard": value, "match": match})
    return pd.DataFrame(checks)


def _leaderboard_rows(configs: Sequence[GiftConfig]) -> list[dict]:
    return [{"config": c.name, "method": model, "source": "leaderboard", "mase": values[c.name][0], "crps": values[c.name][1]}
            for model, values in LEADERBOARD.items() for c in configs]  # fmt: skip


def _with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratios to the leaderboard's seasonal naive per config, plus one geometric-mean row per method."""
    reference = pd.DataFrame(LEADERBOARD[SEASONAL_NAIVE], index=["mase", "crps"]).T
    for metric in ("mase", "crps"):
        frame[f"{metric}_ratio"] = frame[metric] / frame["config"].map(reference[metric])
    summary = [{"config": GEOMETRIC_MEAN, "method": method, "source": group.source.iloc[0],
                "mase_ratio": geometric_mean(group.mase_ratio), "crps_ratio": geometric_mean(group.crps_ratio)}
               for method, group in frame.groupby("method", sort=False)]  # fmt: skip
    return pd.concat([frame, pd.DataFrame(summary)], ignore_index=True)


def run_gift(
    data_root=None,
    methods: Sequence[str | QuantileForecaster] = METHODS,
    configs: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    pipe=None,
    max_windows: int | None = None,
    batch_size: int = 256,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the GIFT-Eval protocol on ett1; one row per (config, method), the leaderboard's rows beside them
    (``source``), ratios to the leaderboard's seasonal naive and a geometric-mean row per method.

    ``seasonal_naive`` always runs first on every configuration and must reproduce the leaderboard's values
    (``check_seasonal_naive``); otherwise the data is not GIFT-Eval's ett1 and a ValueError stops the run before
    any other method. ``methods``: names (``METHODS``; the ``timeartist`` ones need ``pipe``, forecasting
    ``batch_size`` series at a time) or ``QuantileForecaster`` objects. ``max_windows``: score only the last that many windows of each series (a quick run; the check is
    then skipped, since the leaderboard's values are over all windows). With ``out_dir``: ``gift.{csv,json,md}``
    and ``gift_ratios.png``.
    """
    chosen = parse_configs(configs)
    forecasters = [make_method(m, pipe, batch_size) if isinstance(m, str) else m for m in methods]
    if "seasonal_naive" not in [f.name for f in forecasters]:
        forecasters.insert(0, make_method("seasonal_naive"))
    forecasters.sort(key=lambda f: f.name != "seasonal_naive")
    data = {freq: load_ett1(freq, data_root) for freq in dict.fromkeys(c.freq for c in chosen)}

    rows = [evaluate_config(forecasters[0], c, data[c.freq], max_windows) for c in chosen]
    check = check_seasonal_naive(rows)
    if max_windows is None and not check.match.all():
        bad = check[~check.match]
        raise ValueError("the data does not reproduce the GIFT-Eval leaderboard's seasonal naive ("
                         + "; ".join(f"{r.config} {r.metric} {r.ours:.4f} vs {r.leaderboard}" for r in bad.itertuples())
                         + "); expected ETTm1 as shipped in ETT-small under the data root")  # fmt: skip
    began = time.perf_counter()
    for forecaster in forecasters[1:]:
        for config in tqdm(chosen, desc=forecaster.name, leave=False, disable=None):
            rows.append(evaluate_config(forecaster, config, data[config.freq], max_windows))
    frame = _with_ratios(pd.DataFrame(rows + _leaderboard_rows(chosen)))
    frame.attrs["meta"] = {
        "protocol": "GIFT-Eval (gift_eval/data.py, GluonTS evaluate_model axis=None) on ett1 = ETTm1 at 15T and summed to H; "
                    "windows = min(ceil(0.1 T / H), 20) rolling by H to the end, all history as context; 7 univariate series",
        "metrics": "MASE[0.5] (seasonality 24 H / 96 15T), CRPS = mean over 0.1..0.9 of 2 sum pinball / sum |y|, ND[0.5], MAE[0.5], "
                   "coverage80 = share of targets in [q0.1, q0.9]; ratios to the leaderboard's seasonal naive, geometric mean over configs",
        "configs": [c.name for c in chosen],
        "quantile_levels": list(QUANTILE_LEVELS),
        "max_windows": max_windows,
        "leaderboard_source": LEADERBOARD_SOURCE,
        "seasonal_naive_check": "reproduced" if check.match.all() else ("skipped (max_windows)" if max_windows else "failed"),
        "seasonal_naive_values": check.to_dict(orient="records"),
        "model_seconds": time.perf_counter() - began,
    }  # fmt: skip
    if out_dir is not None:
        write_gift_report(frame, out_dir, command)
    return frame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default="seasonal_naive,timeartist", help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--configs", help="comma-separated FREQ/TERM configurations of ett1 (FREQ H or 15T, TERM short, medium or long; default: all 6)")
    parser.add_argument("--batch-size", type=int, default=256, help="series per forecast call")
    parser.add_argument("--quick", action="store_true", help="score the last 2 windows of each series (no leaderboard check; for CI)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    """GIFT-Eval's protocol on ett1, the methods of --methods beside the leaderboard."""
    methods = names(args.methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"--methods: unknown {unknown}; available: {', '.join(METHODS)}")
    configs = [c.name for c in parse_configs(names(args.configs) or None)]
    check_out(args.out)
    pipe = load_pipeline(args) if any(m.startswith("timeartist") for m in methods) else None
    frame = run_gift(
        data_root=args.data_root, methods=methods, configs=configs, out_dir=args.out, pipe=pipe,
        max_windows=2 if args.quick else None, batch_size=args.batch_size, command=args.command_line,
    )  # fmt: skip
    summary = frame[(frame.config == GEOMETRIC_MEAN) & (frame.source == "measured")]
    for row in summary.itertuples():
        logger.info("gift %s: geometric mean of ratios to seasonal naive MASE %.3f, CRPS %.3f", row.method, row.mase_ratio, row.crps_ratio)
    return frame


def _method_order(frame: pd.DataFrame) -> list[str]:
    measured = list(dict.fromkeys(frame.loc[frame.source == "measured", "method"]))
    return ordered(measured, METHODS) + [m for m in LEADERBOARD if m in set(frame.method)]


def results_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows = configs plus the geometric mean of the ratios to seasonal naive, columns = methods (ours first)."""
    part = frame[frame.config != GEOMETRIC_MEAN]
    table = part.pivot_table(index="config", columns="method", values=metric, aggfunc="first", sort=False)
    summary = frame[frame.config == GEOMETRIC_MEAN].set_index("method")[f"{metric}_ratio"]
    table.loc["geometric mean of ratios to seasonal naive"] = summary
    table.index.name = "config"
    return table[_method_order(frame)]


def write_gift_report(frame: pd.DataFrame, out_dir, command: str | None = None) -> dict[str, Path]:
    """``results.{csv,json,md}`` and ``gift_ratios.png`` under ``out_dir``."""
    measured = frame[(frame.source == "measured") & (frame.config != GEOMETRIC_MEAN)]
    check = pd.DataFrame(frame.attrs["meta"]["seasonal_naive_values"])
    check[["ours", "leaderboard"]] = check[["ours", "leaderboard"]].map(lambda v: f"{v:.4f}")  # the check's precision
    check["match"] = check["match"].map({True: "yes", False: "NO"})
    details = measured.set_index(["config", "method"])[["windows", "quantiles", "mae", "nd", "crps", "coverage80", "mse_mean", "seconds"]]
    details = details.astype({"windows": int, "quantiles": bool})
    columns = "columns after ours: the leaderboard's values"
    tables = {
        "Check: our seasonal naive against the leaderboard's (equal at the leaderboard's decimals)": check.set_index("config"),
        f"MASE[0.5] ({columns}; last row: geometric mean of the ratios to the leaderboard's seasonal naive)": results_table(frame, "mase"),
        f"CRPS, the mean weighted quantile loss ({columns}; a point forecast's CRPS is its ND; last row as above)": results_table(frame, "crps"),
        "Our runs: MAE[0.5], ND[0.5], CRPS, 80% interval coverage (share in [q0.1, q0.9]), MSE[mean], seconds": details,
    }
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "GIFT-Eval protocol on ett1 (ETTm1 at 15T and H)", command)
    paths["ratios"] = plot_ratios(frame, Path(out_dir) / "gift_ratios.png")
    return paths


def plot_ratios(frame: pd.DataFrame, path: str | Path) -> Path:
    """Grouped bars of every model's MASE and CRPS ratio to the leaderboard's seasonal naive, per config and their
    geometric mean; the line at 1 is seasonal naive."""
    methods = [m for m in _method_order(frame) if m != SEASONAL_NAIVE]
    groups = list(dict.fromkeys(frame.config))  # configs, then the geometric mean
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.8), sharey=True)
    width = 0.8 / len(methods)
    colours = plt.get_cmap("tab10")
    for ax, metric in zip(axes, ("mase", "crps")):
        table = frame.pivot_table(index="config", columns="method", values=f"{metric}_ratio", aggfunc="first").reindex(groups)
        for i, method in enumerate(methods):
            measured = method in set(frame.loc[frame.source == "measured", "method"])
            ax.bar(np.arange(len(groups)) + (i - (len(methods) - 1) / 2) * width, table[method], width, label=method + ("" if measured else " (leaderboard)"),
                   color=colours(i), edgecolor="black" if measured else "none", linewidth=0.8)  # fmt: skip
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
        ax.set_xticks(np.arange(len(groups)), [g.replace("ett1/", "") for g in groups], rotation=20)
        ax.set_title(f"{metric.upper()} ratio to the leaderboard's seasonal naive (lower is better)")
        ax.set_ylim(0.4, max(1.1, float(np.nanmax(table[methods].to_numpy())) + 0.05))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("ratio (dashed: seasonal naive = 1)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 8), fontsize=8, bbox_to_anchor=(0.5, -0.04))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(fig, path)
