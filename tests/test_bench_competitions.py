"""Competition runner: one final window per series, metrics by hand, normalised MAE, quick end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from timeartist.data import load_competition_json
from timeartist.evaluation.competitions import GEOMETRIC_MEAN, available_datasets, run_competitions
from timeartist.evaluation.metrics import geometric_mean


def test_available_datasets_split_the_json_files_by_frequency(data_root):
    found = available_datasets(data_root)
    for name in ("m1_yearly", "m1_quarterly", "m1_monthly", "m3_yearly", "m3_quarterly", "m3_monthly", "m3_other", "ausgrid_weekly_sample"):
        assert name in found


def test_quick_run_scores_the_final_window_and_writes_every_output(data_root, tmp_path):
    datasets = ["m3_monthly", "m1_quarterly", "ausgrid_weekly_sample"]
    frame = run_competitions(data_root, datasets, ["seasonal_naive", "auto_theta"], out_dir=tmp_path, quick=True)
    per_dataset = frame[frame.dataset != GEOMETRIC_MEAN]
    assert set(per_dataset.method) == {"naive", "seasonal_naive", "auto_theta"}  # naive added for normalisation
    assert set(per_dataset.series) == {20}

    # seasonal naive on the first 20 M3 monthly series, by hand
    series = load_competition_json(data_root / "forecasting_competitions" / "m3_data.json", frequency="monthly")[:20]
    maes, mases = [], []
    for one in series:
        history, future = one.history, one.future
        forecast = np.tile(history[-12:], 2)[:18]
        maes.append(np.abs(forecast - future).mean())
        mases.append(maes[-1] / np.abs(history[12:] - history[:-12]).mean())
    row = per_dataset[(per_dataset.dataset == "m3_monthly") & (per_dataset.method == "seasonal_naive")].iloc[0]
    assert row.mae == pytest.approx(np.mean(maes)) and row.mase == pytest.approx(np.mean(mases))
    assert (row.horizon, row.period) == ("18", 12)

    ratios = per_dataset[per_dataset.method == "auto_theta"].set_index("dataset")["nmae"]
    summary = frame[(frame.dataset == GEOMETRIC_MEAN) & (frame.method == "auto_theta")].iloc[0]
    assert summary.nmae == pytest.approx(geometric_mean(ratios.values))
    assert frame[(frame.dataset == GEOMETRIC_MEAN) & (frame.method == "naive")].iloc[0].nmae == pytest.approx(1.0)

    for name in ("results.csv", "results.json", "results.md", "error_by_horizon.png", "forecast_examples.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["quick"] is True
    assert "| geometric mean |" in (tmp_path / "results.md").read_text()


def test_bad_names_list_what_is_available(data_root, tmp_path):
    with pytest.raises(ValueError, match="available: m1_yearly"):
        run_competitions(data_root, ["m4_hourly"], ["naive"])
    with pytest.raises(ValueError, match="available: naive, seasonal_naive, auto_ets"):
        run_competitions(data_root, ["m1_yearly"], ["seasonal_mean"])
    with pytest.raises(FileNotFoundError, match="data root not found"):
        run_competitions(tmp_path / "missing", ["m1_yearly"], ["naive"])


class LastValueInterval:
    """A probabilistic plug-in: the last value, with the interval last value +- width."""

    probabilistic = True

    def __init__(self, width):
        self.name, self.width = f"interval_{width}", width

    def __call__(self, context, horizon, period):
        return np.repeat(context[:, -1:], horizon, axis=1)

    def forecast_quantiles(self, context, horizon, period, quantile_levels):
        point = self(context, horizon, period)
        return point[..., None] + self.width * np.array([-1.0, 1.0]), point


def test_probabilistic_methods_report_the_coverage_of_their_80_percent_interval(data_root, tmp_path):
    from timeartist.evaluation.competitions import available_datasets

    dataset = next(iter(available_datasets(data_root)))
    frame = run_competitions(data_root, [dataset], ["naive", LastValueInterval(0.0), LastValueInterval(1e12)], quick=True, out_dir=tmp_path)
    by_method = frame[frame.dataset == dataset].set_index("method")
    assert by_method.loc["interval_1000000000000.0", "coverage80"] == 1.0 and by_method.loc["interval_0.0", "coverage80"] < 0.5
    assert np.isnan(by_method.loc["naive", "coverage80"])
    assert by_method.loc["interval_0.0", "mae"] == by_method.loc["naive", "mae"]
    assert "Coverage of the 80% interval" in (tmp_path / "results.md").read_text()
