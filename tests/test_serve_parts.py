"""What the playground builds on, without a server: reading uploads and fields (one-line errors), the generated
examples, its figures (the forecast band drawing included) and the outpainter hook that shows what it saw."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from timeartist.pipelines.forecasting import forecast_with_outpainter
from timeartist.serve import examples, inputs, views


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    hours = pd.date_range("2024-01-01", periods=300, freq="h")
    frame = pd.DataFrame({"when": hours.astype(str), "load": np.sin(np.arange(300) * 2 * np.pi / 24), "flag": True})
    frame.iloc[::-1].to_csv(folder / "reversed.csv", index=False)  # rows out of order: sorted by time on reading
    frame.to_parquet(folder / "load.parquet")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "header.csv").write_text("a,b\n")
    pd.DataFrame({"name": ["x", "y"], "colour": ["red", "blue"]}).to_csv(folder / "words.csv", index=False)
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n this is no picture")
    (folder / "broken.parquet").write_bytes(b"PAR1 not really")
    (folder / "notes.txt").write_text("1,2,3\n")
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(folder / "grey.png")
    return folder


def test_tables_are_read_and_series_sorted_by_time(tables):
    frame = inputs.read_table(tables / "reversed.csv")
    assert inputs.guess_time_column(frame) == "when" and inputs.value_columns(frame, "when") == ["load"]  # booleans are no values
    series = inputs.series_from_table(frame, None, None)
    assert series.name == "load" and series.time_name == "when"
    assert np.all(np.diff(series.times) > np.timedelta64(0)) and series.values[0] == pytest.approx(0.0)
    parquet = inputs.series_from_table(inputs.read_table(tables / "load.parquet"), "when", "load")
    np.testing.assert_array_equal(parquet.values, series.values)
    by_row = inputs.series_from_table(frame, inputs.NO_TIME, "load")
    assert by_row.times is None and by_row.values[0] == series.values[-1]  # file order


@pytest.mark.parametrize(
    "name, message",
    [
        ("notes.txt", "notes.txt is not a CSV or Parquet file: expected a file ending in .csv, .parquet"),
        ("empty.csv", "empty.csv is empty"),
        ("header.csv", "header.csv has a header but no rows"),
        ("broken.parquet", "broken.parquet is not a readable Parquet file"),
    ],
)
def test_bad_tables_are_one_line_errors(tables, name, message):
    with pytest.raises(ValueError, match=f"^{message}") as error:
        inputs.read_table(tables / name)
    assert "\n" not in str(error.value)


def test_tables_over_the_limit_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "UPLOAD_LIMIT_MB", 1)
    big = tmp_path / "big.csv"
    big.write_bytes(b"x\n" + b"1\n" * (2**19 + 1))
    with pytest.raises(ValueError, match=r"^big.csv is 1.0 MB; uploads are limited to 1 MB$"):
        inputs.read_table(big)


def test_bad_columns_and_fields(tables):
    words = inputs.read_table(tables / "words.csv")
    with pytest.raises(ValueError, match=r"no numeric column to forecast: the columns are \['name', 'colour'\]"):
        inputs.series_from_table(words, None, None)
    frame = inputs.read_table(tables / "reversed.csv")
    with pytest.raises(ValueError, match="column 'flag' is not a numeric column; choose one of"):
        inputs.series_from_table(frame, "when", "flag")
    twice = pd.concat([frame, frame.iloc[-1:]])
    with pytest.raises(ValueError, match="time column 'when' repeats the time 2024-01-01 00:00:00"):
        inputs.series_from_table(twice, "when", "load")
    with pytest.raises(ValueError, match="neither numbers nor dates"):
        inputs.series_from_table(frame.assign(when="soon"), "when", "load")
    assert inputs.parse_horizon("96") == 96 and inputs.parse_horizon(12.0) == 12
    for bad in ("0", "2.5", "ten", None, "10001"):
        with pytest.raises(ValueError, match="horizon must be a whole number from 1 to 10,000"):
            inputs.parse_horizon(bad)
    assert inputs.parse_period(" Auto ") is None and inputs.parse_period("24") == 24
    with pytest.raises(ValueError, match="period must be 'auto' or a whole number"):
        inputs.parse_period("daily")
    assert inputs.parse_levels("0.1, 0.5; 0.9") == (0.1, 0.5, 0.9)
    for bad in ("0.5, 0.1", "0, 0.5", "0.1, 0.1", "", "a"):
        with pytest.raises(ValueError, match="quantile levels must be increasing numbers between 0 and 1"):
            inputs.parse_levels(bad)


def test_photos_decode_or_say_why(tables, monkeypatch):
    assert inputs.read_photo(tables / "grey.png").size == (40, 30)
    with pytest.raises(ValueError, match=r"^photo.png is not a readable image \(cannot identify image file"):
        inputs.read_photo(tables / "photo.png")
    with pytest.raises(ValueError, match="reversed.csv is not an image: expected a file ending in .png"):
        inputs.read_photo(tables / "reversed.csv")
    monkeypatch.setattr(inputs, "MAX_PIXELS", 1000)
    with pytest.raises(ValueError, match="grey.png has 40 x 30 pixels; at most 0 million are read"):
        inputs.read_photo(tables / "grey.png")


def test_classification_tables(tmp_path):
    train, test = examples.example_classes(per_class_train=3, per_class_test=2, length=40)
    assert inputs.guess_label_column(train) == "label" and sorted(set(train.label)) == ["sawtooth", "sine", "square"]
    X, y = inputs.cases_from_table(train, "label", "train.csv", labelled=True)
    assert X.shape == (9, 40) and list(y) == list(train.label)
    X_test, y_test = inputs.cases_from_table(test.drop(columns="label"), "label", "test.csv", labelled=False)
    assert X_test.shape == (6, 40) and y_test is None
    with pytest.raises(ValueError, match="train.csv has no label column 'kind'"):
        inputs.cases_from_table(train, "kind", "train.csv", labelled=True)
    with pytest.raises(ValueError, match="holds one class only"):
        inputs.cases_from_table(train.assign(label="a"), "label", "train.csv", labelled=True)


def test_examples_are_fixed_and_shaped_like_uploads():
    for name in examples.SERIES_EXAMPLES:
        frame = examples.example_series(name)
        pd.testing.assert_frame_equal(frame, examples.example_series(name))  # seeded: every start shows the same data
        series = inputs.series_from_table(frame, None, None)
        assert series.time_name == frame.columns[0] and np.isfinite(series.values).all() and pd.infer_freq(pd.DatetimeIndex(series.times))
    assert len(examples.example_series("hourly electricity load (2,000 hours)")) == 2000
    with pytest.raises(ValueError, match="unknown example 'weather'"):
        examples.example_series("weather")


def test_forecast_figure_draws_the_band_when_given():
    x = np.arange(10.0)
    plain = views.forecast_figure(x, x, x[:3], np.arange(10, 13), "t")
    banded = views.forecast_figure(x, x, x[:3], np.arange(10, 13), "t", band=(x[:3] - 1, x[:3] + 1, "10% - 90%"))
    assert not plain.axes[0].collections
    (band,) = banded.axes[0].collections
    vertices = band.get_paths()[0].vertices
    assert vertices[:, 1].min() == -1 and vertices[:, 1].max() == 3
    assert [t.get_text() for t in banded.axes[0].get_legend().get_texts()] == ["history", "10% - 90%", "forecast"]


def test_on_outpaint_shows_each_outpainter_call_and_changes_nothing(tiny_pipeline_dir):
    from timeartist.pipelines.pipeline import TimeArtistPipeline

    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    context = np.sin(np.arange(200) * 2 * np.pi / 12) + np.linspace(0, 3, 200)
    calls = []
    options = dict(period=12, flip_ensemble=True, trend_ensemble=True)
    seen = forecast_with_outpainter(context, 40, pipe.outpainter, on_outpaint=lambda *call: calls.append(call), **options)
    np.testing.assert_array_equal(seen, forecast_with_outpainter(context, 40, pipe.outpainter, **options))
    layout, canvas, filled = calls[0]
    assert layout.period == 12 and canvas.shape == filled.shape == (1, 3, *pipe.outpainter.image_size)
    passes = -(-40 // layout.horizon)
    assert len(calls) == passes * 4  # per pass: plain, flipped, detrended, detrended flipped
    torch_canvas = canvas[0, 0]
    assert (torch_canvas[:, layout.context_width :] == 0).all() and torch_canvas[:, : layout.context_width].abs().sum() > 0
    np.testing.assert_allclose(calls[1][1].numpy(), -canvas.numpy(), atol=1e-6)  # the flipped view: the negated context
    picture = np.asarray(views.canvas_picture(layout, canvas[0].numpy(), filled[0].numpy(), width=256))
    scale = 256 // canvas.shape[-1]
    assert picture.shape[1] == canvas.shape[-1] * scale
    edge, end = layout.context_width * scale, (layout.context_width + 40 // 12 + 1) * scale  # 40 steps: 4 columns of 12
    assert (picture[::2, edge - 1 : edge + 1] == 0).all() and (picture[::2, end - 1 : end + 1] == 0).all()  # dotted lines
    assert (picture[::2, edge + 1 : end - 1] != 0).any(axis=-1).all()  # nothing else dotted
    top_future = picture[: canvas.shape[-2] * scale, edge + 1 : end - 1]
    np.testing.assert_array_equal(top_future, np.broadcast_to(top_future[0, 0], top_future.shape))  # nothing drawn there yet


def test_serve_refuses_bad_arguments_before_loading_anything(capsys, monkeypatch, tmp_path):
    from timeartist.cli import main
    from timeartist.serve import browser

    if importlib.util.find_spec("gradio") is None:
        pytest.skip("the playground needs the serve extra: pip install 'timeartist[serve]'")
    assert main(["serve", "--port", "70000", "--model", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == "timeartist serve: error: --port must be from 1 to 65535, got 70000\n"
    monkeypatch.setattr(browser, "unavailable", lambda: "no Chromium found (apt-get install chromium)")
    assert main(["serve", "--screenshots", str(tmp_path / "shots"), "--model", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == "timeartist serve: error: --screenshots cannot run: no Chromium found (apt-get install chromium)\n"
    assert not (tmp_path / "shots").exists()
