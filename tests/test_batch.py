"""Long frames in one process: errors="collect", series_to_image_df, and `forecast --input` without an engine.

None of this may import dask (the core package never does); the Dask path is in test_distributed.py.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from timeartist.cli import main
from timeartist.pipelines.forecasting import SeriesError
from timeartist.pipelines.pipeline import TimeArtistPipeline


def long_frame(n: int, length: int = 48, bad: bool = True, seed: int = 0) -> pd.DataFrame:
    """n hourly series ``s0``... of ``length`` (every 3rd one 8 steps longer); with ``bad``, ``nan`` is all NaN and
    ``one`` has a single step (no time step to infer)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        steps = length + 8 * (i % 3 == 0)
        stamps = pd.date_range("2024-01-01", periods=steps, freq="h")
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": stamps, "y": 10 + np.sin(np.arange(steps) / 3) + rng.normal(size=steps)}))
    if bad:
        frames.append(pd.DataFrame({"unique_id": "nan", "ds": pd.date_range("2024-01-01", periods=length, freq="h"), "y": np.nan}))
        frames.append(pd.DataFrame({"unique_id": "one", "ds": [pd.Timestamp("2024-01-01")], "y": [1.0]}))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)  # rows in any order


@pytest.fixture(scope="module")
def pipe(tiny_pipeline_dir):
    return TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)


def test_forecast_df_collects_bad_series(pipe):
    df = long_frame(20)
    forecasts, errors = pipe.forecast_df(df, horizon=6, period=12, errors="collect")
    assert sorted(errors.unique_id) == ["nan", "one"] and list(errors.columns) == ["unique_id", "reason"]
    assert "observed values" in errors.set_index("unique_id").reason["nan"]
    assert list(forecasts.columns) == ["unique_id", "ds", "forecast"] and forecasts.unique_id.nunique() == 20
    assert forecasts.groupby("unique_id").size().eq(6).all()
    good = df[~df.unique_id.isin(["nan", "one"])]
    same = pipe.forecast_df(good, horizon=6, period=12).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True), same, rtol=1e-5)
    with pytest.raises(SeriesError, match="observed values|time step"):
        pipe.forecast_df(df, horizon=6, period=12)
    with pytest.raises(ValueError, match="errors must be"):
        pipe.forecast_df(good, horizon=6, errors="ignore")


def test_bad_series_are_named_by_id_with_what_is_wrong(pipe):
    df = long_frame(3)
    _, errors = pipe.forecast_df(df, horizon=6, period=12, errors="collect")
    reasons = errors.set_index("unique_id").reason
    assert reasons["one"] == "1 time step; at least 2 are needed"  # not "cannot infer the time step"
    assert reasons["nan"] == "0 observed values; at least 2 are needed"  # no "to forecast": conversions say it too
    with pytest.raises(SeriesError, match=r"^series \['nan'\]: 0 observed values"):  # the id, not the row of a batch
        pipe.forecast_df(df[df.unique_id != "one"], horizon=6, period=12)
    with pytest.raises(SeriesError, match=r"^series \[0\]: 1 observed value; at least 2 are needed$"):
        pipe.series_to_image(np.array([np.nan, 1.0, np.nan]))


def test_forecast_df_keeps_dtypes_and_integer_time(pipe):
    df = long_frame(4, bad=False).astype({"unique_id": "category"})
    out = pipe.forecast_df(df, horizon=3, period=12)
    assert out.unique_id.dtype == df.unique_id.dtype and out.ds.dtype == df.ds.dtype and out.forecast.dtype == np.float64
    steps = pd.DataFrame({"unique_id": 7, "ds": np.arange(0, 96, 2), "y": np.sin(np.arange(48) / 3)})
    assert pipe.forecast_df(steps, horizon=3, period=12).ds.tolist() == [96, 98, 100]
    empty, no_errors = pipe.forecast_df(df.iloc[:0], horizon=3, errors="collect")
    assert list(empty.columns) == ["unique_id", "ds", "forecast"] and empty.empty and no_errors.empty


def test_series_to_image_df_tokens_and_pngs(pipe, tmp_path):
    df = long_frame(5)
    tokens, errors = pipe.series_to_image_df(df, errors="collect")
    assert sorted(errors.unique_id) == ["nan", "one"] and len(tokens) == 5
    assert list(tokens.columns) == ["unique_id", *(f"token_{j}" for j in range(8))] and (tokens.dtypes[1:] == np.int64).all()
    series = df[df.unique_id == "s1"].sort_values("ds").y.to_numpy()
    np.testing.assert_array_equal(tokens.set_index("unique_id").loc["s1"].to_numpy(), pipe.series_to_tokens(series)[0])
    images = pipe.series_to_image_df(df[df.unique_id.isin(["s0", "s1"])], images_dir=tmp_path / "png")
    assert sorted(images.columns) == ["image", "unique_id"] and all(p.endswith(".png") for p in images.image)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["s0.png", "s1.png"]


def write_parquet_files(df: pd.DataFrame, folder, files: int = 3) -> str:
    """Split a long frame into ``files`` Parquet files (a series may span files); returns their glob."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(df), files + 1).astype(int)
    for i in range(files):
        df.iloc[bounds[i] : bounds[i + 1]].to_parquet(folder / f"data{i}.parquet", index=False)
    return str(folder / "*.parquet")


def test_cli_forecast_parquet_in_one_process(tiny_pipeline_dir, pipe, tmp_path, capsys):
    df = long_frame(12)
    source = write_parquet_files(df, tmp_path / "data")
    out = tmp_path / "forecasts"
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--input", source, "--horizon", "5", "--period", "12", "--out", str(out)]) == 0
    assert "2 series failed" in capsys.readouterr().out
    written = pd.read_parquet(out).sort_values(["unique_id", "ds"]).reset_index(drop=True)  # skips _errors.parquet
    expected, _ = pipe.forecast_df(df, horizon=5, period=12, errors="collect")
    pd.testing.assert_frame_equal(written, expected.sort_values(["unique_id", "ds"]).reset_index(drop=True), rtol=1e-5)
    assert sorted(pd.read_parquet(out / "_errors.parquet").unique_id) == ["nan", "one"]
    assert main(["forecast", "--model", str(tiny_pipeline_dir), "--input", source, "--horizon", "5", "--out", str(out)]) == 2
    assert "already holds part files" in capsys.readouterr().err
    assert main(["forecast", "--input", str(tmp_path / "none" / "*.parquet"), "--horizon", "5", "--out", str(tmp_path / "x")]) == 2
    assert "no Parquet files" in capsys.readouterr().err
    assert main(["forecast", "--input", source, "--horizon", "5", "--plot", "x.png", "--out", str(tmp_path / "y")]) == 2


def test_core_never_imports_dask(tiny_pipeline_dir, tmp_path):
    source = write_parquet_files(long_frame(3, bad=False), tmp_path / "data", files=1)
    code = f"""
import sys
import timeartist
from timeartist.pipelines.batch import forecast_parquet
pipe = timeartist.TimeArtistPipeline.from_pretrained({str(tiny_pipeline_dir)!r})
forecast_parquet(pipe, {source!r}, {str(tmp_path / "out")!r}, horizon=3, period=12)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
assert not loaded, loaded
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_duplicated_time_stamps_are_an_error_or_collected_and_unsorted_rows_are_fine(pipe):
    stamps = pd.date_range("2024-01-01", periods=60, freq="h")
    good = pd.DataFrame({"unique_id": "good", "ds": stamps, "y": np.sin(np.arange(60) / 3)})
    twice = pd.DataFrame({"unique_id": "twice", "ds": stamps.append(stamps[-1:]), "y": np.arange(61.0)})
    frame = pd.concat([good, twice])
    with pytest.raises(ValueError, match="duplicated time stamps"):
        pipe.forecast_df(frame, horizon=3, period=6)
    forecasts, errors = pipe.forecast_df(frame, horizon=3, period=6, errors="collect")
    assert set(forecasts.unique_id) == {"good"} and errors.to_dict("records") == [{"unique_id": "twice", "reason": "duplicated time stamps"}]
    shuffled = good.sample(frac=1, random_state=0)
    pd.testing.assert_frame_equal(pipe.forecast_df(shuffled, horizon=3, period=6), pipe.forecast_df(good, horizon=3, period=6))
