"""The known-answer suite (`timeartist bench sanity`): each class has the structure it claims, the baselines and
scores are the textbook ones, a run writes its report, and the bundled model holds its own on two easy classes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from timeartist.evaluation.sanity import CLASSES, baseline_forecasts, run_sanity, sanity_cases, score, weighted_quantile_loss


def test_cases_are_seeded_and_have_their_stated_structure():
    cases = sanity_cases(seeds=2, seed=0)
    assert [c.name for c in cases] == [name for name in CLASSES for _ in range(2)]
    again = sanity_cases(["random_walk"], seeds=2, seed=0)
    np.testing.assert_array_equal(again[1].context, cases[2 * list(CLASSES).index("random_walk") + 1].context)
    by_name = {c.name: c for c in cases}
    assert by_name["hourly_daily_weekly"].periods == (24, 168) and by_name["15min_daily_weekly"].periods == (96, 672)
    assert not by_name["white_noise"].periods and not by_name["linear_trend"].periods
    assert np.mean(by_name["intermittent"].context == 0) > 0.5  # mostly zeros
    trend = by_name["linear_trend"]
    slope = np.polyfit(np.arange(len(trend.context)), trend.context, 1)[0]
    assert abs(slope) > 0 and np.corrcoef(np.arange(len(trend.context)), trend.context)[0, 1] ** 2 > 0.5


def test_baselines_and_scores_are_the_textbook_ones():
    case = sanity_cases(["hourly_daily_weekly"], seeds=1)[0]
    baselines = baseline_forecasts(case)
    assert set(baselines) == {"naive", "drift", "mean", "seasonal_naive_24", "seasonal_naive_168"}
    np.testing.assert_array_equal(baselines["seasonal_naive_168"][:168], case.context[-168:])
    exact = score(case, case.future)
    assert exact.mase == 0.0 and exact.rel_mse == 0.0
    assert score(case, np.full(case.horizon, case.future.mean())).rel_mse == pytest.approx(1.0)
    band = case.future[:, None] + np.linspace(-1, 1, 9)  # every level around the truth
    with_band = score(case, case.future, band)
    assert with_band.coverage == 1.0 and with_band.crps == pytest.approx(weighted_quantile_loss(band, case.future, np.linspace(0.1, 0.9, 9)))
    with pytest.raises(ValueError, match="expected a forecast of shape"):
        score(case, case.future[:-1])
    with pytest.raises(ValueError, match="unknown sanity classes"):
        sanity_cases(["sunspots"])


def test_the_bundled_model_holds_its_own_on_two_classes(tmp_path):
    from timeartist import TimeArtistPipeline

    frame = run_sanity(TimeArtistPipeline.from_pretrained(), ["hourly_daily_weekly", "level_shift"], seeds=2, out_dir=tmp_path)
    model = frame[frame.method == "timeartist"].groupby("class")["mase"].mean()
    best = frame[frame.method != "timeartist"].groupby(["class", "method"])["mase"].mean().groupby("class").min()
    assert (model / best <= 1.1).all(), (model / best).to_dict()  # the bar (measured: 0.75 and 0.92 on 20 seeds)
    assert frame[frame.method == "timeartist"]["coverage80"].notna().all()  # the bundled model forecasts quantiles
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["classes"] == ["hourly_daily_weekly", "level_shift"] and meta["max_ratio"] <= 1.1
    assert (tmp_path / "sanity_examples.png").stat().st_size > 0 and "best baseline" in (tmp_path / "results.md").read_text()
