"""The ``timeartist`` command line.

Each subcommand is a ``_cmd_*`` function registered in ``build_parser``; each checks its inputs and output paths
before it loads the model. Exit codes: 0 done; 2 an error the user can fix (bad input or argument, a missing,
unreadable, damaged or mismatched file, an unwritable output), one line on stderr naming the file or argument;
1 anything else (a bug), also one line. ``--debug`` shows the full traceback instead. Every command that makes
figures writes PNGs next to its other outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (set before torch loads): on shared or small CPUs spinning
# threads make small models many times slower. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

from timeartist import __version__

logger = logging.getLogger("timeartist")

USER_ERRORS = (ValueError, OSError, KeyError)  # ValueError includes CheckpointError and NonFiniteOutputError
POSITIVE_ARGS = ("horizon", "context", "period", "window", "count", "n", "steps")  # integer options that must be > 0
TIME_COLUMNS = ("ds", "date", "time", "timestamp", "datetime", "Date", "Time")


# ---------------------------------------------------------------------------------------------- helpers
def _pipeline(args):
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    return TimeArtistPipeline.from_pretrained(args.model, device=args.device)


def _read_series_csv(path: str, column: str | None):
    """A CSV -> (values (T,), timestamps or None, column name). Default column: the last numeric one."""
    import pandas as pd

    if not Path(path).is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty; expected a CSV with a header row and one row per time step") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a readable CSV ({error})") from None
    if frame.empty:
        raise ValueError(f"{path} has a header but no rows")
    time_col = next((c for c in TIME_COLUMNS if c in frame.columns), None)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if column is None:
        # a column of numbers with a stray text cell reads as text: report the cell instead of "no numeric column"
        mostly = [c for c in frame.columns if c != time_col and pd.to_numeric(frame[c], errors="coerce").notna().mean() > 0.5]
        if not numeric and not mostly:
            raise ValueError(f"{path} has no numeric column; columns are {list(frame.columns)}")
        column = numeric[-1] if numeric else mostly[-1]
    if column not in frame.columns:
        raise ValueError(f"column {column!r} not in {path}; columns are {list(frame.columns)}")
    if column not in numeric:
        cells = frame[column]
        bad = np.flatnonzero(pd.to_numeric(cells, errors="coerce").isna() & cells.notna())
        if not bad.size:
            raise ValueError(f"column {column!r} of {path} is not numeric")
        first = bad[0]
        when = f", {time_col} {frame[time_col].iloc[first]}" if time_col else ""
        more = f"; {len(bad) - 1} more rows hold text too" if len(bad) > 1 else ""
        raise ValueError(
            f"column {column!r} of {path} is not numeric: row {first + 1} (line {first + 2} of the file{when}) holds "
            f"{cells.iloc[first]!r}{more}; expected numbers, with missing values left empty"
        )
    times = pd.to_datetime(frame[time_col]) if time_col else None
    return frame[column].to_numpy(dtype=np.float64), times, column


@contextmanager
def _naming(source: str, items: Sequence[str] | None = None):
    """The library's ``DataError`` names the failing items of a batch by position (or id); say which file, column,
    window or image they came from instead. ``source``: the input; ``items``: one name per item of the batch."""
    from timeartist.errors import DataError

    try:
        yield
    except DataError as err:
        named = [items[r] for r in err.rows[:5]] if items is not None and err.rows else []
        where = f" ({', '.join(named)})" if named else ""
        raise ValueError(f"{source}{where}: {err.reason}") from None


def _windows(values: np.ndarray, window: int, count: int) -> np.ndarray:
    """The last ``count`` non-overlapping windows of ``window`` steps (most recent last) -> (n, window)."""
    if len(values) < window:
        raise ValueError(f"the series has {len(values)} steps, fewer than one window of {window} (--window; default: the tokenizer's length)")
    n = min(count, len(values) // window)
    return np.stack([values[len(values) - (n - i) * window : len(values) - (n - i - 1) * window] for i in range(n)])


def _check_writable(folder: Path, what: str) -> None:
    """ValueError unless a file can be created in ``folder`` (an existing folder): a probe file, deleted at once,
    because permission bits say nothing for root or on read-only mounts."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"cannot write {what}: {folder} is not writable ({error.strerror or error})") from None


def _out_dir(path: str) -> Path:
    """An output folder that exists or can be created (with its missing parents); it is only checked here, and created
    by the first file written into it, so that nothing is written before every argument is checked."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {out} is a file; expected a folder (it is created if missing)")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"cannot create the output folder {out}: {existing} is a file")
    _check_writable(existing, f"the output folder {out}")
    return out


def _out_file(path: str | None, flag: str, suffixes: tuple[str, ...]) -> Path | None:
    """An output file whose type is one of ``suffixes`` (by its extension), in an existing, writable folder (a file
    path in a folder that does not exist is more often a typo than a wish for new folders)."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"{flag} {out} is a folder; expected a file path ending in {' or '.join(suffixes)}")
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"{flag} {out}: the file type follows the extension; expected {' or '.join(suffixes)}, got {out.suffix or 'none'!r}")
    if out.suffix.lower() == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ValueError(f"{flag} {out}: writing Parquet needs pyarrow (pip install 'timeartist[distributed]'), or write .csv")
    if not out.parent.is_dir():
        raise ValueError(f"{flag} {out}: the folder {out.parent} does not exist; create it first or choose another path")
    _check_writable(out.parent, f"{flag} {out}")
    return out


def _write_table(frame, path: Path) -> None:
    """``frame`` as CSV or Parquet, by the extension ``_out_file`` checked, atomically."""
    from timeartist.hub import atomic_write

    if path.suffix.lower() == ".parquet":
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


# ---------------------------------------------------------------------------------------------- commands
def _cmd_convert(args) -> int:
    from timeartist import viz
    from timeartist.data.images import load_image

    aligned = not args.before_alignment
    if args.direction == "series2image":
        if not args.csv:
            raise ValueError("series2image needs --csv FILE")
        values, _, column = _read_series_csv(args.csv, args.column)
        out = _out_dir(args.out)
        pipe = _pipeline(args)
        windows = _windows(values, args.window or pipe.temporal.seq_len, args.count)
        with _naming(f"{args.csv}, column {column!r}", [f"window {i}" for i in range(len(windows))]):
            images = pipe.series_to_image(windows, aligned=aligned)
        for i, image in enumerate(images):
            viz.save_image(image, out / f"image_{i:03d}.png")
        viz.save_pairs_plot(images, list(windows), out / "series2image.png", titles=[f"{column} window {i}" for i in range(len(windows))])
    else:
        if not args.images:
            raise ValueError("image2series needs --images FILE [FILE ...]")
        import pandas as pd

        photos = [load_image(path) for path in args.images]
        out = _out_dir(args.out)
        pipe = _pipeline(args)
        with _naming("--images", args.images):
            series = pipe.image_to_series(photos, aligned=aligned, length=args.window)
        _write_table(pd.DataFrame(series.T, columns=[Path(p).stem for p in args.images]).rename_axis("step").reset_index(), out / "series.csv")
        viz.save_pairs_plot(pipe._image_batch(photos), list(series), out / "image2series.png", titles=[Path(p).name for p in args.images])
    logger.info("wrote %s", out)
    print(f"wrote {out}")
    return 0


def _alphas(args) -> list[float]:
    """--alphas (a comma-separated grid) or --alpha -> style weights in [0, 1]."""
    try:
        alphas = [float(a) for a in args.alphas.split(",")] if args.alphas else [args.alpha]
    except ValueError:
        raise ValueError(f"--alphas expects numbers separated by commas, e.g. 0,0.5,1; got {args.alphas!r}") from None
    if not all(0 <= a <= 1 for a in alphas):
        raise ValueError(f"style weights must be in [0, 1], got {alphas}")
    return alphas


def _cmd_style(args) -> int:
    from timeartist import viz
    from timeartist.data.images import load_image

    values, _, column = _read_series_csv(args.csv, args.column)
    image = load_image(args.image)
    alphas = _alphas(args)
    out = _out_dir(args.out)
    pipe = _pipeline(args)
    window = _windows(values, args.window or pipe.temporal.seq_len, 1)
    with _naming(f"{args.csv}, column {column!r}"):
        images = pipe.style_sweep(image, window, alphas)
    viz.save_image_grid(images, out / "style.png", titles=[f"alpha={a:g}" for a in alphas])
    viz.save_series_plot(window[0], out / "style_series.png", title=f"{column} (style source)")
    print(f"wrote {out / 'style.png'}")
    return 0


def _check_freq(freq: str | None) -> str | None:
    """A pandas frequency alias, or a ValueError saying what is expected."""
    if freq is not None:
        import pandas as pd

        try:
            pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            raise ValueError(f"--freq {freq!r} is not a pandas frequency; expected e.g. 'h', '15min', 'D', 'W', 'MS'") from None
    return freq


def _cmd_forecast(args) -> int:
    if args.input:
        return _forecast_parquet(args)
    import pandas as pd

    from timeartist import viz

    dask_only = [flag for flag, value in (("--engine", args.engine), ("--scheduler", args.scheduler), ("--workers", args.workers)) if value]
    if dask_only:
        raise ValueError(f"{', '.join(dask_only)}: for --input (Parquet files) only; a --csv series is forecast in this process")
    values, times, column = _read_series_csv(args.csv, args.column)
    freq, levels = _check_freq(args.freq), _quantile_levels(args)
    out, plot = _out_file(args.out or "forecast.csv", "--out", (".csv", ".parquet")), _out_file(args.plot, "--plot", (".png",))
    if args.context:
        values, times = values[-args.context :], times.iloc[-args.context :] if times is not None else None
    history = pd.DataFrame({"unique_id": column, "ds": times if times is not None else np.arange(len(values)), "y": values})
    pipe = _pipeline(args)
    with _naming(f"{args.csv}, column {column!r}"):
        frame = pipe.forecast_df(history, args.horizon, method=args.method, period=args.period, freq=freq, **levels)
    _write_table(frame, out)
    if plot:
        title = f"{column}: {args.horizon}-step forecast ({args.method})"
        stamps = None if times is None else np.concatenate([times.to_numpy(), frame["ds"].to_numpy()])
        wanted = levels.get("quantile_levels", ())
        band = (frame[str(wanted[0])].to_numpy(), frame[str(wanted[-1])].to_numpy()) if wanted and wanted[0] < 0.5 < wanted[-1] else None
        viz.save_forecast_plot(values, {args.method: frame["forecast"].to_numpy()}, plot, title=title, history_steps=max(4 * args.horizon, 96),
                               times=stamps, ylabel=column, band=band)  # fmt: skip
    print(f"wrote {out}" + (f" and {plot}" if plot else ""))
    return 0


def _quantile_levels(args) -> dict:
    """--quantiles "0.1,0.5,0.9" -> {"quantile_levels": (0.1, 0.5, 0.9)} (checked before anything is written), or {}."""
    if args.quantiles is None:
        return {}
    from timeartist.pipelines.forecasting import check_quantile_levels

    if args.method != "visionts":
        raise ValueError(f"--quantiles come from --method visionts (the outpainter's quantile head), not {args.method}")
    try:
        levels = [float(x) for x in args.quantiles.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--quantiles expects levels in (0, 1) separated by commas, e.g. 0.1,0.5,0.9; got {args.quantiles!r}") from None
    return {"quantile_levels": check_quantile_levels(levels)}


def _forecast_parquet(args) -> int:
    """--input: long-format Parquet files -> Parquet part files in --out, in this process or on Dask (--engine)."""
    from contextlib import nullcontext

    from timeartist.pipelines.batch import forecast_parquet

    csv_only = [flag for flag, value in (("--column", args.column), ("--context", args.context), ("--plot", args.plot)) if value]
    if csv_only:
        raise ValueError(f"{', '.join(csv_only)} work with --csv only")
    if args.engine is None and (args.scheduler or args.workers):
        raise ValueError("--scheduler and --workers need --engine dask")
    freq, levels = _check_freq(args.freq), _quantile_levels(args)
    out = _out_dir(args.out or "forecasts")
    if out.suffix.lower() == ".csv":
        raise ValueError(f"--input writes Parquet part files into a folder; --out {out} names a CSV file (use --csv for one series)")
    cluster = nullcontext()
    if args.engine == "dask":
        from timeartist.pipelines.distributed import connect

        if not (args.verbose or args.debug):  # Dask logs each worker start and stop at INFO, each P2P shuffle at WARNING
            logging.getLogger("distributed").setLevel(logging.WARNING)
            logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
        cluster = connect(args.scheduler, args.workers)
    pipe = _pipeline(args)
    with cluster:
        summary = forecast_parquet(pipe, args.input, out, args.horizon, engine=args.engine, method=args.method, period=args.period, freq=freq, **levels)
    failed = f"; {summary.failed} series failed, see {summary.out / '_errors.parquet'}" if summary.failed else ""
    print(f"wrote {summary.rows} forecast rows in {summary.parts} part files to {summary.out}{failed}")
    return 0


def _cmd_classify(args) -> int:
    from timeartist import viz
    from timeartist.data import load_ts

    X_train, y_train = load_ts(args.train)
    X_test, y_test = load_ts(args.test)
    if y_train is None:
        raise ValueError(f"{args.train} has no class labels; fit_classifier needs them")
    out = _out_dir(args.out)
    pipe = _pipeline(args)
    pipe.fit_classifier(X_train, y_train, route=args.route)
    predicted = pipe.classify(X_test)
    import pandas as pd

    predictions = pd.DataFrame({"predicted": predicted, **({"label": y_test} if y_test is not None else {})})
    _write_table(predictions.rename_axis("case").reset_index(), out / "predictions.csv")
    classes, images = pipe.class_prototypes()
    viz.save_image_grid(images, out / "class_prototypes.png", titles=[str(c) for c in classes])
    route = f"route {pipe.classifier_route}"
    if y_test is not None:
        print(f"accuracy {np.mean(predicted == y_test):.4f} on {len(y_test)} test cases ({route}); wrote {out}")
    else:
        print(f"{args.test} has no class labels: wrote predictions only ({route}) to {out / 'predictions.csv'}")
    return 0


def _cmd_demo(args) -> int:
    from timeartist.demo import run_demo

    _out_dir(args.out)
    index = run_demo(args.out, _pipeline(args), quick=args.quick, data_root=args.data_root)
    print(f"demo gallery: {index}")
    return 0


# `timeartist bench NAME` / `timeartist validate NAME`: NAME -> (module of timeartist.evaluation, one-line help). Each
# module has add_arguments(parser) and run(args) -> result rows (timeartist.evaluation.common says how one plugs in)
# and is imported only when its command runs or shows its --help. `validate` holds the tools that chose the bundled
# defaults on validation splits; they never read a test split.
BENCHMARKS = {
    "ltsf": ("ltsf", "zero-shot LTSF protocol (ETT splits, every test window) with the baselines on the same windows"),
    "competitions": ("competitions", "M1, M3 and Monash final windows: normalised MAE against naive"),
    "long-horizon": ("long_horizon", "horizons of thousands of steps from 512 of context: the roll-out against seasonal baselines"),
    "classify": ("classification", "UCR/UEA TRAIN/TEST accuracy with MiniRocket, 1-NN DTW and 1-NN Euclidean"),
    "classify-targets": ("classify_targets", "stage-3 class targets: encoded sample images against generated token banks"),
    "tokenizer": ("tokenizer", "what the shared code space carries on held-out photos and series (every tokenizer target)"),
    "align": ("alignment", "do the aligners make series into pictures that belong among photos: FED, spread, same-series, round trip"),
    "style-paths": ("style_paths", "paths from a photo's reconstruction to a series' picture: which are monotone in alpha"),
    "bottleneck": ("bottleneck", "where the tokenizers lose their reconstruction: codebook or autoencoder"),
    "quantizer-usage": ("quantizer_usage", "codebook use of one quantizer head against two on a toy autoencoder"),
    "speed": ("speed", "throughput and peak memory of the pipeline's calls by batch size"),
    "distributed": ("distributed_throughput", "Parquet-to-Parquet batch forecasting: one process against Dask workers"),
    "model-speed": ("model_speed", "parameters and CPU throughput of random-weight tokenizers and aligners (tiny, b64)"),
    "generator-speed": ("generator_speed", "token generator images per second by decoding steps, with and without guidance"),
    "efficientnet": ("efficientnet_check", "the packaged EfficientNet-Lite0 weights on the ImageNet sample images"),
    "gift": ("gift", "GIFT-Eval's protocol on ett1 (ETTm1 at 15T and hourly): MASE, CRPS and coverage beside the leaderboard"),
    "sanity": ("sanity", "known-answer series (trends, random walks, level shifts, several seasons, ...) against the simple baselines"),
}
VALIDATIONS = {
    "period": ("period_validation", "what detecting the period costs the forecast against the true one (ETT validation)"),
    "trend": ("trend_validation", "the trend rule's options and thresholds on validation series"),
    "series-dct": ("series_dct_validation", "series tokenizers against the equal-bit DCT code on ETT validation windows"),
}


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help lines end with the option's default, when it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class _BenchParser(argparse.ArgumentParser):
    """A ``bench`` / ``validate`` subcommand whose options come from its evaluation module, imported on first use
    (parsing or --help), so that no other command pays for importing it."""

    def __init__(self, *args, module: str | None = None, **kwargs):
        super().__init__(*args, formatter_class=_DefaultsFormatter, **kwargs)
        self._module = module

    def _load(self) -> None:
        if self._module is not None:
            import importlib

            module = importlib.import_module(f"timeartist.evaluation.{self._module}")
            self._module = None
            self.description = self.description or (module.__doc__ or "").split("\n\n")[0].replace("``", "")
            module.add_arguments(self)
            self.set_defaults(func=_cmd_bench, run=module.run)

    def parse_known_args(self, args=None, namespace=None):
        self._load()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._load()
        return super().format_help()


def _positive_int(text: str, flag: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{flag} expects a positive integer or 'auto', got {text!r}")
    return int(text)


def _number(text: str, flag: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{flag} expects {'an integer' if kind is int else 'a number'} or 'off', got {text!r}") from None


def _split_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _cmd_bench(args) -> int:
    frame = args.run(args)
    print(f"{args.command} {args.name}: {len(frame)} result rows written to {args.out}")
    return 0


def _cmd_generate(args) -> int:
    from timeartist import viz

    classes = _split_ints(args.classes) if args.classes else None
    class_ids = [c for c in classes for _ in range(args.n)] if classes else None
    out = _out_dir(args.out)
    pipe = _pipeline(args)
    images = pipe.generate_images(class_ids, n=None if classes else args.n, steps=args.steps, guidance=args.guidance, seed=args.seed)
    titles = [f"class {c}" for c in class_ids] if class_ids else None
    viz.save_image_grid(images, out / "generated.png", titles=titles, ncols=max(args.n, 1) if classes else 8)
    print(f"wrote {out / 'generated.png'}")
    return 0


PIPELINE_EXPORT_OPTIONS = ("visual", "temporal", "generator", "outpainter", "context_periods", "trend_ensemble", "trend_min_r2",
                           "seasonal_blend", "blend_periods", "choose_period", "restore_detail", "fallback", "level_gate",
                           "calibrate", "data_root")  # fmt: skip


def _export_checkpoint(args) -> int:
    """--checkpoint: a training checkpoint's EMA (or raw) weights -> the stage's loadable folder."""
    from timeartist.training.export import export_checkpoint

    composing = [f"--{name.replace('_', '-')}" for name in PIPELINE_EXPORT_OPTIONS if getattr(args, name) is not None]
    if args.base or composing:
        raise ValueError(f"--checkpoint writes one training stage's folder; {', '.join(['--base'] * bool(args.base) + composing)} "
                         "compose a pipeline: run export --base on its output afterwards")  # fmt: skip
    _out_dir(args.out)
    path, step = export_checkpoint(args.checkpoint, args.out, ema=not args.raw_weights, stage=args.stage, config=args.config, overrides=args.overrides)
    print(f"wrote the {'raw' if args.raw_weights else 'EMA'} weights of step {step} to {path}")
    return 0


def _cmd_export(args) -> int:
    if args.checkpoint:
        return _export_checkpoint(args)
    if not args.base:
        raise ValueError("export needs --base (a pipeline-loadable folder to compose from) or --checkpoint (a training checkpoint)")
    checkpoint_only = [flag for flag, value in (("--raw-weights", args.raw_weights), ("--stage", args.stage), ("--config", args.config)) if value]
    if checkpoint_only or args.overrides:
        raise ValueError(f"{', '.join(checkpoint_only) or 'key=value overrides'} go with --checkpoint only")
    from timeartist.models.outpainter import MAEOutpainter
    from timeartist.pipelines.forecasting import check_combination_options
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    _out_dir(args.out)
    pipe = TimeArtistPipeline.from_pretrained(args.base)
    if args.visual:
        from timeartist.models.visual import VisionModel

        pipe.replace_visual(VisionModel.from_pretrained(args.visual))
    if args.temporal:
        from timeartist.models.temporal import TimeArtist

        pipe.replace_temporal(TimeArtist.from_pretrained(args.temporal))
    if args.outpainter:
        folder = Path(args.outpainter)
        if (folder / "evals" / "val.jsonl").is_file():  # a training run: its best checkpoint on validation
            from timeartist.training.outpainter import best_evaluated_checkpoint

            folder, line = best_evaluated_checkpoint(folder)
            metric = "pinball" if "pinball" in line else "mse"
            print(f"outpainter: {folder} (validation {metric} {line[metric]:.4f}, the lowest of the run)")
        pipe.outpainter = MAEOutpainter.from_pretrained(folder)
    if args.context_periods == "auto":
        if pipe.outpainter is None:
            raise ValueError("--context-periods auto needs an outpainter (--outpainter or one in --base)")
        from timeartist.training.outpainter import ValidationConfig, select_forecast_defaults

        best, scores = select_forecast_defaults(pipe.outpainter, ValidationConfig(data_root=args.data_root))
        print("validation mse by (context_periods, flip_ensemble): " + ", ".join(f"{k}: {v:.4f}" for k, v in scores.items()) + f" -> {best}")
        pipe.forecast_defaults.update(best)
    elif args.context_periods:
        pipe.forecast_defaults["context_periods"] = _positive_int(args.context_periods, "--context-periods")
    if args.trend_ensemble:
        pipe.forecast_defaults["trend_ensemble"] = {"off": False, "on": True, "auto": "auto"}[args.trend_ensemble]
    if args.trend_min_r2 is not None:
        if pipe.forecast_defaults.get("trend_ensemble") != "auto":
            raise ValueError(f"--trend-min-r2 goes with --trend-ensemble auto, got it with {pipe.forecast_defaults.get('trend_ensemble')!r}")
        pipe.forecast_defaults["trend_min_r2"] = args.trend_min_r2
    if args.seasonal_blend is not None:
        pipe.forecast_defaults["seasonal_blend"] = args.seasonal_blend
    if args.blend_periods is not None:
        pipe.forecast_defaults["blend_periods"] = args.blend_periods
    if args.choose_period:
        pipe.forecast_defaults["choose_period"] = args.choose_period == "on"
    for key in ("restore_detail", "fallback", "level_gate", "calibrate"):
        value = getattr(args, key)
        if value is not None:
            pipe.forecast_defaults[key] = None if value == "off" else _number(value, f"--{key.replace('_', '-')}", int if key == "restore_detail" else float)
    checked = inspect.signature(check_combination_options).parameters
    check_combination_options(**{k: v for k, v in pipe.forecast_defaults.items() if k in checked})
    if args.generator:
        from timeartist.models.generator import TokenGenerator

        pipe.generator = TokenGenerator.from_pretrained(args.generator)
    path = pipe.save_pretrained(args.out)
    print(f"pipeline written to {path}")
    return 0


def _cmd_serve(args) -> int:
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise ValueError("serve needs Gradio: pip install 'timeartist[serve]'")
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be from 1 to 65535, got {args.port}")
    if args.screenshots:
        from timeartist.serve import browser

        reason = browser.unavailable() or (None if importlib.util.find_spec("skimage") else "scikit-image (its example photo) is not installed")
        if reason:
            raise ValueError(f"--screenshots cannot run: {reason}")
        out = _out_dir(args.screenshots)
    from timeartist.serve.server import free_port, launch

    pipe = _pipeline(args)
    if args.screenshots:
        server = launch(pipe, port=free_port())
        try:
            shots = browser.take_screenshots(server.url, out)
        finally:
            server.close()
        print("wrote " + ", ".join(str(p) for p in shots))
        return 0
    server = launch(pipe, host=args.host, port=args.port)
    print(f"timeartist playground at {server.url} (Ctrl+C stops it)", flush=True)
    server.wait()
    return 0


TRAIN_STAGES = {
    "warmup": ("timeartist.training.warmup", "run_warmup"),
    "align": ("timeartist.training.align", "run_align"),
    "classify": ("timeartist.training.classify", "run_classify"),
    "outpainter": ("timeartist.training.outpainter", "run_outpainter"),
    "generator": ("timeartist.training.generator", "run_generator"),
}


def _cmd_train(args) -> int:
    import importlib

    module, function = TRAIN_STAGES[args.stage]
    export = getattr(importlib.import_module(module), function)(args.config, args.overrides)
    print(f"{args.stage}: exported {export}")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="pipeline folder (default: the bundled model)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="timeartist", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"timeartist {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run every feature on bundled sample data and write a PNG gallery with index.html")
    p.add_argument("--out", default="demo_output", help="output folder for the PNGs and index.html, created if needed (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="fewer examples (seconds instead of minutes)")
    p.add_argument("--data-root", help="data folder with held-out photos (default: $TIMEARTIST_DATA, ./dataset or ../shared/data)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("convert", help="series -> image or image -> series")
    p.add_argument("direction", choices=["series2image", "image2series"], help="series2image: windows of a CSV column -> images; image2series: image files -> series")
    p.add_argument("--csv", help="series2image: CSV with the series")
    p.add_argument("--column", help="CSV column (default: the last numeric one)")
    p.add_argument("--window", type=int, help="series2image: window length (default: the tokenizer length); image2series: output length")
    p.add_argument("--count", type=int, default=8, help="series2image: how many of the most recent windows (default: %(default)s)")
    p.add_argument("--images", nargs="+", help="image2series: image files")
    p.add_argument("--before-alignment", action="store_true", help="decode through the shared codebook, without the aligners")
    p.add_argument("--out", default="convert_output", help="output folder, created if needed (default: %(default)s)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("style", help="render an image in the style of a series")
    p.add_argument("--image", required=True, help="the image to render (any format Pillow reads)")
    p.add_argument("--csv", required=True, help="CSV with the series whose style is used")
    p.add_argument("--column", help="CSV column (default: the last numeric one)")
    p.add_argument("--window", type=int, help="series window (default: the tokenizer length, the most recent)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the series' codes in [0, 1] (0: the image, 1: the series; default: %(default)s)")
    p.add_argument("--alphas", help="comma-separated alpha grid, e.g. 0,0.2,0.4,0.6,0.8,1")
    p.add_argument("--out", default="style_output", help="output folder, created if needed (default: %(default)s)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_style)

    p = sub.add_parser("forecast", help="zero-shot forecast of a CSV column, or of every series in long-format Parquet files")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="CSV with one series (a column)")
    source.add_argument("--input", help="long-format Parquet files (columns unique_id, ds, y): a file, a folder or a quoted glob such as 'data/*.parquet'")
    p.add_argument("--horizon", type=int, required=True, help="how many steps to forecast after the last one (required)")
    p.add_argument("--column", help="--csv: the column (default: the last numeric one)")
    p.add_argument("--context", type=int, help="--csv: use only the last N steps as context (default: all)")
    p.add_argument("--period", type=int, help="seasonal period in steps (default: detected)")
    p.add_argument("--freq", help="time step of the CSV's timestamps as a pandas alias, e.g. h, 15min, D (default: inferred; needed when rows are missing)")
    p.add_argument("--method", default="visionts", choices=["visionts", "artist"],
                   help="visionts: the context folded by its period and outpainted; artist: the paper's series -> image -> outpaint -> series path, at most as many steps as the context (default: %(default)s)")  # fmt: skip
    p.add_argument("--engine", choices=["dask"], help="--input: run on Dask (pip install 'timeartist[distributed]'); default: one process")
    p.add_argument("--scheduler", help="--engine dask: address of a running Dask scheduler (default: start a local cluster)")
    p.add_argument("--workers", type=int, help="--engine dask: worker processes of the local cluster (default: one per core)")
    p.add_argument("--out", help="--csv: output file, .csv or .parquet by its extension, in an existing folder (default: forecast.csv); --input: folder for Parquet part files and _errors.parquet (default: forecasts)")
    p.add_argument("--quantiles", help="also forecast these quantile levels, e.g. 0.1,0.5,0.9: one column each, named by the level (needs a model with a quantile head, as the bundled one)")
    p.add_argument("--plot", help="--csv: PNG of the forecast with its history, dated by the CSV's timestamps, with the band between the outer --quantiles")
    _add_model_args(p)
    p.set_defaults(func=_cmd_forecast)

    p = sub.add_parser("classify", help="classify .ts series with a frozen pretrained vision network (series drawn as images)")
    p.add_argument("--train", required=True, help="labelled .ts file to fit the classifier on")
    p.add_argument("--test", required=True, help=".ts file to classify (its labels, if any, are only used to report accuracy)")
    p.add_argument("--route", default="auto", choices=["auto", "vision", "codes"],
                   help="auto: drawn views + frozen EfficientNet-Lite0 + ridge, the generated images as a view where leave-one-out on TRAIN says so; "
                        "vision: drawn views only; codes: the paper's nearest class prototype through the code space (default: %(default)s)")  # fmt: skip
    p.add_argument("--out", default="classify_output", help="output folder for predictions.csv and the prototype PNG, created if needed (default: %(default)s)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("generate", help="draw images from the token generator (class-conditional or unconditional)")
    p.add_argument("--classes", help="comma-separated ImageNet class ids (default: unconditional)")
    p.add_argument("--n", type=int, default=4, help="images per class (or in all, unconditional; default: %(default)s)")
    p.add_argument("--steps", type=int, default=8, help="parallel decoding steps: more are slower and can add detail (default: %(default)s)")
    p.add_argument("--guidance", type=float, default=4.0, help="0: ignore classes, 1: conditional, >1: classifier-free guidance (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the draws (default: %(default)s)")
    p.add_argument("--out", default="generate_output", help="output folder for generated.png, created if needed (default: %(default)s)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("export", help="assemble a pipeline folder from training exports, or export a training checkpoint's weights")
    p.add_argument("--base", help="a pipeline-loadable export, e.g. the alignment stage's export folder")
    p.add_argument("--checkpoint",
                   help="instead of --base: a training checkpoint (<run>/checkpoints/checkpoint-<step>) or a run folder (its latest "
                        "checkpoint); writes its EMA weights as the stage's folder (warmup: temporal/ + visual/; align: a pipeline; "
                        "generator, outpainter: the model folder)")  # fmt: skip
    p.add_argument("--raw-weights", action="store_true", help="--checkpoint: the trained weights instead of their EMA")
    p.add_argument("--stage", choices=["warmup", "align", "generator", "outpainter"],
                   help="--checkpoint of a run without run.json (started before runs recorded it): the stage it trains")
    p.add_argument("--config", help="with --stage: the run YAML the run was started with; its key=value overrides follow the options, as for train")
    p.add_argument("--visual", help="a VisionModel folder replacing the image tokenizer (same codebook, e.g. a fine-tune with it frozen)")
    p.add_argument("--temporal", help="a TimeArtist folder replacing the series tokenizer (same codebook, e.g. its decoder fine-tuned)")
    p.add_argument("--generator", help="a TokenGenerator folder to add")
    p.add_argument("--outpainter", help="a MAEOutpainter folder, or an outpainter training run (its checkpoint with the lowest validation mse)")
    p.add_argument(
        "--context-periods",
        help="forecasting default: use at most this many recent periods; 'auto' picks it and whether to average a sign-flipped forecast (flip_ensemble) on the ETTh1/ETTh2 validation splits",
    )
    p.add_argument(
        "--trend-ensemble",
        choices=["off", "on", "auto"],
        help="forecasting default: average in the forecast of the detrended context plus its line; 'auto': only for contexts whose line explains at least --trend-min-r2 of their variance (`timeartist validate trend` scores the choices on validation series)",
    )
    p.add_argument("--trend-min-r2", type=float, help="forecasting default for --trend-ensemble auto, in [0, 1]")
    p.add_argument("--seasonal-blend", type=float, help="forecasting default: weight in [0, 1] of the mean of the last --blend-periods periods combined with the outpainter's forecast")
    p.add_argument("--blend-periods", type=int, help="forecasting default: periods averaged for --seasonal-blend")
    p.add_argument("--choose-period", choices=["off", "on"], help="forecasting default: let backtests choose between the detected period and its calendar season")
    p.add_argument("--restore-detail", help="forecasting default: periods averaged to restore what a period taller than the canvas loses ('off')")
    p.add_argument("--fallback", help="forecasting default: error ratio in (0, 1] by which a simple rule must beat the outpainter on every backtest to replace it ('off')")
    p.add_argument("--level-gate", help="forecasting default: typical changes a level jump at the end must exceed to be continued ('off')")
    p.add_argument("--calibrate", help="forecasting default: power in [0, 1] of the backtest-fitted scale of the quantiles' spread ('off')")
    p.add_argument("--data-root", help="data folder for --context-periods auto (default: $TIMEARTIST_DATA, ./dataset, ../shared/data)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_export, overrides=[])

    for command, table, text in (
        ("bench", BENCHMARKS, "benchmarks on the standard protocols, baselines measured in the same run"),
        ("validate", VALIDATIONS, "the validation-split studies that chose the bundled defaults (never a test split)"),
    ):
        group = sub.add_parser(command, help=text, description=text).add_subparsers(
            dest="name", metavar="NAME", required=True, parser_class=_BenchParser
        )
        for name, (module, help_text) in table.items():
            group.add_parser(name, help=help_text, module=module)

    p = sub.add_parser("serve", help="the playground in the browser: forecast, series <-> image, classify, generate (pip install 'timeartist[serve]')")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--screenshots", metavar="DIR", help="instead of serving: save a screenshot of each tab in use into DIR (a free local port, headless Chromium)")
    _add_model_args(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("train", help="train a stage from a YAML run config (works under `accelerate launch`)")
    p.add_argument("stage", choices=list(TRAIN_STAGES), help="the training stage to run")
    p.add_argument("--config", required=True, help="run YAML, e.g. configs/tiny/warmup.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.max_train_steps=100")
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # ``train`` (and ``export --config``) take key=value overrides after their options, which argparse cannot mix with
    # subcommands itself.
    args, extra = parser.parse_known_args(argv)
    if extra and not (getattr(args, "command", None) in ("train", "export") and all("=" in a and not a.startswith("-") for a in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    args.command_line = shlex.join(["timeartist", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO if args.verbose or args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    for name in POSITIVE_ARGS:
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive, got {value}")
    try:
        return int(args.func(args) or 0)
    except Exception as err:
        if args.debug:
            raise
        user_error = isinstance(err, USER_ERRORS)
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        msg = " ".join(line.strip() for line in str(msg).splitlines())  # one line, also for multi-line messages
        if not user_error:
            msg = f"internal error ({type(err).__name__}: {msg}); run with --debug for the traceback and report it"
        print(f"timeartist {args.command}: error: {msg}", file=sys.stderr)
        return 2 if user_error else 1


if __name__ == "__main__":
    sys.exit(main())
