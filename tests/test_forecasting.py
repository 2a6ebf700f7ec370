"""forecast_with_outpainter: shape / scale contract, NaN handling, period detection, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from timeartist.cli import main
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.pipelines.forecasting import OutpainterForecaster, SeriesError, fill_nans, forecast_with_outpainter, linear_trend
from timeartist.pipelines import periodicity
from timeartist.pipelines.backtest import choose_periods, season_pvalue
from timeartist.pipelines.periodicity import detect_period, period_candidates, shared_period


class RepeatLastColumn:
    """Seasonal naive in image space: every masked patch column copies the last visible one."""

    def __init__(self, image_size=(24, 64), patch_size=(24, 1)):
        self.image_size, self.patch_size = image_size, patch_size

    def outpaint(self, images, visible_cols):
        split = visible_cols * self.patch_size[1]
        last = images[..., split - 1 : split]
        return torch.cat([images[..., :split], last.expand(-1, -1, -1, images.shape[-1] - split)], dim=-1)


def periodic(length, period=24, offset=0.0, scale=1.0):
    t = np.arange(length)
    return offset + scale * (np.sin(2 * np.pi * t / period) + 0.5 * np.cos(4 * np.pi * t / period))


def test_periodic_series_is_continued_in_its_own_scale():
    series = periodic(480 + 72, offset=1000.0, scale=250.0)
    pred = forecast_with_outpainter(series[:480], 72, RepeatLastColumn(), period=24)
    assert pred.shape == (72,)
    np.testing.assert_allclose(pred, series[480:], atol=1e-3)


@pytest.mark.parametrize("shape", [(200,), (3, 200), (2, 200, 4)])
@pytest.mark.parametrize("as_torch", [False, True])
def test_shape_and_type_contract(shape, as_torch):
    context = np.random.default_rng(0).normal(size=shape) + 3.0
    if as_torch:
        context = torch.as_tensor(context, dtype=torch.float32)
    pred = forecast_with_outpainter(context, 30, RepeatLastColumn(), period=24)
    expected = {1: (30,), 2: (3, 30), 3: (2, 30, 4)}[len(shape)]
    assert tuple(pred.shape) == expected
    assert isinstance(pred, torch.Tensor) == as_torch
    if as_torch:
        assert pred.dtype == torch.float32


def test_benchmark_forecaster_adapter():
    rows = np.stack([periodic(240 + 48, offset=o) for o in (0.0, 3.0)])
    forecaster = OutpainterForecaster(RepeatLastColumn(), name="image_naive")
    np.testing.assert_allclose(forecaster(rows[:, :240], 48, 24), rows[:, 240:], atol=1e-6)


def test_flip_ensemble_keeps_an_odd_outpainter_exact():
    # Seasonal naive commutes with negation, so the flip ensemble must give the same forecast.
    series = periodic(480 + 48, offset=20.0, scale=4.0)
    pred = forecast_with_outpainter(series[:480], 48, RepeatLastColumn(), period=24, flip_ensemble=True)
    np.testing.assert_allclose(pred, series[480:], atol=1e-3)


def test_trend_ensemble_continues_a_trending_series():
    # Seasonal naive repeats the last period, so on a seasonal series with a trend it lags by one period's rise;
    # the trend view forecasts the detrended seasonal part exactly and continues the line, halving that lag.
    t = np.arange(240 + 48)
    series = periodic(len(t)) + 0.05 * t
    fitted, extended = linear_trend(series[None, :240], 48)
    assert fitted.shape == (1, 240) and extended.shape == (1, 48)
    plain = forecast_with_outpainter(series[:240], 48, RepeatLastColumn(), period=24)
    both = forecast_with_outpainter(series[:240], 48, RepeatLastColumn(), period=24, trend_ensemble=True)
    lag = np.abs(plain - series[240:]).mean()
    assert lag > 1.0 and np.abs(both - series[240:]).mean() < 0.6 * lag
    line = 3.0 - 0.5 * np.arange(60.0)
    np.testing.assert_allclose(linear_trend(line[None, :50], 10)[1][0], line[50:], atol=1e-9)


def test_trend_ensemble_auto_picks_the_trending_series_only():
    # "auto" adds the trend view only where the line explains at least trend_min_r2 of the context's variance.
    t = np.arange(240 + 48)
    trending, seasonal = periodic(len(t)) + 0.05 * t, periodic(len(t))
    rows = np.stack([trending[:240], seasonal[:240]])
    auto = forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24, trend_ensemble="auto", trend_min_r2=0.5)
    every = forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24, trend_ensemble=True)
    plain = forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24)
    np.testing.assert_allclose(auto[0], every[0])
    np.testing.assert_allclose(auto[1], plain[1])
    assert not np.allclose(every[1], plain[1])  # the seasonal row would have changed under trend_ensemble=True
    never = forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24, trend_ensemble="auto", trend_min_r2=1.0)
    np.testing.assert_allclose(never, plain)
    with pytest.raises(ValueError, match="trend_ensemble must be"):
        forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24, trend_ensemble="yes")
    with pytest.raises(ValueError, match="trend_min_r2"):
        forecast_with_outpainter(rows, 48, RepeatLastColumn(), period=24, trend_ensemble="auto", trend_min_r2=1.5)


def test_seasonal_blend_mixes_in_the_mean_of_the_last_periods_of_long_contexts_only():
    # Seasonal naive repeats the last period; the blend moves it toward the mean of the last 4 periods.
    series = periodic(24 * 8)
    series[-24:] += 1.0  # the last period is raised
    plain = forecast_with_outpainter(series, 24, RepeatLastColumn(), period=24)
    blended = forecast_with_outpainter(series, 24, RepeatLastColumn(), period=24, seasonal_blend=0.25, blend_periods=4)
    np.testing.assert_allclose(blended, 0.75 * plain + 0.25 * (periodic(24) + 0.25), atol=1e-6)
    short = forecast_with_outpainter(series[-72:], 24, RepeatLastColumn(), period=24, seasonal_blend=0.25, blend_periods=4)
    np.testing.assert_allclose(short, forecast_with_outpainter(series[-72:], 24, RepeatLastColumn(), period=24))  # 3 periods < 4
    with pytest.raises(ValueError, match="seasonal_blend"):
        forecast_with_outpainter(series, 24, RepeatLastColumn(), period=24, seasonal_blend=1.5)


def test_bf16_autocast_keeps_the_forecast_and_its_type():
    torch.manual_seed(0)
    model = MAEOutpainter(OutpainterConfig(image_size=(24, 64), patch_size=(24, 1), width=32, depth=1, heads=2, prior_windows=(1, 4)))
    for layer in (model.head, model.prior_weights):  # zero-initialised: give the transformer a say in the output
        torch.nn.init.normal_(layer.weight, std=0.05)
    series = np.stack([periodic(480, offset=o, scale=s) for o, s in ((0, 1), (100, 20))])
    full = forecast_with_outpainter(series, 48, model, period=24, bf16=False)
    half = forecast_with_outpainter(series, 48, model, period=24, bf16=True)
    assert half.dtype == full.dtype and half.shape == (2, 48)
    spread = series.std(axis=1, keepdims=True)
    assert (np.abs(half - full) / spread).max() < 0.05 and not np.array_equal(half, full)


def test_channels_are_forecast_independently():
    a, b = periodic(240, offset=5, scale=2), periodic(240, period=24, offset=-300, scale=40)[::-1].copy()
    joint = forecast_with_outpainter(np.stack([a, b], axis=-1)[None], 24, RepeatLastColumn(), period=24)
    single = forecast_with_outpainter(np.stack([a, b]), 24, RepeatLastColumn(), period=24)
    np.testing.assert_allclose(joint[0].T, single)


def test_nans_in_the_context_are_filled():
    series = periodic(480 + 24, offset=10, scale=3)
    context = series[:480].copy()
    context[[0, 1, 100, 101, 479]] = np.nan
    pred = forecast_with_outpainter(context, 24, RepeatLastColumn(), period=24)
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred[:-1], series[480:-1], atol=0.05)
    np.testing.assert_allclose(fill_nans(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])), [[1, 1, 2, 3, 3]])


def test_a_forecast_beyond_the_float_range_is_an_error_naming_it():
    line = np.linspace(0.5, 1.0, 240)  # the trend view continues the line past the largest float
    with pytest.raises(SeriesError, match=r"series \[0\]: the forecast exceeds the largest float64 \(1.8e\+308\); rescale the series"):
        forecast_with_outpainter(line * 1.7e308, 240, RepeatLastColumn(), period=1, trend_ensemble=True)
    with pytest.raises(SeriesError, match=r"exceeds the largest float32 \(3.4e\+38\)"):
        forecast_with_outpainter(torch.tensor(line * 3.3e38, dtype=torch.float32), 240, RepeatLastColumn(), period=1, trend_ensemble=True)
    ordinary = forecast_with_outpainter(line, 240, RepeatLastColumn(), period=1, trend_ensemble=True)
    np.testing.assert_allclose(forecast_with_outpainter(line * 1e300, 240, RepeatLastColumn(), period=1, trend_ensemble=True), ordinary * 1e300, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(context=np.full(100, np.nan), horizon=10), "observed values"),
        (dict(context=np.r_[np.ones(99), np.inf], horizon=10), "infinite"),
        (dict(context=np.ones(100), horizon=0), "horizon must be a positive integer"),
        (dict(context=np.ones(100), horizon=-5), "horizon must be a positive integer"),
        (dict(context=np.ones(10), horizon=5, period=24), "at least"),
        (dict(context=np.ones((2, 3, 4, 5)), horizon=5), "shape"),
        (dict(context=np.ones(100), horizon=5, layout="sideways"), "layout"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        forecast_with_outpainter(outpainter=RepeatLastColumn(), **kwargs)


def test_detected_period_and_long_direct_horizon():
    series = periodic(24 * 40 + 720)
    pred = forecast_with_outpainter(series[: 24 * 40], 720, RepeatLastColumn(), period=None, candidates=(24, 168))
    np.testing.assert_allclose(pred, series[24 * 40 :], atol=1e-3)
    # A non-seasonal series gets folded into blocks, so even a long horizon fits the canvas in one pass.
    walk = np.cumsum(np.random.default_rng(1).normal(size=300))
    assert forecast_with_outpainter(walk, 200, RepeatLastColumn(), period=1).shape == (200,)


class SpyRepeatLastColumn(RepeatLastColumn):
    """Seasonal naive in image space that records how many patch columns of context each pass saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.visible = []

    def outpaint(self, images, visible_cols):
        self.visible.append(visible_cols)
        return super().outpaint(images, visible_cols)


@pytest.mark.parametrize("horizon", [2000, 10000])
def test_long_horizons_are_rolled_out_with_the_whole_context(horizon):
    # 512 steps of context = 22 periods of 24 (padded); the canvas is 64 columns, so one pass forecasts 32 periods.
    series = periodic(512 + horizon)
    spy = SpyRepeatLastColumn()
    pred = forecast_with_outpainter(series[:512], horizon, spy, period=24)
    assert len(spy.visible) == -(-horizon // (24 * 32))  # passes of at most half the canvas
    assert min(spy.visible) == 22  # every pass sees every context period, one column each (never a squeezed fold)
    np.testing.assert_allclose(pred, series[512:], atol=1e-3)  # seasonal naive carried over 10,000 steps


def test_long_horizon_benchmark(tiny_pipeline_dir, tmp_path):
    argv = ["bench", "long-horizon", "--model", str(tiny_pipeline_dir), "--synthetic-only", "--horizons", "50,300", "--context", "96"]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "results.csv")
    assert set(frame["horizon"]) == {50, 300} and set(frame["series"]) == {"synthetic"}
    assert set(frame[frame["horizon"] == 300]["method"]) == {"timeartist", "seasonal_naive", "seasonal_mean"}
    assert np.isfinite(frame["mse"]).all() and (frame["spread"] >= 0).all()
    assert (tmp_path / "results.md").is_file() and (tmp_path / "forecast_examples.png").stat().st_size > 0


def test_choose_periods_keeps_a_real_season_and_invents_none():
    rng = np.random.default_rng(0)
    walks = 50 + np.cumsum(rng.normal(size=(8, 512)), axis=1)  # autocorrelation sees "cycles" of ~128 steps
    np.testing.assert_array_equal(choose_periods(walks, 64, np.full(8, 128)), 1)
    seasonal = periodic(512, period=64) + 0.1 * rng.normal(size=512)  # 8 cycles: fewer than LONG_SEASONAL, yet real
    assert choose_periods(seasonal[None], 64, np.array([64]))[0] == 64


def test_season_pvalue_tells_a_season_from_a_line_and_noise():
    rng = np.random.default_rng(1)
    t = np.arange(512)
    line = 10 + 0.05 * t + rng.normal(size=(20, 512))  # a ramp in every 5-step "cycle", but no season
    assert (season_pvalue(line, 5) > 1e-3).mean() >= 0.9
    noisy = periodic(512, period=24) + 0.05 * t + rng.normal(size=(20, 512))  # a season as strong as the noise
    assert (season_pvalue(noisy, 24) < 1e-6).all()
    np.testing.assert_array_equal(season_pvalue(line, 300), 1.0)  # fewer than two cycles: no evidence


def test_detect_period_and_frequency_candidates():
    t = np.arange(1200)
    x = np.sin(2 * np.pi * t / 24) + 0.01 * t + 0.2 * np.random.default_rng(0).normal(size=1200)
    assert detect_period(x) == 24
    # no seasonality: most white-noise and random-walk contexts are period 1 (the rule errs towards a period)
    noise = np.random.default_rng(0).normal(size=(50, 300))
    assert np.mean(detect_period(noise) == 1) >= 0.6 and np.mean(detect_period(noise.cumsum(1)) == 1) >= 0.6
    # a day with two humps peaks first at half a day; 23 and 25 drift out of phase over the cycles
    two_humps = np.sin(2 * np.pi * t / 12) + 0.5 * np.sin(2 * np.pi * t / 24) + 0.3 * np.random.default_rng(1).normal(size=1200)
    assert detect_period(two_humps) == 24
    # a weak daily cycle under slow swings: the plain ACF often peaks at a multiple of 24 (19 of these 32 contexts
    # give 24 without rule 4); the ACF of what the slow part leaves shows the fundamental (24 of 32 with it)
    t = np.arange(2880)
    swings = np.random.default_rng(2).normal(size=(32, 2880 // 120 + 2)).cumsum(1)
    slow = np.stack([np.interp(t, np.arange(w.size) * 120, w) for w in swings])
    daily = slow + 0.3 * np.sin(2 * np.pi * t / 24) + 0.2 * np.random.default_rng(3).normal(size=(32, 2880))
    assert np.mean(detect_period(daily) == 24) >= 0.7
    assert period_candidates("h") == (24, 168) and period_candidates("15min")[0] == 96
    with pytest.raises(ValueError, match="frequency"):
        period_candidates("fortnightly")


def test_detect_period_finds_the_top_of_broad_acf_peaks_and_calendar_periods():
    rng = np.random.default_rng(5)
    # a long period under strong noise: the first ACF maximum sits on the peak's shoulder (124-128 for 144)
    t = np.arange(2880)
    noisy = np.sin(2 * np.pi * t / 144) + rng.normal(size=(30, 2880))
    assert np.mean(np.abs(detect_period(noisy) - 144) <= 1) >= 0.5
    # a smooth daily cycle of 15-minute data has a flat ACF top (93-97 in 32 of these 40 contexts without rule 5, 96 in 9);
    # real periods off the calendar stay where they are
    t = np.arange(720)
    drift = np.zeros((40, 720))
    shocks = rng.normal(size=(40, 720))
    for i in range(1, 720):
        drift[:, i] = 0.97 * drift[:, i - 1] + shocks[:, i]
    periods = detect_period(np.sin(2 * np.pi * t / 96) + 0.15 * drift)
    daily = periods[np.abs(periods - 96) <= 10]
    assert len(daily) >= 30 and np.all(daily == 96)
    for period in (23, 50):
        assert np.all(detect_period(np.sin(2 * np.pi * t / period) + 0.3 * rng.normal(size=(20, 720))) == period)


def test_detect_period_votes_over_the_recent_parts_of_a_long_context():
    # a random walk whose daily cycle starts half-way: over all 2,880 steps the walk hides it (24 in 6 of these 20
    # contexts), the last 720 and 1,440 steps show it
    rng = np.random.default_rng(0)
    t = np.arange(2880)
    x = 0.3 * rng.normal(size=(20, 2880)).cumsum(1) + np.sin(2 * np.pi * t / 24) * (t >= 1440) + 0.3 * rng.normal(size=(20, 2880))
    assert np.mean(periodicity._detect_rows(x, None, 3, None, 0.5) == 24) <= 0.35
    assert np.mean(detect_period(x) == 24) >= 0.85
    # ties between the views go to the fundamental, else to the whole context's period
    assert list(shared_period(np.array([[96, 90], [48, 24], [1, 90]]), ties="first")) == [96, 24, 90]
    with pytest.raises(ValueError, match="ties must be"):
        shared_period(np.array([[24, 48]]), ties="longest")


def test_channels_of_a_series_share_the_period_most_of_them_show():
    assert list(shared_period(np.array([[24, 1, 48, 24, 12], [1, 1, 1, 1, 1], [48, 24, 48, 24, 1]]))) == [24, 1, 24]
    with pytest.raises(ValueError, match="positive integer periods of shape"):
        shared_period(np.array([24, 48]))
    # a daily channel, its copy under noise too strong for its own ACF, and a third daily channel
    rng = np.random.default_rng(0)
    daily = periodic(720)
    channels = np.stack([daily, 0.15 * daily + rng.normal(size=720), periodic(720, offset=3.0)], axis=-1)[None]
    assert list(detect_period(channels[0].T)) != [24, 24, 24]  # alone, the noisy channel finds another period
    joint = forecast_with_outpainter(channels, 24, RepeatLastColumn())
    given = forecast_with_outpainter(channels, 24, RepeatLastColumn(), period=24)
    alone = forecast_with_outpainter(channels, 24, RepeatLastColumn(), channels_share_period=False)
    np.testing.assert_allclose(joint, given)
    assert not np.allclose(alone, given)


def test_visionts_layout_with_a_real_mae_shaped_model():
    model = MAEOutpainter(OutpainterConfig(image_size=(32, 64), patch_size=(8, 8), width=32, depth=1, decoder_depth=1, heads=2))
    context = torch.randn(5, 300)
    pred = forecast_with_outpainter(context, 48, model, period=24, batch_size=2)
    assert pred.shape == (5, 48) and torch.isfinite(pred).all()


def test_image_space_seasonal_naive_reproduces_the_protocol_check(data_root):
    # Repeating the last period column on the canvas is seasonal naive; on ETTh1 test, horizon 96, all windows and
    # channels it must give the protocol-check values MSE 0.512 / MAE 0.433 (reference/protocol-checks.md).
    from timeartist.data import LTSFDataset

    ds = LTSFDataset("ETTh1", split="test", seq_len=240, pred_len=96, data_root=data_root)
    contexts, targets = ds.windows()
    pred = forecast_with_outpainter(contexts.reshape(-1, 240), 96, RepeatLastColumn((24, 12)), period=24, batch_size=8192)
    error = pred - targets.reshape(-1, 96)
    assert round(float(np.mean(error**2)), 3) == 0.512 and round(float(np.mean(np.abs(error))), 3) == 0.433


def test_visionts_path_runs_with_a_hugging_face_mae():
    transformers = pytest.importorskip("transformers")
    from timeartist.models.hf_mae import HFMAEOutpainter

    config = transformers.ViTMAEConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2, decoder_intermediate_size=32,
    )
    # Rendered series are already in the MAE's normalised input space (VisionTS), so no ImageNet normalisation.
    mae = HFMAEOutpainter(transformers.ViTMAEForPreTraining(config), image_mean=(0.0, 0.0, 0.0), image_std=(1.0, 1.0, 1.0))
    pred = forecast_with_outpainter(periodic(480)[None].repeat(2, 0), 96, mae, period=24)
    assert pred.shape == (2, 96) and np.isfinite(pred).all()
