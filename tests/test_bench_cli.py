"""`timeartist bench NAME` / `timeartist validate NAME`: one subcommand per benchmark module, each with its own options,
one results layout, and arguments checked before anything is written. Whole-protocol checks of each benchmark are in
its own test file (test_bench_ltsf.py, test_bench_tokenizer.py, ...)."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from timeartist.cli import BENCHMARKS, VALIDATIONS, build_parser, main

REPO = Path(__file__).resolve().parents[1]

COMMANDS = [("bench", name) for name in BENCHMARKS] + [("validate", name) for name in VALIDATIONS]


def results(folder) -> dict:
    """results.json of a run folder, after checking the layout every benchmark writes."""
    assert {"results.json", "results.csv", "results.md"} <= {p.name for p in folder.iterdir()}
    assert any(folder.glob("*.png"))
    return json.loads((folder / "results.json").read_text())


def test_the_design_names_are_benchmarks():
    assert {"ltsf", "competitions", "classify", "tokenizer", "speed"} <= set(BENCHMARKS)


@pytest.mark.parametrize("command,name", COMMANDS)
def test_every_benchmark_module_plugs_in_and_has_its_own_help(command, name, capsys):
    module = importlib.import_module(f"timeartist.evaluation.{(BENCHMARKS | VALIDATIONS)[name][0]}")
    assert callable(module.add_arguments) and callable(module.run)
    with pytest.raises(SystemExit) as done:
        main([command, name, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: timeartist {command} {name}" in text and "--out" in text


def test_options_belong_to_their_benchmark(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "speed", "--inception-weights", "x.pt", "--out", str(tmp_path / "out")])  # a tokenizer option
    assert done.value.code == 2 and "unrecognized arguments: --inception-weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "nosuch"])
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv,message", [
    (["bench", "ltsf", "--horizons", "96,abc"], "--horizons expects positive integers"),
    (["bench", "ltsf", "--lookback", "ETTh1"], "--lookback expects NAME=INT pairs"),
    (["bench", "ltsf", "--methods", "prophet"], "unknown --methods ['prophet']"),
    (["bench", "competitions", "--methods", "seasonal_mean"], "unknown --methods ['seasonal_mean']"),
    (["bench", "style-paths", "--paths", "sideways"], "unknown --paths"),
    (["validate", "trend", "--parts", "ett,tea"], "unknown --parts"),
])  # fmt: skip
def test_bad_arguments_are_one_line_errors_before_anything_is_written(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"timeartist {argv[0]}: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_unwritable_out_fails_before_the_work(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["bench", "quantizer-usage", "--out", str(tmp_path / "file")]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err


def test_other_commands_do_not_import_the_benchmarks():
    code = ("import sys; from timeartist.cli import build_parser; build_parser().parse_args(['forecast', '--csv', 'x.csv', '--horizon', '3']); "
            "loaded = [m for m in sys.modules if m.startswith('timeartist.evaluation')]; assert not loaded, loaded")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bench_ltsf_quick(tiny_pipeline_dir, data_root, tmp_path):
    argv = ["bench", "ltsf", "--quick", "--data-root", str(data_root), "--datasets", "ETTh1", "--horizons", "96",
            "--methods", "visionts,seasonal_naive,naive", "--model", str(tiny_pipeline_dir), "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert results(tmp_path)["command"] == "timeartist " + " ".join(argv)
    table = pd.read_csv(tmp_path / "results.csv")
    assert {"visionts", "seasonal_naive", "naive"} <= set(table.method)
    assert (tmp_path / "error_by_horizon.png").is_file()


def test_bench_unknown_dataset_lists_available(data_root, tmp_path, capsys):
    assert main(["bench", "ltsf", "--quick", "--data-root", str(data_root), "--datasets", "Nope", "--methods", "naive", "--out", str(tmp_path)]) == 2
    assert "Nope" in capsys.readouterr().err


def test_bench_ltsf_fixed_seasonal_mean_k(data_root, tmp_path):
    argv = ["bench", "ltsf", "--quick", "--data-root", str(data_root), "--datasets", "ETTh1", "--horizons", "96",
            "--methods", "seasonal_mean", "--seasonal-mean-k", "ETTh1=30", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert '"ETTh1": 30' in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize("suite", ["classify", "speed"])  # tokenizer: tests/test_bench_tokenizer.py
def test_bench_suites_quick(tiny_pipeline_dir, data_root, tmp_path, suite):
    argv = ["bench", suite, "--quick", "--model", str(tiny_pipeline_dir), "--out", str(tmp_path)]
    if suite == "classify":
        argv += ["--data-root", str(data_root), "--datasets", "Chinatown", "--methods", "timeartist,dtw_1nn"]
    if suite == "speed":
        argv += ["--batch-sizes", "2"]
    assert main(argv) == 0
    assert results(tmp_path)["rows"]


def test_quantizer_usage_one_head_against_two(tmp_path):
    assert main(["bench", "quantizer-usage", "--steps", "5", "--batch", "16", "--heldout", "32", "--out", str(tmp_path)]) == 0
    frame = pd.DataFrame(results(tmp_path)["rows"])
    assert list(zip(frame["heads"], frame["threshold"])) == [(1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5)]
    assert frame["usage"].between(0, 1).all() and (frame["mse"] > 0).all()


def test_model_and_generator_speed_on_the_tiny_configs(tmp_path):
    assert main(["bench", "model-speed", "--configs", "tiny", "--repeats", "1", "--batch", "4", "--image-batch", "4", "--out", str(tmp_path / "m")]) == 0
    models = pd.DataFrame(results(tmp_path / "m")["rows"])
    assert len(models) == 3 and (models["parameters"] > 0).all() and (models["items_per_second"] > 0).all()
    assert main(["bench", "generator-speed", "--batch", "4", "--step-counts", "1,2", "--repeats", "1", "--out", str(tmp_path / "g")]) == 0
    speeds = pd.DataFrame(results(tmp_path / "g")["rows"])
    assert list(zip(speeds["steps"], speeds["guidance"])) == [(1, 0.0), (1, 3.0), (2, 0.0), (2, 3.0)]
    assert (speeds[["token_seqs_per_s", "images_per_s"]] > 0).all().all()


def test_validate_series_dct_scores_tokenizers_on_validation_windows(tiny_pipeline_dir, data_root, tmp_path):
    argv = ["validate", "series-dct", str(tiny_pipeline_dir / "temporal"), "--datasets", "ETTh1", "--usage-datasets", "ETTh1",
            "--data-root", str(data_root), "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    frame = pd.DataFrame(results(tmp_path)["rows"]).set_index(["part", "data", "method", "metric"])["value"]
    tokenizer = str(tiny_pipeline_dir / "temporal")
    mse, ratio = frame["series vs DCT", "ETTh1", tokenizer, "mse"], frame["series vs DCT", "ETTh1", tokenizer, "ratio_to_dct"]
    dct = frame.xs(("series vs DCT", "ETTh1", "ratio_to_dct"), level=("part", "data", "metric")).drop(tokenizer)
    assert len(dct) == 1 and dct.iloc[0] == 1.0 and ratio > 0
    assert sum(frame.xs(("bands", "ETTh1", tokenizer), level=("part", "data", "method"))) == pytest.approx(mse)
    assert 0 < frame.xs(("codebook", tokenizer, "usage"), level=("part", "method", "metric")).iloc[0] <= 1


def documented_commands(text: str) -> list[str]:
    """The `timeartist ...` commands of a markdown text: indented code lines (joined over trailing backslashes) and
    inline code, placeholders such as <pipeline> replaced by one word; templates (NAME, [...]) and --help left out."""
    commands, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("    ") and re.match(r"\s+(OMP_NUM_THREADS=\d+ )?timeartist ", line):
            command = line.strip()
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            commands.append(command.split("  #")[0])
    commands += re.findall(r"`((?:OMP_NUM_THREADS=\d+ )?timeartist [^`]+)`", text.replace("\n", " "))
    commands = [re.sub(r"<[^>]*>", "PLACEHOLDER", c) for c in commands]
    return [c for c in commands if not re.search(r"\bNAME\b|\[|--help", c)]


def test_benchmarks_md_runs_only_timeartist_commands_and_each_parses():
    text = (REPO / "BENCHMARKS.md").read_text()
    assert not re.search(r"^\s*(\.venv/bin/)?(python|bash)\b|benchmarks/\w+\.py", text, flags=re.M)
    commands = documented_commands(text)
    assert len(commands) > 30 and all(name in " ".join(commands) for name in ("bench ltsf", "validate period", "bench distributed"))
    for command in commands:
        argv = [word for word in shlex.split(command) if not word.startswith("OMP_NUM_THREADS=")][1:]
        args, extra = build_parser().parse_known_args(argv)  # argparse exits on a bad command
        assert all("=" in word for word in extra) and (not extra or args.command in ("train", "export")), command
