"""Forecasting and conversion of long frames on Dask (the ``timeartist[distributed]`` extra).

    from timeartist.pipelines.distributed import local_cluster

    with local_cluster(n_workers=2):                                  # or distributed.Client("tcp://scheduler:8786")
        lazy = pipe.forecast_df("data/*.parquet", horizon=24)          # Dask DataFrame: unique_id, ds, forecast
        forecasts, errors = pipe.forecast_df(ddf, 24, errors="collect")
        forecasts, errors = dask.compute(forecasts, errors)             # together: each partition runs once

How: the frame (or the Parquet files, read by ``dask.dataframe.read_parquet``) is hash-partitioned on the id column,
so every series is whole in one partition (Parquet files that already hold whole series are not shuffled; see
``by_series``), and each partition goes through the pipeline's own pandas method
(``forecast_df`` / ``series_to_image_df``) on a worker. The results therefore equal the single-process ones (up to
float32 rounding of different batch compositions). A task carries a ``PipelineRef`` (the model folder, device and
forecast defaults: a few hundred bytes), never the model: each worker process loads the pipeline from that folder
on its first task and keeps it (``PipelineRef.load``); torch runs one thread per Dask task thread. So the folder must be
readable on every worker (the bundled model always is), and a pipeline built or changed in memory must be saved
with ``save_pretrained`` and loaded with ``from_pretrained`` first.

Faults: a worker process that dies is restarted by its nanny and the scheduler re-runs its tasks elsewhere (part
files are written atomically under fixed names, so a re-run replaces, never duplicates). A series with bad data
goes to the errors frame with ``errors="collect"``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import torch
from distributed import Client, LocalCluster, as_completed, get_client, get_worker
from tqdm.auto import tqdm

from timeartist.hub import DEFAULT_MODEL_DIR
from timeartist.pipelines.frames import ERRORS
from timeartist.pipelines.parquet import BatchSummary, check_columns, parquet_files, write_errors, write_part

logger = logging.getLogger(__name__)

UNSET_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
_PIPELINES: dict["PipelineRef", object] = {}  # per worker process: loaded once, reused by every task
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class PipelineRef:
    """What a task carries instead of the model: the pipeline's class (pickled by name), its folder (None: the bundled
    model), the device and the forecast defaults (JSON), so that the workers forecast exactly as the pipeline in the
    driver. Holding the class keeps this engine below the pipeline facade, which imports it."""

    pipeline_class: type
    path: str | None
    device: str
    forecast_defaults: str

    @classmethod
    def of(cls, pipe) -> "PipelineRef":
        if pipe.pretrained_path is None:
            raise ValueError(
                "Dask workers load the pipeline from its folder, and this one was built in memory: "
                "save it with pipe.save_pretrained(folder) and load it with TimeArtistPipeline.from_pretrained(folder)"
            )
        path = None if pipe.pretrained_path == DEFAULT_MODEL_DIR.resolve() else str(pipe.pretrained_path)
        return cls(type(pipe), path, str(pipe.device), json.dumps(pipe.forecast_defaults, sort_keys=True))

    def load(self):
        """The pipeline, loaded on the first call in this process and cached."""
        with _LOAD_LOCK:
            if self not in _PIPELINES:
                start = time.perf_counter()
                pipe = self.pipeline_class.from_pretrained(self.path, device=self.device)
                pipe.forecast_defaults = json.loads(self.forecast_defaults)
                _PIPELINES[self] = pipe
                logger.info("loaded the pipeline from %s in %.2f s (pid %d)", self.path or "the bundled model", time.perf_counter() - start, os.getpid())
            return _PIPELINES[self]


def _on_worker() -> bool:
    try:
        get_worker()
        return True
    except ValueError:
        return False


@contextmanager
def local_cluster(n_workers: int | None = None, **kwargs) -> Iterator[Client]:
    """A Dask ``LocalCluster`` of ``n_workers`` single-threaded worker processes (default: one per core) and a
    ``Client`` on it, both closed on exit. ``kwargs`` go to ``LocalCluster`` (e.g. ``memory_limit``).

    The workers start without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: setting it turns off glibc's dynamic
    mmap threshold, so every array of the forecast is mapped and unmapped anew, which cost 4 to 9 times the system
    time and about 1.5 times the CPU of the same partitions without it (BENCHMARKS.md section 7). For a cluster of
    your own, set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` to None the same way."""
    with (
        dask.config.set({UNSET_MALLOC_TRIM: None}),
        LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, **kwargs) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def connect(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Client]:
    """A ``Client`` of the scheduler at ``scheduler`` (e.g. "tcp://10.0.0.1:8786"; the cluster stays up on exit),
    or of a new ``local_cluster(n_workers)``."""
    if scheduler is None:
        with local_cluster(n_workers) as client:
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def read_long_frame(source, columns: tuple[str, str, str]) -> dd.DataFrame:
    """A Dask DataFrame, or Parquet files (a file, folder, glob or remote URL), reduced to ``columns``."""
    columns = list(columns)
    if isinstance(source, (str, os.PathLike)):
        if "://" in str(source):
            return dd.read_parquet(str(source), columns=columns)
        files = parquet_files(source)
        check_columns(files, columns)
        return dd.read_parquet(files, columns=columns)
    missing = [c for c in columns if c not in source.columns]
    if missing:
        raise ValueError(f"columns {missing} not found; the frame has {list(source.columns)}")
    return source[columns]


def by_series(frame: dd.DataFrame, id_col: str, check_layout: bool) -> dd.DataFrame:
    """Hash-partition on ``id_col`` (same number of partitions) so that every series is whole in one partition.

    check_layout: first read the id column alone and keep the partitions as they are when no id appears in two of
    them (Parquet files written one group of series per file need no shuffle; reading one column is cheap, while
    a user's Dask frame may be expensive to compute twice, so it is shuffled without the check)."""
    if frame.npartitions == 1:
        return frame
    if check_layout and frame[id_col].map_partitions(pd.Series.drop_duplicates).compute().is_unique:
        logger.info("every series is whole in one of the %d partitions; no shuffle", frame.npartitions)
        return frame
    return frame.shuffle(on=id_col, npartitions=frame.npartitions)


def _run_partition(part: pd.DataFrame, ref: PipelineRef, pipe_method: str, kwargs: dict):
    """One partition through the pipeline's pandas ``pipe_method`` on this worker (a frame, or (frame, errors))."""
    if _on_worker() and torch.get_num_threads() != 1:
        torch.set_num_threads(1)  # parallelism comes from the worker's task threads; one torch thread each
    return getattr(ref.load(), pipe_method)(part, **kwargs)


def _partitions(pipe, pipe_method: str, source, kwargs: dict) -> tuple[list, tuple[pd.DataFrame, pd.DataFrame], PipelineRef]:
    """The partitions (delayed pandas frames, each holding whole series), the method's empty (result, errors)
    frames as Dask meta (no series, so no model runs), and the reference the tasks carry."""
    if kwargs["errors"] not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {kwargs['errors']!r}")
    frame = read_long_frame(source, (kwargs["id_col"], kwargs["time_col"], kwargs["target"]))
    frame = by_series(frame, kwargs["id_col"], check_layout=isinstance(source, (str, os.PathLike)))
    meta = getattr(pipe, pipe_method)(frame._meta, **{**kwargs, "errors": "collect"})
    return frame.to_delayed(), meta, PipelineRef.of(pipe)


def map_long_frame(pipe, pipe_method: str, source, **kwargs):
    """``pipe.<pipe_method>`` ("forecast_df" or "series_to_image_df") over a Dask DataFrame or Parquet files -> a lazy
    Dask DataFrame with the columns of the pandas result, or with ``errors="collect"`` a (result, errors) pair
    built on the same partition tasks (compute them together, e.g. ``dask.compute(result, errors)``)."""
    parts, (meta, errors_meta), ref = _partitions(pipe, pipe_method, source, kwargs)
    if kwargs["errors"] == "raise":
        return dd.from_delayed([dask.delayed(_run_partition)(p, ref, pipe_method, kwargs) for p in parts], meta=meta)
    pairs = [dask.delayed(_run_partition, nout=2)(p, ref, pipe_method, kwargs) for p in parts]
    return dd.from_delayed([r for r, _ in pairs], meta=meta), dd.from_delayed([e for _, e in pairs], meta=errors_meta)


def _write_partition(part: pd.DataFrame, ref: PipelineRef, pipe_method: str, kwargs: dict, out: str, index: int) -> tuple[int, pd.DataFrame]:
    """One partition -> ``out/part.<index>.parquet``; returns its row count and its errors frame."""
    frame, errors = _run_partition(part, ref, pipe_method, kwargs)
    write_part(frame, Path(out), index)
    return len(frame), errors


def write_parts(pipe, pipe_method: str, source, out: Path, progress: bool | None = None, **kwargs) -> BatchSummary:
    """Run ``pipe.<pipe_method>`` per partition on the current Dask client, each task writing its part file into ``out``
    (and the errors of all parts into ``out/_errors.parquet``), with a progress bar over finished partitions."""
    client = get_client()
    kwargs = {**kwargs, "errors": "collect"}
    parts, _, ref = _partitions(pipe, pipe_method, source, kwargs)
    futures = client.compute([dask.delayed(_write_partition)(p, ref, pipe_method, kwargs, str(out), i) for i, p in enumerate(parts)])
    rows, errors = 0, []
    for future in tqdm(as_completed(futures), total=len(futures), desc=f"{pipe_method} partitions", disable=None if progress is None else not progress):
        count, failed = future.result()
        rows += count
        errors.append(failed)
    return BatchSummary(rows, write_errors(errors, out), len(futures), out)
