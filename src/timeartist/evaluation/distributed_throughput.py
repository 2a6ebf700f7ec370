"""Throughput of batch forecasting from Parquet to Parquet: one process against Dask with 1 and 2 workers.

Writes ``--series`` synthetic hourly series of ``--length`` steps (daily and weekly seasonality, trend, noise;
integer ids) into ``--files`` long-format Parquet files, then forecasts ``--horizon`` steps of every series with the
bundled model (or ``--model``) through ``timeartist.pipelines.batch.forecast_parquet``, the code behind
``timeartist forecast --input``:

- pandas: one process, torch with one thread;
- dask with N workers: a ``LocalCluster`` of N single-threaded worker processes, one partition per input file,
  hash-partitioned on the id (the shuffle is part of the timed run).

Throughput counts the whole run (read, shuffle, forecast, write) on a cluster whose workers have already loaded the
model. CPU seconds (user + system, from ``getrusage``) are counted for this process (which also hosts the Dask
scheduler) and for every worker process: on a machine that other jobs share, series per CPU second says what a
free core would do, where series per wall second depends on what the other jobs leave. The fixed overhead is reported apart: cluster start, model load per worker (``PipelineRef.load``, timed on
each worker), one run on 10 series (scheduling a small job), and what shipping the pickled pipeline with the tasks
would cost instead of the reference the tasks carry. Every Dask result is checked against the single-process one
(same series, max |difference|). Results: one row per engine, the overhead in the meta data, and
``throughput.png`` (series per wall second and per CPU second by engine). Needs ``pip install 'timeartist[distributed]'``;
``--series 5000`` is a quick check.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, positive_ints
from timeartist.evaluation.report import plot_bar_panels, write_results
from timeartist.pipelines.batch import forecast_parquet

logger = logging.getLogger(__name__)


def write_series(folder: Path, series: int, length: int, files: int, seed: int = 0) -> None:
    """``series`` synthetic hourly series of ``length`` steps, whole series per file, ids 0..series-1."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    stamps = pd.date_range("2024-01-01", periods=length, freq="h").to_numpy()
    for f, ids in enumerate(np.array_split(np.arange(series), files)):
        n = len(ids)
        daily = rng.uniform(0.5, 2, (n, 1)) * np.sin(2 * np.pi * (t + rng.integers(0, 24, (n, 1))) / 24)
        weekly = rng.uniform(0, 1, (n, 1)) * np.sin(2 * np.pi * t / 168)
        trend = rng.normal(0, 0.002, (n, 1)) * t
        values = 10 + daily + weekly + trend + rng.normal(0, 0.3, (n, length))
        frame = pd.DataFrame({"unique_id": np.repeat(ids, length), "ds": np.tile(stamps, n), "y": values.ravel()})
        frame.to_parquet(folder / f"series_{f:03d}.parquet", index=False)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def read_sorted(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder).sort_values(["unique_id", "ds"]).reset_index(drop=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--series", type=int, default=100_000, help="synthetic hourly series")
    parser.add_argument("--length", type=int, default=512, help="steps per series")
    parser.add_argument("--horizon", type=int, default=48, help="forecast horizon")
    parser.add_argument("--files", type=int, default=20, help="input Parquet files (= Dask partitions)")
    parser.add_argument("--workers", default="1,2", help="comma-separated Dask worker counts to measure")
    parser.add_argument("--work", help="scratch folder for the data and outputs (default: a temporary one, removed at the end)")
    add_common_arguments(parser, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    from timeartist.pipelines.distributed import PipelineRef, local_cluster  # the distributed extra

    worker_counts = positive_ints(args.workers, "--workers")
    check_out(args.out)
    torch.set_num_threads(1)  # the protocol: one torch thread in the process, as in each worker
    work = Path(args.work or tempfile.mkdtemp(prefix="timeartist_bench_"))
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    source = str(data / "*.parquet")
    _, seconds = timed(lambda: write_series(data, args.series, args.length, args.files))
    logger.info("wrote %d series x %d steps into %d files in %.1f s", args.series, args.length, args.files, seconds)

    pipe = load_pipeline(args)
    load_before = load_average()
    rows, overhead = [], {}
    cpu = cpu_seconds()
    summary, seconds = timed(lambda: forecast_parquet(pipe, source, work / "pandas", args.horizon, progress=False))
    cpu = cpu_seconds() - cpu
    reference = read_sorted(work / "pandas")
    rows.append({"engine": "pandas (one process, 1 torch thread)", "workers": 1, "seconds": seconds, "series_per_s": args.series / seconds,
                 "cpu_s_workers": cpu, "cpu_s_driver": 0.0, "series_per_cpu_s": args.series / cpu,
                 "forecast_rows": summary.rows, "failed": summary.failed, "max_abs_diff_vs_pandas": 0.0})  # fmt: skip
    logger.info("%s", rows[-1])

    ref = PipelineRef.of(pipe)
    shipped = pickle.dumps(pipe)
    _, unpickle_s = timed(lambda: pickle.loads(shipped))
    overhead["pipeline pickle size (MB), what shipping the model with tasks would send"] = len(shipped) / 1e6
    overhead["pipeline unpickle (s)"] = unpickle_s
    overhead["PipelineRef size (bytes), what each task carries"] = len(pickle.dumps(ref))
    tiny = work / "tiny"
    tiny.mkdir(exist_ok=True)
    pd.read_parquet(data / "series_000.parquet").query(f"unique_id < {10}").to_parquet(tiny / "tiny.parquet", index=False)

    for workers in worker_counts:
        start = time.perf_counter()
        with local_cluster(n_workers=workers) as client:
            overhead[f"{workers} workers: cluster start (s)"] = time.perf_counter() - start
            loads = client.run(lambda: timed(ref.load)[1])
            overhead[f"{workers} workers: model load per worker (s)"] = max(loads.values())
            _, overhead[f"{workers} workers: 10-series job (s)"] = timed(lambda: forecast_parquet(pipe, str(tiny / "*.parquet"), work / f"tiny{workers}", args.horizon, engine="dask", progress=False))
            worker_cpu, driver_cpu = sum(client.run(cpu_seconds).values()), cpu_seconds()
            summary, seconds = timed(lambda: forecast_parquet(pipe, source, work / f"dask{workers}", args.horizon, engine="dask", progress=False))
            worker_cpu, driver_cpu = sum(client.run(cpu_seconds).values()) - worker_cpu, cpu_seconds() - driver_cpu
        result = read_sorted(work / f"dask{workers}")
        same = len(result) == len(reference) and (result.unique_id.to_numpy() == reference.unique_id.to_numpy()).all()
        diff = float(np.abs(result.forecast - reference.forecast).max()) if same else float("nan")
        rows.append({"engine": f"dask, {workers} worker{'s' * (workers > 1)}", "workers": workers, "seconds": seconds, "series_per_s": args.series / seconds,
                     "cpu_s_workers": worker_cpu, "cpu_s_driver": driver_cpu, "series_per_cpu_s": args.series / (worker_cpu + driver_cpu),
                     "forecast_rows": summary.rows, "failed": summary.failed, "max_abs_diff_vs_pandas": diff})  # fmt: skip
        logger.info("%s", rows[-1])

    frame = pd.DataFrame(rows)
    meta = {
        "series": args.series, "length": args.length, "horizon": args.horizon, "files": args.files,
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "uptime_before": load_before, "uptime_after": load_average(), "overhead": overhead,
        "torch": torch.__version__,
    }  # fmt: skip
    overhead_table = pd.DataFrame({"what": list(overhead), "value": list(overhead.values())})
    title = f"Batch forecasting throughput: {args.series:,} series x {args.length} steps, horizon {args.horizon}"
    write_results(frame, args.out, meta, {"Throughput": frame, "Fixed overhead": overhead_table}, title, args.command_line)
    labels = [engine.replace(" (", "\n(") for engine in frame["engine"]]
    panels = [(frame["series_per_s"], "series per wall second", "what the processes got of the machine"),
              (frame["series_per_cpu_s"], "series per CPU second", "what a free core would do")]  # fmt: skip
    plot_bar_panels(labels, panels, Path(args.out) / "throughput.png", tick_size=7)
    if args.work is None:
        shutil.rmtree(work)
    return frame
