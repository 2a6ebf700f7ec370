"""LTSF runner: published protocol values, window counts, the strided subsample, quick end-to-end, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from timeartist.evaluation.ltsf import run_ltsf


def _row(frame, method, horizon, protocol="full"):
    match = frame[(frame.method == method) & (frame.horizon == str(horizon)) & (frame.protocol == protocol)]
    assert len(match) == 1, f"expected one row for {method} h={horizon} {protocol}"
    return match.iloc[0]


def test_seasonal_naive_reproduces_the_protocol_values_and_window_counts(data_root):
    frame = run_ltsf(data_root, ["ETTh1"], [96, 192, 336, 720], ["seasonal_naive"])
    h96 = _row(frame, "seasonal_naive", 96)
    assert (round(h96.mse, 3), round(h96.mae, 3)) == (0.512, 0.433)
    assert round(_row(frame, "seasonal_naive", "avg").mse, 3) == 0.600
    for horizon, windows in [(96, 2785), (192, 2689), (336, 2545), (720, 2161)]:
        row = _row(frame, "seasonal_naive", horizon)
        assert (row.windows, row.series) == (windows, windows * 7)
    assert (h96.period, h96.lookback, h96.context) == (24, 720, 24)


def test_seasonal_mean_with_the_design_k_reproduces_its_quoted_average(data_root):
    frame = run_ltsf(data_root, ["ETTh1"], [96, 192, 336, 720], ["seasonal_mean"], seasonal_mean_k={"ETTh1": 30})
    assert round(_row(frame, "seasonal_mean", "avg").mse, 3) == 0.417


class MeanForecaster:
    """A plug-in method that is not horizon-free: the runner must call it once per horizon."""

    name = "window_mean"

    def __init__(self):
        self.horizons = []

    def __call__(self, context, horizon, period):
        self.horizons.append(horizon)
        return np.repeat(context.mean(axis=1, keepdims=True), horizon, axis=1)


def test_slow_methods_share_one_strided_subsample_with_every_method(data_root):
    plug_in = MeanForecaster()
    frame = run_ltsf(data_root, ["ETTh1"], [96, 720], ["naive", "auto_theta", plug_in], stride_stat=1000, stat_context=96)
    assert set(frame.protocol) == {"full", "stride 1000"}
    assert set(frame[frame.protocol == "full"].method) == {"naive", "window_mean"}  # theta is never on "full"
    for method in ("naive", "auto_theta", "window_mean"):
        assert _row(frame, method, 96, "stride 1000").windows == 3  # window starts 0, 1000, 2000
        assert _row(frame, method, 720, "stride 1000").windows == 3  # 2161 windows at h=720: same starts
    assert _row(frame, "naive", 96).windows == 2785
    assert set(plug_in.horizons) == {96, 720}
    # the subsample of a deterministic method is a subset of its full windows: values differ but are close
    assert _row(frame, "auto_theta", 96, "stride 1000").context == 96


class WindowMeanByChannel(MeanForecaster):
    """A multivariate plug-in: gets each window's channels together, (W, L, C) -> (W, H, C)."""

    name = "channel_mean"
    multivariate = True

    def __call__(self, context, horizon, period):
        self.horizons.append(context.shape)
        return np.repeat(context.mean(axis=1, keepdims=True), horizon, axis=1)


def test_multivariate_forecasters_get_whole_windows_and_score_like_per_channel_ones(data_root):
    windows = WindowMeanByChannel()
    frame = run_ltsf(data_root, ["ETTh1"], [96], [MeanForecaster(), windows], quick=True)
    assert {shape[1:] for shape in windows.horizons} == {(720, 7)}  # the default lookback, all 7 channels
    assert _row(frame, "channel_mean", 96, "quick (stride 241)").mse == pytest.approx(_row(frame, "window_mean", 96, "quick (stride 241)").mse)


class IntervalForecaster(MeanForecaster):
    """A probabilistic plug-in: the window mean with the interval mean +- width (in scaled units)."""

    probabilistic = True

    def __init__(self, width):
        super().__init__()
        self.name, self.width = f"interval_{width}", width

    def forecast_quantiles(self, context, horizon, period, quantile_levels):
        assert tuple(quantile_levels) == (0.1, 0.9)
        point = self(context, horizon, period)
        return point[..., None] + np.array([-self.width, self.width]), point


def test_probabilistic_methods_report_the_coverage_of_their_80_percent_interval(data_root, tmp_path):
    frame = run_ltsf(data_root, ["ETTh1"], [96], ["naive", IntervalForecaster(0.0), IntervalForecaster(100.0)], quick=True, out_dir=tmp_path)
    quick = "quick (stride 241)"
    assert _row(frame, "interval_0.0", 96, quick).coverage80 == 0.0 and _row(frame, "interval_100.0", 96, quick).coverage80 == 1.0
    assert np.isnan(_row(frame, "naive", 96, quick).coverage80)
    assert _row(frame, "interval_100.0", "avg", quick).mse == pytest.approx(_row(frame, "interval_0.0", "avg", quick).mse)
    assert "[1.00]" in (tmp_path / "results.md").read_text()


def test_quick_run_writes_every_output(data_root, tmp_path):
    frame = run_ltsf(data_root, ["ETTh1"], [96], ["naive", "seasonal_naive", "seasonal_mean", "auto_theta"], out_dir=tmp_path, quick=True)
    assert set(frame.protocol) == {"quick (stride 241)"}
    assert set(frame[frame.horizon == "96"].series) == {12 * 7}
    for name in ("results.csv", "results.json", "results.md", "error_by_horizon.png", "forecast_examples.png"):
        assert (tmp_path / name).stat().st_size > 0
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    k = meta["seasonal_mean_k"]["ETTh1"]
    assert meta["seasonal_mean_validation_mse"]["ETTh1"][str(k)] == min(meta["seasonal_mean_validation_mse"]["ETTh1"].values())
    markdown = (tmp_path / "results.md").read_text()
    assert "quick (stride 241)" in markdown and "| ETTh1 | 96 |" in markdown and "Lookback, period" in markdown


def test_bad_input_names_what_is_available(data_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="etth1"):
        run_ltsf(data_root, ["ETTh9"], [96], ["naive"])
    with pytest.raises(ValueError, match="available: naive, seasonal_naive, seasonal_mean, auto_ets"):
        run_ltsf(data_root, ["ETTh1"], [96], ["prophet"])
    with pytest.raises(ValueError, match="longer than the test range of ETTh1 \\(2880 rows\\)"):
        run_ltsf(data_root, ["ETTh1"], [96, 3000], ["naive"])
    with pytest.raises(FileNotFoundError, match="data root not found"):
        run_ltsf(tmp_path / "missing", ["ETTh1"], [96], ["naive"])

    class Broken(MeanForecaster):
        name = "broken"

        def __call__(self, context, horizon, period):
            return np.zeros((len(context), horizon - 1))

    with pytest.raises(ValueError, match="'broken' returned shape"):
        run_ltsf(data_root, ["ETTh1"], [96], [Broken()], quick=True)
