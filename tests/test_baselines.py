"""Baseline forecasters: hand-checked outputs, the vectorised seasonal-mean K search, statsforecast rows."""

from __future__ import annotations

import numpy as np
import pytest

from timeartist.evaluation.baselines import (
    BASELINES,
    Forecaster,
    SeasonalMean,
    make_baseline,
    seasonal_mean_errors,
)


def test_naive_and_seasonal_naive_by_hand():
    context = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(make_baseline("naive")(context, 3, period=2), [[5, 5, 5], [2, 2, 2]])
    np.testing.assert_array_equal(make_baseline("seasonal_naive")(context, 5, period=2), [[4, 5, 4, 5, 4], [0, 2, 0, 2, 0]])


def test_seasonal_mean_averages_the_last_k_periods():
    context = np.array([[9.0, 9.0, 1.0, 2.0, 3.0, 6.0]])  # last two periods of 2: (1, 2), (3, 6)
    np.testing.assert_allclose(SeasonalMean(k=2)(context, 5, period=2), [[2, 4, 2, 4, 2]])
    np.testing.assert_allclose(SeasonalMean(k=1)(context, 2, period=2), [[3, 6]])
    with pytest.raises(ValueError, match="at least 8"):
        SeasonalMean(k=4)(context, 2, period=2)


def test_seasonal_mean_errors_match_the_forecaster_for_every_k():
    rng = np.random.default_rng(0)
    context, target = rng.normal(size=(6, 40)), rng.normal(size=(6, 7))
    candidates = [1, 2, 3, 5, 8]
    squared, absolute = seasonal_mean_errors(context, target, period=5, candidates=candidates)
    for i, k in enumerate(candidates):
        error = SeasonalMean(k)(context, 7, period=5) - target
        assert squared[i] == pytest.approx(np.square(error).sum())
        assert absolute[i] == pytest.approx(np.abs(error).sum())


def test_bad_input_and_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        make_baseline("naive")(np.zeros(5), 2, period=1)
    with pytest.raises(ValueError, match="NaN"):
        make_baseline("naive")(np.array([[1.0, np.nan]]), 2, period=1)
    with pytest.raises(ValueError, match="available: naive, seasonal_naive"):
        make_baseline("prophet")
    with pytest.raises(ValueError, match="needs k"):
        make_baseline("seasonal_mean")


def test_statsforecast_model_forecasts_every_row():
    steps = np.arange(96)
    rows = np.stack([np.sin(2 * np.pi * steps / 12) + 0.01 * steps, np.cos(2 * np.pi * steps / 12)])
    theta = make_baseline("auto_theta", context_length=72)
    assert isinstance(theta, Forecaster) and theta.name in BASELINES
    forecast = theta(rows, 24, period=12)
    assert forecast.shape == (2, 24) and np.isfinite(forecast).all()
    truth = np.stack([np.sin(2 * np.pi * (96 + np.arange(24)) / 12) + 0.01 * (96 + np.arange(24)), np.cos(2 * np.pi * (96 + np.arange(24)) / 12)])
    naive_error = np.abs(make_baseline("naive")(rows, 24, 12) - truth).mean()
    assert np.abs(forecast - truth).mean() < 0.2 * naive_error  # a seasonal model tracks the cycle
    # a constant row cannot be fitted seasonally but still gets a finite forecast
    flat = theta(np.ones((1, 48)), 6, period=12)
    np.testing.assert_allclose(flat, 1.0, atol=1e-6)


def test_statsforecast_rows_in_parallel_match_the_serial_forecast():
    rng = np.random.default_rng(1)
    rows = np.sin(2 * np.pi * np.arange(5 * 60).reshape(5, 60) / 12) + 0.1 * rng.normal(size=(5, 60))
    serial = make_baseline("auto_theta", n_jobs=1)(rows, 12, period=12)
    parallel = make_baseline("auto_theta", n_jobs=2)(rows, 12, period=12)
    np.testing.assert_allclose(parallel, serial)
