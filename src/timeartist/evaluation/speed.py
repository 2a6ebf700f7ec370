"""Speed benchmark: throughput and peak memory of the pipeline's user-facing calls, per batch size, on one device.

Operations (inputs are seeded synthetic data of the shapes a user passes):

- ``series_to_image``: B series of the tokenizer length -> B images;
- ``image_to_series``: B images of the tokenizer size -> B series;
- ``forecast_visionts`` / ``forecast_artist``: B contexts of ``CONTEXT_PERIODS`` daily periods (24 steps) -> B
  forecasts of ``HORIZON`` steps (period given, so no detection time is included);
- ``forecast_quantiles``: the same contexts -> the 9 quantiles 0.1 ... 0.9 and the mean (pipelines with a quantile
  head; the row is left out, with a warning, for one without);
- ``classify``: B series -> B labels, after ``fit_classifier`` on a small labelled set (on a copy of the pipeline,
  so the caller's fitted classifier is untouched).

Each (operation, batch size) gets one untimed warm-up call, then is repeated until ``min_seconds`` have passed
(at least once, at most ``MAX_REPEATS`` times). ``seconds_per_call`` is the median call (robust to other processes
on a shared machine) and ``items_per_second`` = B / seconds_per_call.

Peak memory, measured in one further untimed call so that tracing does not slow the timed ones:

- CUDA: ``device_peak_mb``, ``torch.cuda.max_memory_allocated`` during the call (after ``reset_peak_memory_stats``):
  the tensors the call held at its peak, weights included.
- every device: ``python_peak_mb``, the ``tracemalloc`` peak during the call: NumPy arrays and Python objects the
  call allocated (PyTorch CPU tensors are not traced); and ``process_peak_rss_mb``, ``resource.getrusage`` max RSS
  after the call: the whole process's high-water mark so far (monotone over the run, weights and data included),
  so a row raises it only when that call needed more memory than anything before it.

``timeartist bench speed`` (``add_arguments`` / ``run``) measures the bundled model (or --model) on --device.
"""

from __future__ import annotations

import argparse
import copy
import logging
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names, positive_ints  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)

OPERATIONS = ("series_to_image", "image_to_series", "forecast_visionts", "forecast_quantiles", "forecast_artist", "classify")
PERIOD = 24
CONTEXT_PERIODS = 20
HORIZON = 96
MAX_REPEATS = 50
CLASSIFIER_TRAIN_PER_CLASS = 2
MB = 2**20
SEED = 0


def _seasonal(batch: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, length) daily-periodic series with noise and a random phase per row."""
    t = np.arange(length)[None] + rng.integers(0, PERIOD, (batch, 1))
    return np.sin(2 * np.pi * t / PERIOD) + 0.3 * rng.standard_normal((batch, length))


def _classifier_copy(pipe, length: int, rng: np.random.Generator):
    """A shallow copy of ``pipe`` with a classifier fitted on two synthetic classes (sine vs square wave)."""
    t = np.arange(length)[None] + rng.integers(0, PERIOD, (CLASSIFIER_TRAIN_PER_CLASS, 1))
    sine = np.sin(2 * np.pi * t / PERIOD)
    series = np.concatenate([sine, np.sign(sine)]) + 0.1 * rng.standard_normal((2 * CLASSIFIER_TRAIN_PER_CLASS, length))
    labels = np.repeat(["sine", "square"], CLASSIFIER_TRAIN_PER_CLASS)
    return copy.copy(pipe).fit_classifier(series, labels)


def _operations(pipe, classifier, batch: int, rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """Zero-argument calls of each operation on a batch of ``batch`` inputs (``classifier``: a fitted pipeline,
    or ``None`` when classification is not measured)."""
    length, size = pipe.temporal.seq_len, pipe.visual.config.image_size
    series = _seasonal(batch, length, rng)
    images = torch.from_numpy(rng.random((batch, 3, size, size), dtype=np.float32))
    context = _seasonal(batch, CONTEXT_PERIODS * PERIOD, rng)
    kwargs = dict(batch_size=batch, progress=False)
    return {
        "series_to_image": lambda: pipe.series_to_image(series, **kwargs),
        "image_to_series": lambda: pipe.image_to_series(images, **kwargs),
        "forecast_visionts": lambda: pipe.forecast(context, HORIZON, method="visionts", period=PERIOD, **kwargs),
        "forecast_quantiles": lambda: pipe.forecast_quantiles(context, HORIZON, period=PERIOD, **kwargs),
        "forecast_artist": lambda: pipe.forecast(context, HORIZON, method="artist", **kwargs),
        "classify": lambda: classifier.classify(series),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(call: Callable[[], object], device: torch.device, min_seconds: float) -> tuple[float, int]:
    """Median seconds per call and calls timed, after one untimed warm-up call."""
    call()
    _sync(device)
    durations, began = [], time.perf_counter()
    while len(durations) < MAX_REPEATS and (not durations or time.perf_counter() - began < min_seconds):
        start = time.perf_counter()
        call()
        _sync(device)
        durations.append(time.perf_counter() - start)
    return float(np.median(durations)), len(durations)


def _max_rss_mb() -> float:
    """Process max RSS in MB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak * 1024 / MB


def _memory(call: Callable[[], object], device: torch.device) -> dict[str, float]:
    """Peak memory of one call (see the module docstring)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    tracemalloc.start()
    try:
        call()
        _sync(device)
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    memory = {"python_peak_mb": python_peak / MB, "process_peak_rss_mb": _max_rss_mb()}
    if device.type == "cuda":
        memory["device_peak_mb"] = torch.cuda.max_memory_allocated(device) / MB
    return memory


@torch.no_grad()
def tokenizer_throughput(pipe, series: np.ndarray, images: torch.Tensor, min_seconds: float = 2.0) -> dict[str, float]:
    """Items per second of ``pipe.series_to_image`` on one batch of series (B, L) and of the image tokenizer's
    encode + decode on one batch of images (B, 3, S, S), each timed as ``time_call`` does, on the pipeline's device."""
    images = images.to(pipe.device)
    calls = {
        "series_to_image": (lambda: pipe.series_to_image(series, batch_size=len(series), progress=False), len(series)),
        "images encode+decode": (lambda: pipe.visual.decode(pipe.visual.encode(images)[0]), len(images)),
    }
    rates = {}
    for name, (call, batch) in calls.items():
        seconds, repeats = time_call(call, pipe.device, min_seconds)
        rates[name] = batch / seconds
        logger.info("%s, batch %d: %.1f items/s (%d timed calls)", name, batch, rates[name], repeats)
    return rates


def run_speed_bench(
    pipe,
    out_dir: str | Path | None = None,
    batch_sizes: Sequence[int] = (1, 8, 64),
    device: str | torch.device | None = None,
    operations: Sequence[str] = OPERATIONS,
    min_seconds: float = 2.0,
    command: str | None = None,
) -> pd.DataFrame:
    """Throughput and peak memory of ``pipe``'s operations at each batch size on ``device``.

    ``device``: the device measured, which must be the pipeline's (load it there with
    ``TimeArtistPipeline.from_pretrained(path, device=...)``); ``None`` takes the pipeline's. Returns one
    row per (operation, batch_size): seconds_per_call, items_per_second, ms_per_item, calls, python_peak_mb,
    process_peak_rss_mb (and device_peak_mb on CUDA); settings in ``frame.attrs["meta"]``. With ``out_dir``:
    ``results.{json,csv,md}`` (``command``: the command line, shown first) and ``throughput.png``.
    """
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations:
        raise ValueError(f"unknown operations {unknown or list(operations)}; available: {', '.join(OPERATIONS)}")
    if not batch_sizes or any(isinstance(b, bool) or int(b) != b or b < 1 for b in batch_sizes):
        raise ValueError(f"batch sizes must be positive integers, got {list(batch_sizes)}")
    if any(op.startswith("forecast_") for op in operations):
        if pipe.outpainter is None:
            raise ValueError("forecasting needs a pipeline with an outpainter; pass operations= without the forecast_* entries")
    if "forecast_quantiles" in operations and not pipe.probabilistic:
        logger.warning("forecast_quantiles left out: this pipeline's outpainter has no quantile head")
        operations = [op for op in operations if op != "forecast_quantiles"]
    device = torch.device(device) if device is not None else pipe.device
    if device != pipe.device:
        raise ValueError(f"the pipeline runs on {pipe.device}, not {device}; load it with from_pretrained(path, device={str(device)!r})")
    classifier = None
    if "classify" in operations:
        pipe.classifier_network()  # load the weights once, outside every timed call
        classifier = _classifier_copy(pipe, pipe.temporal.seq_len, np.random.default_rng(SEED))
    rows = []
    for batch in sorted({int(b) for b in batch_sizes}):
        calls = _operations(pipe, classifier, batch, np.random.default_rng(SEED))
        for op in operations:
            seconds, repeats = time_call(calls[op], device, min_seconds)
            row = {"operation": op, "batch_size": batch, "seconds_per_call": seconds, "items_per_second": batch / seconds,
                   "ms_per_item": 1000 * seconds / batch, "calls": repeats, **_memory(calls[op], device)}  # fmt: skip
            logger.info("%s, batch %d: %.1f items/s", op, batch, row["items_per_second"])
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "tokenizer": f"series {pipe.temporal.seq_len} steps, images {pipe.visual.config.image_size} px",
        "forecast": f"context {CONTEXT_PERIODS * PERIOD} steps (period {PERIOD}), horizon {HORIZON}",
        "memory": "python_peak_mb: tracemalloc (NumPy + Python, not torch CPU tensors); process_peak_rss_mb: "
        "getrusage max RSS, process high-water mark; device_peak_mb: torch.cuda.max_memory_allocated",
        "min_seconds": min_seconds,
    }
    if out_dir is not None:
        write_speed_report(frame, out_dir, command)
    return frame


def write_speed_report(frame: pd.DataFrame, out_dir, command: str | None = None) -> dict[str, Path]:
    """``results.{json,csv,md}`` and ``throughput.png`` (items per second against batch size) under ``out_dir``."""
    memory = [c for c in ("python_peak_mb", "process_peak_rss_mb", "device_peak_mb") if c in frame]
    tables = {
        "Items per second": frame.pivot_table(index="operation", columns="batch_size", values="items_per_second", sort=False),
        "Peak memory (MB)": frame[["operation", "batch_size", *memory]],
    }
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "Speed benchmark", command)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for op, part in frame.groupby("operation", sort=False):
        ax.plot(part["batch_size"], part["items_per_second"], marker="o", label=op)
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="items per second", title=frame.attrs["meta"]["device"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths["throughput"] = save_figure(fig, Path(out_dir) / "throughput.png")
    return paths


# ---------------------------------------------------------------------------------------------- timeartist bench speed
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-sizes", default="1,8,64", help="comma-separated batch sizes")
    parser.add_argument("--operations", default=",".join(OPERATIONS), help="comma-separated operations to time (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one timed call per operation and batch size")
    add_common_arguments(parser, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    batch_sizes = positive_ints(args.batch_sizes, "--batch-sizes")
    check_out(args.out)
    return run_speed_bench(load_pipeline(args), out_dir=args.out, batch_sizes=batch_sizes, device=args.device, operations=names(args.operations),
                           min_seconds=0.0 if args.quick else 2.0, command=args.command_line)  # fmt: skip
