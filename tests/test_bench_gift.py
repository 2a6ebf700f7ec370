"""GIFT-Eval protocol on ett1: the leaderboard's seasonal-naive rows reproduced, windows and metrics by hand, both
routes of the pipeline method (quantiles / point) through stand-in pipelines, the report, the CLI and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from timeartist.cli import main
from timeartist.evaluation.gift import (
    GEOMETRIC_MEAN,
    QUANTILE_LEVELS,
    GiftConfig,
    PipelineQuantileForecaster,
    SeasonalNaiveQuantiles,
    evaluate_config,
    gift_metrics,
    parse_configs,
    rolling_windows,
    run_gift,
)

# Leaderboard seasonal naive (SalesforceAIResearch/gift-eval results, as quoted in issue 24).
CHECK = {  # config -> (MAE[0.5], MASE[0.5], ND[0.5])
    "ett1/H/short": (5.8222, 0.9773, 0.2717),
    "ett1/H/long": (7.7494, 1.4787, 0.3711),
    "ett1/15T/short": (1.4945, 0.9342, 0.2825),
}
CRPS = {"ett1/H/short": 0.240, "ett1/H/medium": 0.435, "ett1/H/long": 0.471, "ett1/15T/short": 0.241, "ett1/15T/medium": 0.322, "ett1/15T/long": 0.340}


def test_seasonal_naive_reproduces_the_leaderboard(data_root):
    frame = run_gift(data_root, methods=["seasonal_naive"])
    assert frame.attrs["meta"]["seasonal_naive_check"] == "reproduced"
    ours = frame[frame.source == "measured"].set_index("config")
    assert list(ours.loc[list(CRPS), "windows"]) == [20, 4, 3, 20, 15, 10]
    for config, (mae, mase, nd) in CHECK.items():
        assert ours.loc[config, ["mae", "mase", "nd"]].tolist() == pytest.approx([mae, mase, nd], abs=5e-5)
    for config, crps in CRPS.items():  # the quantiles too: statsforecast's normal intervals, as the leaderboard ran them
        assert ours.loc[config, "crps"] == pytest.approx(crps, abs=5e-4)
    summary = frame[(frame.config == GEOMETRIC_MEAN) & (frame.method == "seasonal_naive")].iloc[0]
    assert summary.mase_ratio == pytest.approx(1.0, abs=2e-3) and summary.crps_ratio == pytest.approx(1.0, abs=2e-3)


def test_windows_roll_by_the_horizon_to_the_end_of_each_series():
    values = np.arange(2000.0).reshape(2, 1000)
    windows = rolling_windows(values, 48)  # ceil(0.1 * 1000 / 48) = 3 windows per series
    assert windows.windows == 3 and windows.series.tolist() == [0, 0, 0, 1, 1, 1]
    assert [len(c) for c in windows.contexts] == [856, 904, 952] * 2
    assert windows.targets[2].tolist() == values[0, 952:].tolist() and windows.targets[3].tolist() == values[1, 856:904].tolist()
    assert all(c[-1] + 1 == t[0] for c, t in zip(windows.contexts, windows.targets))  # all history before each window
    assert rolling_windows(np.zeros((1, 100_000)), 48).windows == 20  # at most 20
    last = rolling_windows(values, 48, max_windows=1)
    assert last.windows == 1 and [len(c) for c in last.contexts] == [952, 952]


def test_metrics_by_hand():
    targets = np.array([[1.0, -2.0], [3.0, 4.0]])
    point = np.array([[2.0, -2.0], [3.0, 2.0]])
    scales = np.array([1.0, 2.0])
    flat = np.repeat(point[..., None], 9, axis=-1)  # a point forecast: CRPS = ND
    metrics = gift_metrics(flat, point, targets, scales)
    assert metrics["mae"] == pytest.approx(3 / 4) and metrics["nd"] == pytest.approx(3 / 10)
    assert metrics["mase"] == pytest.approx((1 + 0 + 0 + 2 / 2) / 4) and metrics["crps"] == pytest.approx(metrics["nd"])
    assert metrics["mse_mean"] == pytest.approx(5 / 4) and metrics["coverage80"] == pytest.approx(2 / 4)

    spread = point[..., None] + np.linspace(-2, 2, 9)  # quantiles q = point + offset
    metrics = gift_metrics(spread, point, targets, scales)
    levels = np.array(QUANTILE_LEVELS)
    pinball = [sum(2 * max(q * (y - f), (q - 1) * (y - f)) for y, f in zip(targets.ravel(), spread[..., i].ravel())) for i, q in enumerate(levels)]
    assert metrics["crps"] == pytest.approx(np.mean(pinball) / 10)
    assert metrics["mae"] == pytest.approx(3 / 4)  # the 0.5 quantile is the point here
    assert metrics["coverage80"] == pytest.approx(1.0)  # every target within point +- 2
    with pytest.raises(ValueError, match="must include 0.1, 0.5 and 0.9"):
        gift_metrics(spread[..., :3], point, targets, scales, quantile_levels=(0.2, 0.5, 0.8))


def test_seasonal_naive_quantiles_widen_per_season():
    context = np.tile([0.0, 1.0, 2.0, 3.0], 30) + np.repeat([0.0, 0.5], 60)  # seasonal differences 0 except 4 of 0.5
    quantiles, point = SeasonalNaiveQuantiles()([context], 30, "h", QUANTILE_LEVELS)
    assert point[0].tolist() == list(np.resize(context[-24:], 30))
    sigma = np.sqrt(24 * 0.25 / (120 - 24))  # the mean squared seasonal difference
    steps = np.sqrt(np.arange(30) // 24 + 1.0)
    expected = point[0][:, None] + sigma * steps[:, None] * norm.ppf(QUANTILE_LEVELS)[None]
    assert np.allclose(quantiles[0], expected)
    assert np.allclose(quantiles[0, :, 4], point[0]) and (np.diff(quantiles[0], axis=-1) > 0).all()
    with pytest.raises(ValueError, match="more than 96 context steps"):
        SeasonalNaiveQuantiles()([context[:96]], 4, "15min", QUANTILE_LEVELS)


class PointPipe:
    """Stands in for a pipeline without quantiles: the last value repeated; records each call."""

    def __init__(self):
        self.calls = []

    def forecast(self, context, horizon, **kwargs):
        self.calls.append((context.shape, kwargs))
        return np.repeat(context[:, -1:], horizon, axis=1)


class QuantilePipe(PointPipe):
    """Stands in for a pipeline with a quantile head: quantiles = last value + (level - 0.5), mean = last value + 1."""

    probabilistic = True

    def forecast_quantiles(self, context, horizon, quantile_levels, **kwargs):
        self.calls.append((context.shape, {"quantile_levels": quantile_levels, **kwargs}))
        last = np.repeat(context[:, -1:], horizon, axis=1)
        return last[..., None] + (np.asarray(quantile_levels) - 0.5), last + 1


@pytest.mark.parametrize("pipe_class", [PointPipe, QuantilePipe])
def test_pipeline_method_uses_quantiles_when_the_pipeline_has_them(pipe_class):
    pipe = pipe_class()
    method = PipelineQuantileForecaster(pipe, batch_size=16)
    contexts = [np.arange(50.0), np.arange(60.0), np.arange(50.0) + 7]  # two lengths: two batches
    quantiles, point = method(contexts, 5, "h", QUANTILE_LEVELS)
    assert sorted(shape for shape, _ in pipe.calls) == [(1, 60), (2, 50)]
    assert all(kw["period"] is None and kw["batch_size"] == 16 and "candidates" not in kw for _, kw in pipe.calls)  # the values decide
    last = np.array([49.0, 59.0, 56.0])
    if pipe_class is PointPipe:
        assert quantiles is None and np.allclose(point, last[:, None])
    else:
        assert all(kw["quantile_levels"] == QUANTILE_LEVELS for _, kw in pipe.calls)
        assert np.allclose(point, last[:, None] + 1) and np.allclose(quantiles[:, :, 0], last[:, None] - 0.4)

    fixed = PipelineQuantileForecaster(pipe_class(), fixed_period=True)
    fixed([np.arange(200.0)], 5, "15min", QUANTILE_LEVELS)
    assert fixed.name == "timeartist_period" and fixed.pipe.calls[0][1]["period"] == 96 and "candidates" not in fixed.pipe.calls[0][1]


@pytest.mark.parametrize("pipe_class", [PointPipe, QuantilePipe])
def test_both_routes_are_scored(pipe_class):
    rng = np.random.default_rng(0)
    values = 5 + np.sin(np.arange(2000) * 2 * np.pi / 24) + 0.3 * rng.standard_normal((7, 2000))
    row = evaluate_config(PipelineQuantileForecaster(pipe_class()), GiftConfig("H", "short"), values)
    assert row["windows"] == 5 and row["quantiles"] == (pipe_class is QuantilePipe)
    if pipe_class is PointPipe:
        assert row["crps"] == pytest.approx(row["nd"]) and row["coverage80"] == 0.0  # an interval of width 0
    else:  # median = last value, so the same MAE as the point pipe; the spread of +-0.4 changes CRPS and coverage
        assert row["crps"] < row["nd"] and 0 < row["coverage80"] < 1


def test_report_beside_the_leaderboard(data_root, tmp_path):
    frame = run_gift(data_root, methods=[PipelineQuantileForecaster(QuantilePipe())], configs=["15T/short", "ett1/H/short"], out_dir=tmp_path)
    assert frame.attrs["meta"]["configs"] == ["ett1/15T/short", "ett1/H/short"]
    measured = frame[(frame.source == "measured") & (frame.config != GEOMETRIC_MEAN)]
    assert sorted(set(measured.method)) == ["seasonal_naive", "timeartist"]  # the check always runs first
    tirex = frame[(frame.method == "TiRex") & (frame.config == GEOMETRIC_MEAN)].iloc[0]
    assert tirex.crps_ratio == pytest.approx(np.sqrt(0.161 / 0.241 * 0.176 / 0.240))  # over the configs run
    text = (tmp_path / "results.md").read_text()
    assert "| ett1/15T/short | mase | 0.9342 | 0.9342 | yes |" in text and "| geometric mean of ratios to seasonal naive |" in text
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["seasonal_naive_check"] == "reproduced"
    assert (tmp_path / "gift_ratios.png").stat().st_size > 10_000


def test_data_that_is_not_ett1_stops_before_the_model(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((4000, 7)), columns=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"])
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=4000, freq="15min"))
    (tmp_path / "ETT").mkdir()
    frame.to_csv(tmp_path / "ETT" / "ETTm1.csv", index=False)
    pipe = PointPipe()
    with pytest.raises(ValueError, match="does not reproduce the GIFT-Eval leaderboard's seasonal naive"):
        run_gift(tmp_path, methods=["timeartist"], configs=["15T/short"], pipe=pipe)
    assert pipe.calls == []


def test_bad_names_and_bad_forecasts():
    assert [c.name for c in parse_configs(["H/long", "ett1/H/long", "15T/short"])] == ["ett1/H/long", "ett1/15T/short"]
    with pytest.raises(ValueError, match="unknown GIFT-Eval configuration 'D/short'"):
        parse_configs(["D/short"])
    with pytest.raises(ValueError, match="needs a pipeline"):
        run_gift(methods=["timeartist"])

    class Short:
        name = "short"

        def __call__(self, contexts, horizon, freq, levels):
            return None, np.zeros((len(contexts), horizon - 1))

    with pytest.raises(ValueError, match="method 'short' returned a point forecast of shape"):
        evaluate_config(Short(), GiftConfig("H", "short"), np.random.default_rng(0).standard_normal((7, 2000)))


def test_cli_runs_the_pipeline_quick_and_rejects_bad_arguments(tiny_pipeline_dir, data_root, tmp_path, capsys):
    argv = ["bench", "gift", "--data-root", str(data_root), "--model", str(tiny_pipeline_dir)]
    assert main([*argv, "--quick", "--configs", "15T/short", "--out", str(tmp_path / "quick")]) == 0
    assert "bench gift:" in capsys.readouterr().out
    quick = pd.read_csv(tmp_path / "quick" / "results.csv")
    assert set(quick.loc[quick.source == "measured", "windows"].dropna()) == {2}  # the last 2 windows of each series
    assert main([*argv, "--configs", "H/weekly", "--out", str(tmp_path / "bad")]) == 2
    assert "unknown GIFT-Eval configuration 'H/weekly'" in capsys.readouterr().err
    assert main([*argv, "--methods", "naive", "--out", str(tmp_path / "bad")]) == 2
    assert "available: seasonal_naive, timeartist, timeartist_period" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # nothing written before the arguments are checked
