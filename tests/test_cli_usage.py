"""The CLI as a new user meets it: output formats that follow the file extension, arguments checked against the
data before anything is written, errors that name the file, column, window or cell, and model folders without the
parts a command does not use."""

import shutil

import numpy as np
import pandas as pd
from PIL import Image
from test_cli import series_csv  # noqa: F401 (the hourly CSV fixture)

from timeartist.cli import main


def test_forecast_writes_real_parquet_for_a_parquet_path(tiny_pipeline_dir, series_csv, tmp_path):
    out = tmp_path / "fc.parquet"
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "5", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"PAR1"
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["unique_id", "ds", "forecast"] and len(frame) == 5
    assert frame.ds.iloc[0] == pd.Timestamp("2024-01-17 16:00") and frame.forecast.dtype == np.float64


def test_forecast_refuses_a_freq_finer_than_the_data(tiny_pipeline_dir, series_csv, tmp_path, capsys):
    out = tmp_path / "fc.csv"
    argv = ["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "5", "--out", str(out)]
    assert main(argv + ["--freq", "30min"]) == 2
    err = capsys.readouterr().err
    assert "mostly 1:00:00 apart" in err and "399 of the 799 steps would be interpolated" in err and "'h'" in err
    assert not out.exists()
    assert main(argv + ["--freq", "h"]) == 0 and len(pd.read_csv(out)) == 5


def test_errors_name_the_file_column_window_and_cell(tiny_pipeline_dir, series_csv, tmp_path, capsys):
    frame = pd.read_csv(series_csv)
    frame["load"] = frame["load"].astype(object)
    frame.loc[57, "load"] = "?"
    frame.loc[300, "load"] = "12,5"
    questioned = tmp_path / "questioned.csv"
    frame.to_csv(questioned, index=False)
    sparse = tmp_path / "sparse.csv"
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=80, freq="h"), "load": [1.0] + [np.nan] * 79}).to_csv(sparse, index=False)
    pixel = tmp_path / "pixel.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(pixel)
    model = ["--model", str(tiny_pipeline_dir)]
    cell = f"column 'load' of {questioned} is not numeric: row 58 (line 59 of the file, date 2024-01-03 09:00:00) holds '?'; 1 more rows hold text too"
    cases = [
        (["forecast", "--csv", str(questioned), "--horizon", "3"], cell),  # no --column: not "has no numeric column"
        (["forecast", "--csv", str(questioned), "--column", "load", "--horizon", "3"], cell),
        (["forecast", "--csv", str(sparse), "--horizon", "3", "--out", str(tmp_path / "fc.csv")], f"{sparse}, column 'load': 1 observed value; at least 2 are needed"),
        (["convert", "series2image", "--csv", str(sparse), "--window", "40", "--out", str(tmp_path / "s2i")],
         f"{sparse}, column 'load' (window 0, window 1): 0 or 1 observed values; at least 2 are needed"),
        (["convert", "image2series", "--images", str(pixel), "--out", str(tmp_path / "i2s")], f"--images ({pixel}): one flat colour (e.g. a 1x1 image)"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv + model) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err, (argv, err)
        assert len(err.splitlines()) == 1 and "series [" not in err and "to forecast" not in err
    assert not any(tmp_path.glob("fc.csv")) and not (tmp_path / "s2i").exists() and not (tmp_path / "i2s").exists()


def test_a_model_folder_without_its_generator_still_forecasts_and_converts(tiny_pipeline_dir, series_csv, tmp_path, capsys, caplog):
    model = tmp_path / "model"
    shutil.copytree(tiny_pipeline_dir, model)
    shutil.rmtree(model / "generator")
    common = ["--model", str(model), "--csv", str(series_csv)]
    assert main(["forecast", *common, "--horizon", "4", "--out", str(tmp_path / "fc.csv")]) == 0
    assert main(["convert", "series2image", *common, "--count", "2", "--out", str(tmp_path / "s2i")]) == 0
    assert len(list((tmp_path / "s2i").glob("image_*.png"))) == 2
    assert f"{model}: generator/ missing although the index lists it" in caplog.text
    capsys.readouterr()
    assert main(["generate", "--model", str(model), "--out", str(tmp_path / "gen")]) == 2
    assert f"this pipeline has no token generator ({model / 'generator'} is missing)" in capsys.readouterr().err
    (model / "visual").rename(model / "visual_moved")  # a required component is still an error naming it
    assert main(["forecast", *common, "--horizon", "4", "--out", str(tmp_path / "fc.csv")]) == 2
    assert str(model / "visual" / "config.json") in capsys.readouterr().err


USER_COMMANDS = ("demo", "convert", "style", "forecast", "classify", "generate", "train")  # bench, export: issue 26's bench layout


def test_help_explains_every_option_and_shows_its_default():
    import argparse

    from timeartist.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in USER_COMMANDS:
        for action in commands[name]._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{flag} has no help text"
            if action.default not in (None, False) and not action.required:
                assert f"default: {action.default}" in action.help % {"default": action.default}, f"{flag} does not show its default"
    shown = {name: " ".join(commands[name].format_help().split()) for name in USER_COMMANDS}
    assert "how many steps to forecast" in shown["forecast"] and "(default: visionts)" in shown["forecast"]
    assert "decoding steps: more are slower and can add detail (default: 8)" in shown["generate"]
    assert "default: 0.5)" in shown["style"] and "(default: demo_output)" in shown["demo"]


def test_forecast_plot_is_dated_by_the_csv_and_labelled(tiny_pipeline_dir, series_csv, tmp_path, monkeypatch):
    from timeartist import viz

    drawn, save = [], viz.save_figure
    monkeypatch.setattr(viz, "save_figure", lambda fig, path: (drawn.append(fig.axes[0]), save(fig, path))[1])
    out, plot = tmp_path / "fc.csv", tmp_path / "fc.png"
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(series_csv), "--horizon", "6", "--out", str(out), "--plot", str(plot)]) == 0
    ax, future = drawn[0], pd.read_csv(out, parse_dates=["ds"]).ds
    assert pd.Timestamp(ax.lines[1].get_xdata()[0]) == future[0] and pd.Timestamp(ax.lines[0].get_xdata()[-1]) == pd.Timestamp("2024-01-17 15:00")
    assert ax.get_xlabel() == "time" and ax.get_ylabel() == "load" and Image.open(plot).format == "PNG"
