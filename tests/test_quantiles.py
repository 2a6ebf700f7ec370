"""Quantile forecasts end to end on a tiny pipeline with a quantile head: the API (shapes, order, mean = forecast,
scale-free, levels off the head's grid), forecast_df's level columns (pandas and Dask), the CLI's --quantiles and
its band, and the backtest rules (calibration, the fallback to a simple rule, level continuity)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.pipelines.forecasting import continue_level, forecast_with_outpainter
from timeartist.pipelines.pipeline import QUANTILE_LEVELS, TimeArtistPipeline


@pytest.fixture(scope="module")
def quantile_dir(tiny_pipeline_dir, tmp_path_factory):
    """The tiny pipeline with an outpainter that has a quantile head at 0.1 ... 0.9 (random weights, spread > 0)."""
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    torch.manual_seed(3)
    config = OutpainterConfig(image_size=(8, 32), patch_size=(8, 1), width=32, depth=1, decoder_depth=1, heads=2, quantile_levels=QUANTILE_LEVELS)
    pipe.outpainter = MAEOutpainter(config)
    return pipe.save_pretrained(tmp_path_factory.mktemp("quantile_pipeline"))


@pytest.fixture(scope="module")
def qpipe(quantile_dir):
    return TimeArtistPipeline.from_pretrained(quantile_dir)


def seasonal(n=3, length=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return np.stack([np.sin(2 * np.pi * t / 8 + k) + 0.1 * rng.normal(size=length) for k in range(n)])


def test_shapes_order_and_mean_equals_forecast(qpipe):
    assert qpipe.probabilistic
    x = seasonal()
    quantiles, mean = qpipe.forecast_quantiles(x, 12)
    assert quantiles.shape == (3, 12, 9) and mean.shape == (3, 12)
    assert (np.diff(quantiles, axis=-1) >= 0).all() and (quantiles[..., -1] > quantiles[..., 0]).any()
    np.testing.assert_allclose(mean, qpipe.forecast(x, 12))
    q1, m1 = qpipe.forecast_quantiles(x[0], 12)
    assert q1.shape == (12, 9) and m1.shape == (12,)
    qc, mc = qpipe.forecast_quantiles(np.stack([x, x], axis=-1), 12)  # (B, L, C)
    assert qc.shape == (3, 12, 2, 9) and mc.shape == (3, 12, 2)
    qt, mt = qpipe.forecast_quantiles(torch.as_tensor(x), 12)
    assert isinstance(qt, torch.Tensor) and isinstance(mt, torch.Tensor)


def test_quantiles_are_scale_free_and_levels_off_the_grid_interpolate(qpipe):
    x = seasonal(n=2)
    quantiles, mean = qpipe.forecast_quantiles(x, 10, period=8)
    scaled, scaled_mean = qpipe.forecast_quantiles(3.0 * x + 50.0, 10, period=8)
    np.testing.assert_allclose(scaled, 3.0 * quantiles + 50.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaled_mean, 3.0 * mean + 50.0, rtol=1e-5, atol=1e-5)
    wanted = (0.05, 0.1, 0.25, 0.5, 0.95)
    other, _ = qpipe.forecast_quantiles(x, 10, wanted, period=8)
    assert other.shape == (2, 10, 5) and (np.diff(other, axis=-1) >= 0).all()
    np.testing.assert_allclose(other[..., 1], quantiles[..., 0], rtol=1e-6)  # a level on the grid is the head's own
    np.testing.assert_allclose(other[..., 3], quantiles[..., 4], rtol=1e-6)
    assert (other[..., 0] <= quantiles[..., 0]).all() and (other[..., 4] >= quantiles[..., 8]).all()  # tails go out


@pytest.mark.parametrize("levels, message", [
    ((0.0, 0.5), "strictly between 0 and 1"), ((0.5, 1.2), "strictly between 0 and 1"),
    ((0.9, 0.1), "sorted and distinct"), ((0.5, 0.5), "sorted and distinct"), ((), "empty"),
])  # fmt: skip
def test_bad_levels_are_one_line_errors(qpipe, levels, message):
    with pytest.raises(ValueError, match=message):
        qpipe.forecast_quantiles(seasonal(n=1), 4, levels)


def test_a_point_only_model_says_so(tiny_pipeline_dir):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    assert not pipe.probabilistic
    with pytest.raises(ValueError, match="no quantile head"):
        pipe.forecast_quantiles(seasonal(n=1), 4)
    with pytest.raises(ValueError, match="method='visionts'"):
        pipe.forecast_quantiles(seasonal(n=1), 4, method="artist")


def test_calibration_scales_the_spread_only(qpipe):
    x = seasonal(n=4, length=240, seed=1)
    plain, mean = qpipe.forecast_quantiles(x, 16, period=8)
    calibrated, calibrated_mean = qpipe.forecast_quantiles(x, 16, period=8, calibrate=1.0)
    np.testing.assert_allclose(calibrated_mean, mean)
    ratio = (calibrated[..., -1] - calibrated[..., 0]) / (plain[..., -1] - plain[..., 0])
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-6)  # one factor per series, from its own backtests
    assert not np.allclose(ratio, 1.0)


def test_forecast_df_level_columns_equal_forecast_quantiles(qpipe):
    x = seasonal(n=2)
    stamps = pd.date_range("2024-01-01", periods=x.shape[1], freq="h")
    df = pd.concat([pd.DataFrame({"unique_id": f"s{k}", "ds": stamps, "y": x[k]}) for k in range(2)])
    out = qpipe.forecast_df(df, 6, quantile_levels=(0.1, 0.5, 0.9))
    assert list(out.columns) == ["unique_id", "ds", "forecast", "0.1", "0.5", "0.9"]
    quantiles, mean = qpipe.forecast_quantiles(x, 6, (0.1, 0.5, 0.9))
    np.testing.assert_allclose(out["forecast"].to_numpy(), mean.ravel())
    np.testing.assert_allclose(out[["0.1", "0.5", "0.9"]].to_numpy(), quantiles.reshape(-1, 3))
    # the values choose the period, not the timestamps: a counter time column forecasts the same
    counter = df.assign(ds=np.tile(np.arange(x.shape[1]), 2))
    np.testing.assert_allclose(qpipe.forecast_df(counter, 6)["forecast"].to_numpy(), out["forecast"].to_numpy())
    with pytest.raises(ValueError, match="sorted and distinct"):
        qpipe.forecast_df(df, 6, quantile_levels=(0.9, 0.1))


def test_forecast_df_quantiles_on_dask(qpipe, tmp_path):
    dd = pytest.importorskip("dask.dataframe", reason="the distributed extra (dask) is not installed")
    x = seasonal(n=3)
    df = pd.concat([pd.DataFrame({"unique_id": f"s{k}", "ds": np.arange(x.shape[1]), "y": x[k]}) for k in range(3)])
    levels = (0.2, 0.8)
    lazy = qpipe.forecast_df(dd.from_pandas(df, npartitions=2), 5, quantile_levels=levels)
    assert list(lazy.columns) == ["unique_id", "ds", "forecast", "0.2", "0.8"]
    got = lazy.compute(scheduler="synchronous").sort_values(["unique_id", "ds"]).reset_index(drop=True)
    expected = qpipe.forecast_df(df, 5, quantile_levels=levels)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_cli_quantiles_columns_plot_and_bad_levels(quantile_dir, tmp_path, capsys):
    from timeartist.cli import main

    x = seasonal(n=1, length=200)[0]
    csv = tmp_path / "series.csv"
    pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=x.size, freq="h"), "load": x}).to_csv(csv, index=False)
    out, plot = tmp_path / "f.csv", tmp_path / "f.png"
    code = main(["forecast", "--csv", str(csv), "--horizon", "8", "--quantiles", "0.1,0.5,0.9", "--out", str(out), "--plot", str(plot), "--model", str(quantile_dir)])
    assert code == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "forecast", "0.1", "0.5", "0.9"] and len(frame) == 8
    assert (frame["0.1"] <= frame["0.5"]).all() and (frame["0.5"] <= frame["0.9"]).all()
    assert plot.stat().st_size > 0
    for bad in ("0.9,0.1", "0,0.5", "a,b", "0.5,1"):
        target = tmp_path / f"bad_{len(bad)}.csv"
        assert main(["forecast", "--csv", str(csv), "--horizon", "8", "--quantiles", bad, "--out", str(target), "--model", str(quantile_dir)]) == 2
        assert not target.exists()  # nothing written before the arguments are checked
    assert "quantile" in capsys.readouterr().err


def test_level_continuity_follows_a_shift_and_leaves_a_steady_series_alone():
    rng = np.random.default_rng(0)
    t = np.arange(24 * 30)
    steady = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    shifted = steady.copy()
    shifted[-24 * 3 :] += 4.0  # the level jumped three days before the end and stayed
    rows = np.stack([steady, shifted])
    forecast = np.repeat(np.tile(np.sin(2 * np.pi * np.arange(48) / 24), (2, 1))[..., None], 3, axis=-1)  # the old level
    moved = continue_level(rows, forecast, np.array([24, 24]), gate=2.0)
    np.testing.assert_allclose(moved[0], forecast[0])
    assert abs((moved[1] - forecast[1]).mean() - 4.0) < 0.2
    np.testing.assert_allclose(moved[1, :, 1:] - moved[1, :, :1], forecast[1, :, 1:] - forecast[1, :, :1])  # the band moves along


class FlatOutpainter:
    """An outpainter stand-in (``Outpainter`` protocol) that paints the future as the mean of the visible pixels."""

    image_size, patch_size = (8, 32), (8, 1)

    def outpaint(self, images, visible_cols):
        out = images.clone()
        out[..., visible_cols:] = images[..., :visible_cols].mean(dim=(-2, -1), keepdim=True)
        return out


def test_fallback_takes_drift_on_a_straight_line():
    t = np.arange(200, dtype=float)
    line = 0.5 * t + 0.01 * np.random.default_rng(0).normal(size=t.size)
    flat = forecast_with_outpainter(line, 10, FlatOutpainter(), period=8, fallback=None)
    checked = forecast_with_outpainter(line, 10, FlatOutpainter(), period=8, fallback=0.8)
    truth = 0.5 * np.arange(200, 210)
    assert np.abs(checked - truth).max() < 0.5 < np.abs(flat - truth).max()
