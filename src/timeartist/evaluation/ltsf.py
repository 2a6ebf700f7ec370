"""LTSF benchmark runner: every method on the same test windows of the standard protocol.

Protocol (``timeartist.data.LTSFDataset``): ETT 12/4/4-month split, other CSVs 0.7/0.1/0.2, scaler fitted
on train rows only, metrics on the scaled values, test stride 1 with no dropped window, every channel
forecast independently. MSE and MAE per dataset and horizon, plus their mean over horizons ("avg").

Two tables, so that costly models never get a cheaper protocol than the others:

- ``full``: every test window, for the fast methods.
- ``stride S``: when a slow method is requested (the statsforecast models, or any forecaster with
  ``slow = True``), every method is also scored on test windows ``0, S, 2S, ...`` (``stride_stat``).
  The window starts are the same for every horizon, so each horizon keeps the windows that exist for it.
  Keep S co-prime with the period: a multiple of it starts every forecast at the same phase (hour of
  day), which biases the subsample (naive on ETTh1 scores 0.99 at stride 24 against 1.32 on all windows).
- ``quick`` (``quick=True``): a labelled CI subset, every method on windows ``0, 241, 482, ...`` and
  validation windows at the same stride.

``seasonal_mean`` picks its K (number of periods, 1..30) per dataset by the lowest validation MSE averaged
over the run's horizons, unless ``seasonal_mean_k`` fixes it. Each method reads the last
``context`` values of a per-dataset lookback (default ``max(512, 30 * period)``, cut to the train length);
lookback, period and each method's context are logged and saved.

``timeartist bench ltsf`` (``add_arguments`` / ``run``) runs it with the bundled model's forecasters.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from einops import rearrange
from tqdm.auto import tqdm

from timeartist.data import LTSFDataset, ltsf_path
from timeartist.evaluation.baselines import (
    BASELINES,
    INTERVAL,
    STATSFORECAST_MODELS,
    Forecaster,
    make_baseline,
    probabilistic,
    seasonal_mean_errors,
)
from timeartist.evaluation.common import add_common_arguments, check_out, forecasters, name_ints, names, positive_ints
from timeartist.evaluation.metrics import inside_interval
from timeartist.evaluation.report import (
    ForecastExample,
    markdown_table,
    ordered,
    plot_error_by_step,
    plot_forecast_examples,
    write_results,
)

logger = logging.getLogger(__name__)

HORIZONS = (96, 192, 336, 720)
# Seasonal period (steps per day, or per year for weekly data) of the usual LTSF files.
PERIODS = {
    "etth1": 24, "etth2": 24, "ettm1": 96, "ettm2": 96, "electricity": 24, "traffic": 24,
    "weather": 144, "exchange_rate": 1, "illness": 52,
}  # fmt: skip
DEFAULT_LOOKBACK_PERIODS = 30
MIN_LOOKBACK = 512
SEASONAL_MEAN_CANDIDATES = tuple(range(1, 31))
QUICK_STRIDE = 241
SETTINGS_COLUMNS = ("dataset", "protocol", "method", "period", "lookback", "context")
METHOD_ORDER = ("artist", "visionts", "seasonal_mean", "seasonal_naive", "naive", *STATSFORECAST_MODELS)
METHODS_HELP = ("artist", "visionts", "visionts_detected", "visionts_detected_per_channel", *BASELINES)  # --methods


@dataclass
class _Score:
    """Running per-step error sums of one method at one horizon (and how often the 80% interval held the truth)."""

    squared: np.ndarray
    absolute: np.ndarray
    series: int = 0
    covered: int = 0

    def add(self, forecast: np.ndarray, target: np.ndarray, interval: np.ndarray | None) -> None:  # (B, H), (B, H, 2)
        error = forecast - target
        self.squared += np.square(error).sum(axis=0)
        self.absolute += np.abs(error).sum(axis=0)
        self.series += error.shape[0]
        if interval is not None:
            self.covered += int(inside_interval(interval[..., 0], interval[..., 1], target).sum())


@dataclass
class _Dataset:
    """The test windows of one dataset at every horizon, sharing one lookback."""

    name: str
    period: int
    lookback: int
    by_horizon: dict[int, LTSFDataset] = field(default_factory=dict)

    @property
    def num_windows(self) -> int:  # windows of the shortest horizon: every window start of the run
        return self.by_horizon[min(self.by_horizon)].num_windows


def is_slow(forecaster: Forecaster) -> bool:
    """Slow methods are scored on the strided subsample only."""
    return forecaster.name in STATSFORECAST_MODELS or bool(getattr(forecaster, "slow", False))


def context_used(forecaster: Forecaster, lookback: int, period: int) -> int:
    """How many context steps ``forecaster`` reads out of ``lookback`` (for the report)."""
    steps = {"naive": 1, "seasonal_naive": period}.get(forecaster.name)
    if forecaster.name == "seasonal_mean":
        steps = forecaster.k * period
    if steps is None and hasattr(forecaster, "context_steps"):
        steps = forecaster.context_steps(period)
    steps = steps or getattr(forecaster, "context_length", None) or lookback
    return min(steps, lookback)


def dataset_period(name: str, periods: Mapping[str, int] | None = None) -> int:
    """Seasonal period of a dataset: ``periods`` (any case) overrides the built-in ``PERIODS``."""
    table = {**PERIODS, **{k.lower(): int(v) for k, v in (periods or {}).items()}}
    key = Path(name).stem.lower() if name.lower() not in table else name.lower()
    if key not in table:
        raise ValueError(f"no seasonal period known for dataset {name!r}; pass periods={{{name!r}: P}} (known: {sorted(PERIODS)})")
    return table[key]


def _open_dataset(name: str, data_root, horizons: Sequence[int], periods: Mapping[str, int] | None, lookback: int | None) -> _Dataset:
    path = ltsf_path(name, data_root)  # unknown names and a missing root fail here, listing what exists
    period = dataset_period(name, periods)
    train = LTSFDataset(path, "train", seq_len=1, pred_len=1)
    train_rows, (test_start, test_end) = train.borders.train[1], train.borders.test
    too_long = [h for h in horizons if h > test_end - test_start]
    if too_long:
        raise ValueError(f"horizons {too_long} are longer than the test range of {name} ({test_end - test_start} rows)")
    lookback = lookback or min(max(MIN_LOOKBACK, DEFAULT_LOOKBACK_PERIODS * period), train_rows)
    if lookback > train_rows:
        raise ValueError(f"lookback {lookback} for {name} is longer than its train range ({train_rows} rows)")
    data = _Dataset(name, period, lookback)
    for horizon in sorted(horizons):
        data.by_horizon[horizon] = LTSFDataset(path, "test", seq_len=lookback, pred_len=horizon)
    return data


def select_seasonal_mean_k(
    name: str, data_root, horizons: Sequence[int], period: int, lookback: int, stride: int = 1, batch_size: int = 256
) -> tuple[int, dict[int, float]]:
    """Choose seasonal_mean's K on the validation split: lowest MSE averaged over ``horizons``.

    Candidates are 1..30 periods that fit in ``lookback``. Returns ``(k, {k: mean validation MSE})``.
    """
    candidates = [k for k in SEASONAL_MEAN_CANDIDATES if k * period <= lookback]
    if not candidates:
        raise ValueError(f"lookback {lookback} of {name} is shorter than one period ({period})")
    mean_mse = np.zeros(len(candidates))
    for horizon in horizons:
        val = LTSFDataset(ltsf_path(name, data_root), "val", seq_len=max(candidates) * period, pred_len=horizon)
        contexts, targets = val.windows()
        squared, count = np.zeros(len(candidates)), 0
        for start in range(0, val.num_windows, batch_size * stride):
            picked = slice(start, min(start + batch_size * stride, val.num_windows), stride)
            rows = rearrange(contexts[picked], "w c l -> (w c) l")
            squared += seasonal_mean_errors(rows, rearrange(targets[picked], "w c h -> (w c) h"), period, candidates)[0]
            count += rows.shape[0] * horizon
        mean_mse += squared / count / len(horizons)
    best = candidates[int(np.argmin(mean_mse))]
    logger.info("%s: seasonal_mean K=%d (validation MSE %.4f)", name, best, mean_mse.min())
    return best, dict(zip(candidates, mean_mse.tolist()))


def _score(
    forecaster: Forecaster, data: _Dataset, windows: np.ndarray, batch_size: int, desc: str
) -> tuple[dict[int, _Score], ForecastExample]:
    """Forecast the given window starts of every horizon; also return window 0 of the target channel."""
    horizons = sorted(data.by_horizon)
    longest = horizons[-1]
    contexts = data.by_horizon[horizons[0]].windows()[0]  # (W, C, L): a window's context is the same at every horizon
    channels = contexts.shape[1]
    targets = {h: data.by_horizon[h].windows()[1] for h in horizons}
    scores = {h: _Score(np.zeros(h), np.zeros(h)) for h in horizons}
    example = None
    horizon_free = bool(getattr(forecaster, "horizon_free", False))
    for start in tqdm(range(0, len(windows), batch_size), desc=desc, leave=False, disable=None):
        batch = windows[start : start + batch_size]
        rows = rearrange(contexts[batch], "w c l -> (w c) l")
        shared = _checked(forecaster, rows, longest, data.period, channels) if horizon_free else None
        for h in horizons:
            valid = batch[batch < data.by_horizon[h].num_windows]
            if valid.size == 0:
                continue
            count = valid.size * channels
            if horizon_free:
                forecast, interval = shared[0][:count, :h], None if shared[1] is None else shared[1][:count, :h]
            else:
                forecast, interval = _checked(forecaster, rows[:count], h, data.period, channels)
            scores[h].add(forecast, rearrange(targets[h][valid], "w c h -> (w c) h"), interval)
            if example is None and h == longest:
                example = ForecastExample(rows[channels - 1], targets[h][valid[0], channels - 1], {forecaster.name: forecast[channels - 1]})
    return scores, example


def _evaluate(
    method: Forecaster, data: _Dataset, protocol: str, windows: np.ndarray, batch_size: int
) -> tuple[list[dict], np.ndarray, ForecastExample]:
    """Result rows of one method on one dataset and protocol, its per-step MSE at the longest horizon, an example."""
    began = time.perf_counter()
    scores, example = _score(method, data, windows, batch_size, f"{data.name} {method.name} ({protocol})")
    seconds = time.perf_counter() - began
    logger.info("%s %s %s: %.1f s", data.name, protocol, method.name, seconds)
    common = dict(dataset=data.name, protocol=protocol, method=method.name, period=data.period, lookback=data.lookback,
                  context=context_used(method, data.lookback, data.period))  # fmt: skip
    rows = [
        {**common, "horizon": h, "mse": score.squared.sum() / (score.series * h), "mae": score.absolute.sum() / (score.series * h),
         "coverage80": score.covered / (score.series * h) if probabilistic(method) else np.nan,
         "windows": score.series // data.by_horizon[h].num_channels, "series": score.series, "seconds": seconds}  # fmt: skip
        for h, score in scores.items()
    ]
    longest = scores[max(scores)]
    return rows, longest.squared / longest.series, example


def _checked(forecaster: Forecaster, rows: np.ndarray, horizon: int, period: int, channels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The forecast (R, H) of rows (R, L), one per channel of R / channels windows, checked for shape and finiteness,
    and for a probabilistic forecaster its ``INTERVAL`` quantiles (R, H, 2) (else None); a ``multivariate``
    forecaster gets and returns the windows whole, (W, L, C) -> (W, H, C)."""
    multivariate = getattr(forecaster, "multivariate", False)
    x = rearrange(rows, "(w c) l -> w l c", c=channels) if multivariate else rows
    if probabilistic(forecaster):
        quantiles, forecast = forecaster.forecast_quantiles(x, horizon, period, INTERVAL)
        quantiles = np.asarray(quantiles, dtype=np.float64)
    else:
        quantiles, forecast = None, forecaster(x, horizon, period)
    forecast = np.asarray(forecast, dtype=np.float64)
    expected = (len(x), horizon, channels) if multivariate else (rows.shape[0], horizon)
    if multivariate and forecast.shape == expected:
        forecast = rearrange(forecast, "w h c -> (w c) h")
        quantiles = None if quantiles is None else rearrange(quantiles, "w h c q -> (w c) h q")
    if forecast.shape != (rows.shape[0], horizon) or not np.isfinite(forecast).all():
        raise ValueError(
            f"method {forecaster.name!r} returned shape {forecast.shape} (finite: {np.isfinite(forecast).all()}), "
            f"expected finite values of shape {expected}"
        )
    return forecast, quantiles


def _resolve_methods(methods: Sequence[str | Forecaster], stat_context: int | None, n_jobs: int | None) -> list[str | Forecaster]:
    """Validate names early; seasonal_mean stays a name because its K is chosen per dataset."""
    resolved, names = [], []
    for method in methods:
        if isinstance(method, str):
            if method not in BASELINES:
                raise ValueError(
                    f"unknown method {method!r}; available: {', '.join(BASELINES)} "
                    "(artist and visionts come from the pipeline as forecaster objects)"
                )
            resolved.append(method if method == "seasonal_mean" else make_baseline(method, context_length=stat_context, n_jobs=n_jobs))
        else:
            resolved.append(method)
        names.append(method if isinstance(method, str) else method.name)
    if len(set(names)) != len(names):
        raise ValueError(f"methods must be unique, got {names}")
    if not resolved:
        raise ValueError(f"no methods given; available: {', '.join(BASELINES)}")
    return resolved


def run_ltsf(
    data_root=None,
    datasets: Sequence[str] = ("ETTh1", "ETTh2", "ETTm1"),
    horizons: Sequence[int] = HORIZONS,
    methods: Sequence[str | Forecaster] = ("naive", "seasonal_naive", "seasonal_mean"),
    out_dir: str | Path | None = None,
    lookback: Mapping[str, int] | None = None,
    periods: Mapping[str, int] | None = None,
    stride_stat: int = 97,
    quick: bool = False,
    batch_size: int = 256,
    seasonal_mean_k: Mapping[str, int] | None = None,
    stat_context: int | None = 336,
    n_jobs: int | None = 1,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the LTSF benchmark; return one row per (dataset, protocol, method, horizon incl. "avg").

    ``methods``: baseline names (``naive``, ``seasonal_naive``, ``seasonal_mean``, ``auto_ets``,
    ``auto_arima``, ``auto_theta``) or ``Forecaster`` objects (``artist``, ``visionts``).
    ``lookback`` / ``periods`` / ``seasonal_mean_k``: per-dataset overrides. ``stat_context`` and
    ``n_jobs``: context length and worker processes of the statsforecast models. With ``out_dir`` the
    results are written there as ``results.{json,csv,md}`` (``command``: the command line, shown first),
    ``error_by_horizon.png`` and ``forecast_examples.png``. Columns: dataset, protocol, method, horizon, mse, mae,
    coverage80 (share of targets inside the 0.1-0.9 quantiles, for methods with ``forecast_quantiles``; else NaN),
    windows (per channel), series, period, lookback, context, seconds (wall time of the method on that dataset).
    The run's settings are in ``frame.attrs["meta"]``.
    """
    horizons = sorted({int(h) for h in horizons})
    if not datasets or not horizons or min(horizons) < 1:
        raise ValueError(f"need at least one dataset and positive horizons, got datasets={list(datasets)}, horizons={horizons}")
    if stride_stat < 1 or batch_size < 1:
        raise ValueError(f"stride_stat and batch_size must be >= 1, got {stride_stat} and {batch_size}")
    resolved = _resolve_methods(methods, stat_context, n_jobs)
    for name in datasets:
        ltsf_path(name, data_root)  # unknown names and a missing root fail before any work, listing what exists
    rows, settings, k_search, curves, examples = [], [], {}, {}, {}
    for name in datasets:
        data = _open_dataset(name, data_root, horizons, periods, (lookback or {}).get(name))
        period = data.period
        per_method = []
        for method in resolved:
            if method == "seasonal_mean":
                k = (seasonal_mean_k or {}).get(name)
                if k is None:
                    k, k_search[name] = select_seasonal_mean_k(
                        name, data_root, horizons, period, data.lookback, stride=QUICK_STRIDE if quick else 1, batch_size=batch_size
                    )
                method = make_baseline("seasonal_mean", k=k)
            per_method.append(method)
        every = np.arange(data.num_windows)
        if not quick and stride_stat > 1 and stride_stat % period == 0 and any(map(is_slow, per_method)):
            logger.warning("%s: stride %d is a multiple of the period %d, so every subsampled window starts at the same phase", name, stride_stat, period)
        protocols = (
            [(f"quick (stride {QUICK_STRIDE})", every[::QUICK_STRIDE], per_method)]
            if quick
            else [("full", every, [m for m in per_method if not is_slow(m)])]
            + ([(f"stride {stride_stat}", every[::stride_stat], per_method)] if any(map(is_slow, per_method)) else [])
        )
        example = None
        for protocol, windows, group in protocols:
            for method in group:
                method_rows, curve, shown = _evaluate(method, data, protocol, windows, batch_size)
                rows += method_rows
                curves.setdefault(f"{name} ({protocol}), h={horizons[-1]}", {})[method.name] = curve
                example = example or shown
                example.forecasts.setdefault(method.name, shown.forecasts[method.name])
                settings.append({k: method_rows[0][k] for k in SETTINGS_COLUMNS})
        example.title = f"{name}, channel {data.by_horizon[horizons[-1]].channels[-1]}, test window 0, h={horizons[-1]}"
        examples[name] = example
    frame = _with_averages(pd.DataFrame(rows))
    meta = {
        "protocol": "LTSF: train-only scaler, scaled metrics, stride-1 test windows, channel-independent",
        "datasets": list(datasets),
        "horizons": horizons,
        "quick": quick,
        "stride_stat": stride_stat,
        "stat_context": stat_context,
        "settings": settings,
        "seasonal_mean_k": {m["dataset"]: m["context"] // m["period"] for m in settings if m["method"] == "seasonal_mean"},
        "seasonal_mean_validation_mse": k_search,
    }
    frame.attrs["meta"] = meta
    logger.info("lookback, period and context per method:\n%s", markdown_table(pd.DataFrame(settings)))
    if out_dir is not None:
        write_ltsf_report(frame, out_dir, curves, examples, command)
    return frame


def _with_averages(frame: pd.DataFrame) -> pd.DataFrame:
    averages = frame.groupby(list(SETTINGS_COLUMNS), sort=False).agg(mse=("mse", "mean"), mae=("mae", "mean"), coverage80=("coverage80", "mean"), seconds=("seconds", "first")).reset_index()
    averages["horizon"] = "avg"
    combined = pd.concat([frame, averages], ignore_index=True)
    combined["horizon"] = combined["horizon"].astype(str)
    combined[["windows", "series"]] = combined[["windows", "series"]].astype("Int64")  # empty for "avg" rows
    return combined


def results_table(frame: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """``MSE / MAE`` strings (``[coverage]`` of the 80% interval for probabilistic methods) with rows (dataset,
    horizon) and one column per method, for one protocol."""
    part = frame[frame["protocol"] == protocol]
    cells = part.assign(cell=[f"{m:.3f} / {a:.3f}" + ("" if np.isnan(c) else f" [{c:.2f}]") for m, a, c in zip(part["mse"], part["mae"], part["coverage80"])])
    table = cells.pivot_table(index=["dataset", "horizon"], columns="method", values="cell", aggfunc="first", sort=False)
    return table[ordered(table.columns, METHOD_ORDER)]


def write_ltsf_report(frame: pd.DataFrame, out_dir, curves, examples, command: str | None = None) -> dict[str, Path]:
    """CSV / JSON / markdown of ``frame`` plus the two PNG plots, under ``out_dir``."""
    tables = {f"MSE / MAE, {p}": results_table(frame, p) for p in frame["protocol"].unique()}
    tables["Lookback, period and context per method"] = pd.DataFrame(frame.attrs["meta"]["settings"])
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "LTSF benchmark", command)
    paths["error_by_horizon"] = plot_error_by_step(curves, Path(out_dir) / "error_by_horizon.png", ylabel="MSE (scaled)")
    paths["forecast_examples"] = plot_forecast_examples(examples, Path(out_dir) / "forecast_examples.png")
    return paths


# ---------------------------------------------------------------------------------------------- timeartist bench ltsf
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", default="ETTh1,ETTh2,ETTm1", help="comma-separated LTSF dataset names")
    parser.add_argument("--horizons", default="96,192,336,720", help="comma-separated forecast horizons")
    parser.add_argument("--methods", default="visionts,seasonal_mean,seasonal_naive,naive,auto_ets",
                        help=f"comma-separated: {', '.join(METHODS_HELP)}")  # fmt: skip
    parser.add_argument("--stride-stat", type=int, default=97, help="test-window stride of the table that includes the statsforecast models")
    parser.add_argument("--stat-context", type=int, default=336, help="context length of the statsforecast models")
    parser.add_argument("--lookback", help="per-dataset lookback, e.g. ETTh1=2880,ETTh2=1728 (default: max(512, 30 periods))")
    parser.add_argument("--seasonal-mean-k", help="fix seasonal_mean's K per dataset instead of choosing it on validation, e.g. ETTh1=30")
    parser.add_argument("--batch-size", type=int, default=256, help="series per forecast call")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the statsforecast models")
    parser.add_argument("--quick", action="store_true", help=f"a labelled CI subset: test windows 0, {QUICK_STRIDE}, {2 * QUICK_STRIDE}, ... for every method")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    datasets, horizons = names(args.datasets), positive_ints(args.horizons, "--horizons")
    lookback, seasonal_mean_k = name_ints(args.lookback, "--lookback"), name_ints(args.seasonal_mean_k, "--seasonal-mean-k")
    unknown = [m for m in names(args.methods) if m not in METHODS_HELP]
    if unknown:
        raise ValueError(f"unknown --methods {unknown}; available: {', '.join(METHODS_HELP)}")
    check_out(args.out)
    return run_ltsf(
        data_root=args.data_root, datasets=datasets, horizons=horizons, methods=forecasters(args, names(args.methods)),
        out_dir=args.out, stride_stat=args.stride_stat, quick=args.quick, batch_size=args.batch_size, n_jobs=args.jobs,
        stat_context=args.stat_context, lookback=lookback, seasonal_mean_k=seasonal_mean_k, command=args.command_line,
    )  # fmt: skip
