"""Forecast metrics against hand-computed values, and the geometric-mean normalised MAE."""

from __future__ import annotations

import numpy as np
import pytest

from timeartist.evaluation.metrics import geometric_mean, mae, mase, mase_scale, mse, normalised_mae, smape


def test_mse_and_mae_by_hand():
    forecast = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 2.0], [5.0, 4.5]])
    # errors 1, 0, -2, -0.5
    assert mse(forecast, target) == pytest.approx((1 + 0 + 4 + 0.25) / 4)
    assert mae(forecast, target) == pytest.approx((1 + 0 + 2 + 0.5) / 4)


def test_smape_by_hand_and_zero_over_zero():
    # step 1: 200*|2-1|/(2+1) = 66.67; step 2: both 0 -> 0; step 3: 200*4/(4+0)... with sign: |-2-2|/(2+2) = 1 -> 200
    assert smape([2.0, 0.0, -2.0], [1.0, 0.0, 2.0]) == pytest.approx((200 / 3 + 0 + 200) / 3)
    assert smape([5.0, 5.0], [5.0, 5.0]) == 0.0


def test_mase_uses_the_seasonal_in_sample_scale():
    history = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 6.0])
    # period 2: |3-1|, |5-2|, |4-3|, |6-5| -> mean 7/4
    assert mase_scale(history, period=2) == pytest.approx(7 / 4)
    # period 1: 1, 1, 2, 1, 2 -> 7/5
    assert mase_scale(history, period=1) == pytest.approx(7 / 5)
    # a history not longer than the period falls back to lag 1
    assert mase_scale(history, period=6) == pytest.approx(7 / 5)
    assert mase([7.0, 7.0], [6.0, 8.0], history, period=2) == pytest.approx(1.0 / (7 / 4))


def test_mase_rejects_constant_history():
    with pytest.raises(ValueError, match="constant"):
        mase_scale(np.ones(10), period=2)


def test_geometric_mean_normalised_mae_on_a_toy_table():
    naive = {"a": 2.0, "b": 10.0, "c": 1.0}
    model = {"a": 1.0, "b": 20.0, "c": 0.5}  # ratios 0.5, 2, 0.5
    assert normalised_mae(model, naive) == pytest.approx((0.5 * 2 * 0.5) ** (1 / 3))
    assert normalised_mae(naive, naive) == pytest.approx(1.0)
    # the geometric mean is not the arithmetic mean (1.0 here)
    assert normalised_mae(model, naive) == pytest.approx(0.5 ** (1 / 3))
    with pytest.raises(ValueError, match="datasets differ"):
        normalised_mae({"a": 1.0}, naive)
    with pytest.raises(ValueError, match="positive"):
        geometric_mean([1.0, 0.0])


def test_bad_shapes_and_nan_forecasts_are_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        mse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        mae(np.array([np.nan, 1.0]), np.zeros(2))
