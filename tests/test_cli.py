"""The CLI end to end on the tiny pipeline: outputs written, and one-line errors with exit code 2."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from timeartist.cli import main


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "load.csv"
    t = np.arange(400)
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=400, freq="h"), "load": 10 + np.sin(2 * np.pi * t / 24)}).to_csv(path, index=False)
    return path


def test_forecast_writes_csv_and_plot(tiny_pipeline_dir, series_csv, tmp_path, capsys):
    out, plot = tmp_path / "fc.csv", tmp_path / "fc.png"
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "12", "--period", "24", "--out", str(out), "--plot", str(plot)]) == 0
    frame = pd.read_csv(out, parse_dates=["ds"])
    assert len(frame) == 12 and frame.ds.iloc[0] == pd.Timestamp("2024-01-17 16:00")
    assert Image.open(plot).format == "PNG"


def test_convert_both_ways(tiny_pipeline_dir, series_csv, tmp_path):
    assert main(["convert", "series2image", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--count", "3", "--out", str(tmp_path / "s2i")]) == 0
    assert len(list((tmp_path / "s2i").glob("image_*.png"))) == 3 and (tmp_path / "s2i" / "series2image.png").is_file()
    images = sorted(str(p) for p in (tmp_path / "s2i").glob("image_*.png"))
    assert main(["convert", "image2series", "--model", str(tiny_pipeline_dir), "--images", *images, "--out", str(tmp_path / "i2s")]) == 0
    assert pd.read_csv(tmp_path / "i2s" / "series.csv").shape == (64, 4)


def test_style_grid(tiny_pipeline_dir, series_csv, tmp_path):
    image = tmp_path / "img.png"
    Image.fromarray((np.random.rand(40, 40, 3) * 255).astype(np.uint8)).save(image)
    assert main(["style", "--model", str(tiny_pipeline_dir), "--image", str(image), "--csv", str(series_csv), "--alphas", "0,0.5,1", "--out", str(tmp_path / "st")]) == 0
    assert Image.open(tmp_path / "st" / "style.png").format == "PNG"


def _write_ts(path, cases, labels):
    """Cases (T,) or (C, T) (NaN written as '?'); labels None: a file without class labels."""
    cases = [np.atleast_2d(c) for c in cases]
    header = "false" if labels is None else f"true {' '.join(sorted(set(labels)))}"
    lines = ["@problemName toy", "@timeStamps false", "@missing true", f"@univariate {str(len(cases[0]) == 1).lower()}",
             f"@dimensions {len(cases[0])}", "@equalLength false", f"@classLabel {header}", "@data"]  # fmt: skip
    values = [":".join(",".join("?" if np.isnan(v) else f"{v:.4f}" for v in row) for row in case) for case in cases]
    lines += [v + ("" if labels is None else f":{label}") for v, label in zip(values, labels or [None] * len(values))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_classify_reports_accuracy(tiny_pipeline_dir, tmp_path, capsys):
    t = np.arange(30)
    cases = [np.sin(t / p) + 0.01 * k for p in (2, 6) for k in range(3)]
    labels = ["a"] * 3 + ["b"] * 3
    train = _write_ts(tmp_path / "toy_TRAIN.ts", cases, labels)
    test = _write_ts(tmp_path / "toy_TEST.ts", cases[::2], labels[::2])
    assert main(["classify", "--model", str(tiny_pipeline_dir), "--train", str(train), "--test", str(test), "--out", str(tmp_path / "out")]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "out" / "predictions.csv")) == 3
    assert Image.open(tmp_path / "out" / "class_prototypes.png").format == "PNG"


@pytest.mark.parametrize(
    "train, test, message",
    [
        ("two_channels", "one_channel", "fitted on 2-channel cases, got 1"),
        ("unlabelled", "one_channel", "has no class labels; fit_classifier needs them"),
        ("nan_only", "one_channel", "case 0, dimension 0 has no values at all"),
        ("one_step", "one_channel", "case 0 has 1 step"),
        ("one_class", "one_channel", "at least 2 classes"),
    ],
)
def test_classify_bad_input_is_one_line(tiny_pipeline_dir, tmp_path, capsys, train, test, message):
    t = np.arange(30.0)
    waves = [np.sin(t / p) + 0.01 * k for p in (2, 6) for k in range(3)]
    labels = ["a"] * 3 + ["b"] * 3
    files = {
        "one_channel": (waves, labels),
        "two_channels": ([np.stack([w, w]) for w in waves], labels),
        "unlabelled": (waves, None),
        "nan_only": ([np.full(30, np.nan)] + waves[1:], labels),
        "one_step": ([w[:1] for w in waves[:1]] + waves[1:], labels),
        "one_class": (waves, ["a"] * 6),
    }
    paths = {name: _write_ts(tmp_path / f"{name}.ts", *files[name]) for name in {train, test}}
    assert main(["classify", "--model", str(tiny_pipeline_dir), "--train", str(paths[train]), "--test", str(paths[test]), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_classify_unlabelled_test_file_writes_predictions(tiny_pipeline_dir, tmp_path, capsys):
    t = np.arange(30.0)
    waves = [np.sin(t / p) + 0.01 * k for p in (2, 6) for k in range(3)]
    train = _write_ts(tmp_path / "train.ts", waves, ["a"] * 3 + ["b"] * 3)
    test = _write_ts(tmp_path / "test.ts", [w[: 20 + k] for k, w in enumerate(waves)], None)  # unequal lengths, no labels
    assert main(["classify", "--model", str(tiny_pipeline_dir), "--route", "vision", "--train", str(train), "--test", str(test), "--out", str(tmp_path)]) == 0
    assert "no class labels: wrote predictions only (route vision" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "predictions.csv").columns) == ["case", "predicted"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["forecast", "--csv", "missing.csv", "--horizon", "3"], "not found"),
        (["forecast", "--csv", "{csv}", "--horizon", "3", "--column", "nope"], "column 'nope'"),
        (["convert", "image2series", "--images", "{csv}"], "cannot read image"),
    ],
)
def test_user_errors_are_one_line(tiny_pipeline_dir, series_csv, argv, message, capsys):
    argv = [a.replace("{csv}", str(series_csv)) for a in argv] + ["--model", str(tiny_pipeline_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_nonpositive_horizon_is_rejected(series_csv):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "--csv", str(series_csv), "--horizon", "0"])
    assert exit_info.value.code == 2


def test_missing_bundled_model_names_the_path(series_csv, tmp_path, capsys):
    assert main(["forecast", "--model", str(tmp_path / "nowhere"), "--csv", str(series_csv), "--horizon", "3"]) == 2
    assert "timeartist_index.json" in capsys.readouterr().err


def test_train_warmup_from_the_cli(tmp_path, capsys):
    from pathlib import Path

    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.fromarray((np.random.rand(40, 40, 3) * 255).astype(np.uint8)).save(images / f"{i}.png")
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny" / "warmup.yaml"
    overrides = [
        "training.max_train_steps=2", "training.per_gpu_batch_size=4", "experiment.save_every=2", "experiment.eval_every=2",
        "dataset.params.series_datasets=[]", "dataset.params.synthetic_series=8", "dataset.params.heldout_series_datasets=[]",
        "dataset.params.heldout_synthetic_series=4", f"dataset.params.image_dirs=[{images}]", f"dataset.params.heldout_image_dirs=[{images}]",
        f"experiment.output_dir={tmp_path / 'run'}",
    ]  # fmt: skip
    assert main(["train", "warmup", "--config", str(config), *overrides]) == 0
    assert "exported" in capsys.readouterr().out
    assert (tmp_path / "run").is_dir() and any((tmp_path / "run").rglob("model.safetensors"))
    assert main(["train", "warmup", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_export_adds_an_outpainter(tiny_pipeline_dir, tmp_path):
    import json

    from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig

    MAEOutpainter(OutpainterConfig(image_size=(8, 16), patch_size=(8, 1), width=16, depth=1, decoder_depth=1, heads=2)).save_pretrained(tmp_path / "op")
    assert main(["export", "--base", str(tiny_pipeline_dir), "--outpainter", str(tmp_path / "op"), "--out", str(tmp_path / "pipe")]) == 0
    assert json.loads((tmp_path / "pipe" / "outpainter" / "config.json").read_text())["image_size"] == [8, 16]


def test_export_sets_the_trend_rule_as_a_forecast_default(tiny_pipeline_dir, tmp_path, capsys):
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    argv = ["export", "--base", str(tiny_pipeline_dir), "--trend-ensemble", "auto", "--trend-min-r2", "0.8", "--out", str(tmp_path / "pipe")]
    assert main(argv) == 0
    defaults = TimeArtistPipeline.from_pretrained(tmp_path / "pipe").forecast_defaults
    assert defaults["trend_ensemble"] == "auto" and defaults["trend_min_r2"] == 0.8
    assert main(["export", "--base", str(tmp_path / "pipe"), "--seasonal-blend", "0.1", "--blend-periods", "28", "--out", str(tmp_path / "pipe2")]) == 0
    defaults = TimeArtistPipeline.from_pretrained(tmp_path / "pipe2").forecast_defaults
    assert defaults["seasonal_blend"] == 0.1 and defaults["blend_periods"] == 28 and defaults["trend_ensemble"] == "auto"
    assert main(argv[:3] + ["--trend-ensemble", "on", "--trend-min-r2", "0.8", "--out", str(tmp_path / "bad")]) == 2
    assert "--trend-min-r2" in capsys.readouterr().err


@pytest.mark.parametrize("component", ["visual", "temporal"])
def test_export_swaps_in_a_tokenizer_over_the_same_codebook(component, tiny_pipeline_dir, tmp_path, capsys):
    from timeartist.models.temporal import TimeArtist
    from timeartist.models.visual import VisionModel
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    tuned = {"visual": VisionModel, "temporal": TimeArtist}[component].from_pretrained(tiny_pipeline_dir / component)
    with torch.no_grad():
        for name, param in tuned.named_parameters():
            if not name.startswith("quantize."):
                param.add_(0.01)
    tuned.save_pretrained(tmp_path / "tuned")
    argv = ["export", "--base", str(tiny_pipeline_dir), f"--{component}", str(tmp_path / "tuned"), "--out", str(tmp_path / "pipe")]
    assert main(argv) == 0
    pipe = TimeArtistPipeline.from_pretrained(tmp_path / "pipe")
    assert pipe.visual.quantize is pipe.temporal.quantize
    expected = {n: p for n, p in tuned.named_parameters()}
    assert all(torch.equal(p, expected[n]) for n, p in getattr(pipe, component).named_parameters())
    with torch.no_grad():
        for param in tuned.quantize.parameters():
            param.add_(0.1)
    tuned.save_pretrained(tmp_path / "other")
    assert main(argv[:4] + [str(tmp_path / "other"), "--out", str(tmp_path / "pipe2")]) == 2
    assert "another codebook" in capsys.readouterr().err


def test_export_takes_a_runs_best_checkpoint_and_picks_the_context_on_validation(tiny_pipeline_dir, data_root, tmp_path, capsys):
    import json

    from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    config = OutpainterConfig(image_size=(24, 64), patch_size=(24, 1), width=16, depth=1, decoder_depth=1, heads=2)
    for step in (1, 2):
        MAEOutpainter(config).save_pretrained(tmp_path / "run" / "evals" / f"step_{step:08d}")
    (tmp_path / "run" / "evals" / "val.jsonl").write_text('{"step": 1, "mse": 0.5}\n{"step": 2, "mse": 0.8}\n')
    argv = ["export", "--base", str(tiny_pipeline_dir), "--outpainter", str(tmp_path / "run"), "--out", str(tmp_path / "pipe")]
    assert main(argv + ["--context-periods", "auto", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "step_00000001" in out and "-> " in out
    defaults = TimeArtistPipeline.from_pretrained(tmp_path / "pipe").forecast_defaults
    assert defaults["context_periods"] in (5, 7, 10, 14, 20, 30) and isinstance(defaults["flip_ensemble"], bool)
    assert main(argv + ["--context-periods", "ten"]) == 2
    assert "positive integer or 'auto'" in capsys.readouterr().err


def test_generate_grid(tiny_pipeline_dir, tmp_path):
    assert main(["generate", "--model", str(tiny_pipeline_dir), "--classes", "1,2", "--n", "2", "--steps", "2", "--out", str(tmp_path)]) == 0
    assert Image.open(tmp_path / "generated.png").format == "PNG"


@pytest.fixture(scope="module")
def gappy_csv(tmp_path_factory):
    """Hourly data with 3 rows missing: the time step cannot be inferred."""
    path = tmp_path_factory.mktemp("gappy") / "gappy.csv"
    stamps = pd.date_range("2024-01-01", periods=300, freq="h")
    frame = pd.DataFrame({"date": stamps, "load": 10 + np.sin(2 * np.pi * np.arange(300) / 24)})
    frame.drop(index=[50, 51, 200]).to_csv(path, index=False)
    return path


def test_forecast_freq_handles_gappy_timestamps(tiny_pipeline_dir, gappy_csv, tmp_path, capsys):
    out = tmp_path / "fc.csv"
    argv = ["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(gappy_csv), "--horizon", "6", "--out", str(out)]
    assert main(argv) == 2
    assert "--freq" in capsys.readouterr().err
    assert main(argv + ["--freq", "h"]) == 0
    frame = pd.read_csv(out, parse_dates=["ds"])
    assert len(frame) == 6 and frame.ds.iloc[0] == pd.Timestamp("2024-01-13 12:00") and np.isfinite(frame.forecast).all()
    assert main(argv + ["--freq", "fortnightly"]) == 2
    assert "--freq 'fortnightly'" in capsys.readouterr().err


def _bad_arguments(tmp_path, series_csv, tiny_pipeline_dir):
    """(argv, text the one-line error must contain) for bad arguments and unusable paths."""
    empty, header_only, not_a_dir = tmp_path / "empty.csv", tmp_path / "header.csv", tmp_path / "file"
    empty.write_text("")
    header_only.write_text("date,load\n")
    not_a_dir.write_text("a file, not a folder")
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "timeartist_index.json").write_text("{not json")
    csv = str(series_csv)
    forecast = ["forecast", "--csv", csv, "--horizon", "3"]
    return [
        (forecast + ["--plot", str(tmp_path)], str(tmp_path)),
        (forecast + ["--out", str(not_a_dir / "fc.csv")], str(not_a_dir)),
        (["forecast", "--csv", str(empty), "--horizon", "3"], str(empty)),
        (["forecast", "--csv", str(header_only), "--horizon", "3"], str(header_only)),
        (forecast + ["--freq", "often"], "--freq"),
        (forecast + ["--column", "nope"], "column 'nope'"),
        (["convert", "image2series", "--images", csv], "cannot read image"),
        (["style", "--image", csv, "--csv", csv], "cannot read image"),
        (["convert", "series2image", "--csv", csv, "--out", str(not_a_dir / "out")], str(not_a_dir)),
        (["classify", "--train", str(tmp_path / "none.ts"), "--test", str(tmp_path / "none.ts")], "none.ts"),
        (["generate", "--out", str(not_a_dir / "gen")], str(not_a_dir)),
        (forecast + ["--out", str(tmp_path / "no" / "such" / "fc.csv")], "the folder " + str(tmp_path / "no" / "such") + " does not exist"),
        (forecast + ["--out", str(tmp_path / "fc.txt")], "expected .csv or .parquet, got '.txt'"),
        (forecast + ["--out", str(tmp_path / "fc.csv"), "--plot", str(tmp_path / "fc.pdf")], "expected .png, got '.pdf'"),
        (forecast + ["--out", str(tmp_path / "fc.csv"), "--plot", "/proc/fc.png"], "cannot write --plot /proc/fc.png: /proc is not writable"),
        (forecast + ["--out", str(tmp_path / "fc.csv"), "--engine", "dask"], "--engine: for --input (Parquet files) only"),
        (forecast + ["--workers", "2"], "--workers: for --input (Parquet files) only"),
        (["forecast", "--input", csv, "--horizon", "3", "--out", str(tmp_path / "parts.csv")], "names a CSV file"),
    ], (forecast + ["--model", str(broken)], str(broken / "timeartist_index.json"))


def test_bad_arguments_fail_fast_with_one_line_naming_the_path(tmp_path, series_csv, tiny_pipeline_dir, monkeypatch, capsys):
    import time

    from timeartist.pipelines.pipeline import TimeArtistPipeline

    cases, broken_model = _bad_arguments(tmp_path, series_csv, tiny_pipeline_dir)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(TimeArtistPipeline, "from_pretrained", no_model)
    before = sorted(tmp_path.rglob("*"))
    for argv, expected in cases:
        started = time.perf_counter()
        assert main(argv + ["--model", str(tiny_pipeline_dir)]) == 2, argv
        assert time.perf_counter() - started < 1.0, argv
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no folder made
    monkeypatch.undo()
    argv, expected = broken_model  # a broken index file is named too
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1


def test_unexpected_errors_are_one_line_with_exit_code_1(series_csv, tmp_path, monkeypatch, capsys):
    from timeartist import cli

    def bug(args):
        raise RuntimeError("something deep inside\nwith two lines")

    monkeypatch.setattr(cli, "_pipeline", bug)
    assert main(["forecast", "--csv", str(series_csv), "--horizon", "3", "--out", str(tmp_path / "fc.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert "internal error" in err and "--debug" in err and len(err.splitlines()) == 1
    with pytest.raises(RuntimeError):
        main(["--debug", "forecast", "--csv", str(series_csv), "--horizon", "3", "--out", str(tmp_path / "fc.csv")])
