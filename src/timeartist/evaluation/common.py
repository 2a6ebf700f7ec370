"""What every ``timeartist bench`` and ``timeartist validate`` command shares, and how a benchmark plugs in.

A benchmark is one module of ``timeartist.evaluation`` with two functions and one row in the CLI's table
(``timeartist.cli.BENCHMARKS``; ``VALIDATIONS`` for the tools that choose defaults on validation splits only):

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        '''Its options (``add_common_arguments`` adds --out, --data-root, --model and --device).'''

    def run(args: argparse.Namespace) -> pandas.DataFrame:
        '''Check every argument, then measure, write the results into ``args.out`` and return the result rows.'''

    # cli.py:  BENCHMARKS = {..., "gift": ("gift", "one-line help shown by `timeartist bench --help`")}

The CLI imports the module only when its command runs or prints its ``--help``, so a benchmark may import what it
needs at the top. ``run`` gets the parsed options plus ``args.command_line`` (the command as typed, for the results)
and writes nothing before its arguments are checked: it checks its own values, calls ``check_out(args.out)`` (an
unwritable --out fails before any work, without creating anything), then loads the model and measures. A
``ValueError`` / ``FileNotFoundError`` it raises is printed by the CLI as one line with exit code 2. Results layout,
one folder per run: ``report.write_results`` writes ``results.json`` (command, meta, rows), ``results.csv`` and
``results.md``; the benchmark draws its PNG figures beside them (``report.plot_error_by_step``,
``report.plot_forecast_examples``, ``viz.save_figure``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from timeartist.data.paths import ENV_VAR

DATA_ROOT_HELP = f"data folder laid out like ../shared/data (default: ${ENV_VAR}, ./dataset, ../shared/data)"
# --methods name -> (pipeline method, detect_period): _detected ignores the protocol's period and detects it, shared by
# a window's channels; _per_channel detects one per channel
PIPELINE_METHODS = {
    "artist": ("artist", False),
    "visionts": ("visionts", False),
    "visionts_detected": ("visionts", True),
    "visionts_detected_per_channel": ("visionts", "per_channel"),
}


def add_common_arguments(parser: argparse.ArgumentParser, model: bool = True, data: bool = True) -> None:
    """--out, and --data-root (``data``) and --model / --device (``model``: benchmarks that load a pipeline)."""
    parser.add_argument("--out", default="bench_output", help="results folder: results.json, results.csv, results.md and PNG figures")
    if data:
        parser.add_argument("--data-root", help=DATA_ROOT_HELP)
    if model:
        parser.add_argument("--model", help="pipeline folder (default: the bundled model)")
        parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def load_pipeline(args: argparse.Namespace):
    """The pipeline of --model (the bundled one when not given) on --device."""
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    return TimeArtistPipeline.from_pretrained(args.model, device=args.device)


def names(text: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']; None -> []."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def positive_ints(text: str, flag: str) -> list[int]:
    """'96,192' -> [96, 192]; anything but positive integers is a ValueError naming ``flag``."""
    items = names(text)
    if not items or not all(item.isdigit() and int(item) > 0 for item in items):
        raise ValueError(f"{flag} expects positive integers separated by commas, e.g. 96,192; got {text!r}")
    return [int(item) for item in items]


def name_ints(text: str | None, flag: str) -> dict[str, int] | None:
    """'ETTh1=30,ETTh2=14' -> {'ETTh1': 30, 'ETTh2': 14}; None or '' -> None."""
    if not text:
        return None
    pairs = [item.split("=", 1) for item in names(text)]
    if any(len(pair) != 2 or not pair[1].strip().isdigit() for pair in pairs):
        raise ValueError(f"{flag} expects NAME=INT pairs separated by commas, e.g. ETTh1=30,ETTh2=14; got {text!r}")
    return {name.strip(): int(value) for name, value in pairs}


def forecasters(args: argparse.Namespace, methods: Sequence[str]) -> list:
    """--methods names -> baseline names as they are and pipeline forecasters (``PIPELINE_METHODS``), the pipeline
    loaded only when one is asked for."""
    if not any(m in PIPELINE_METHODS for m in methods):
        return list(methods)
    pipe = load_pipeline(args)
    return [
        pipe.forecaster(PIPELINE_METHODS[m][0], batch_size=args.batch_size, detect_period=PIPELINE_METHODS[m][1]) if m in PIPELINE_METHODS else m
        for m in methods
    ]


def check_out(path: str) -> Path:
    """--out checked before any work and without creating it: an existing folder, or a new path whose nearest
    existing parent is a folder this process may write into. ValueError naming it otherwise."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; expected a folder for the results")
    parent = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write into {parent}")
    return out
