"""Synthetic series: determinism under a seed, normalisation, seasonal structure, unlimited stream."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from timeartist.data import SyntheticConfig, SyntheticSeriesDataset, SyntheticSeriesGenerator

SMALL = SyntheticConfig(length=128)


def test_same_seed_and_index_give_the_same_series():
    first, again = SyntheticSeriesGenerator(SMALL, seed=7), SyntheticSeriesGenerator(SMALL, seed=7)
    np.testing.assert_array_equal(first.batch(0, 6), again.batch(0, 6))
    np.testing.assert_array_equal(first.batch(3, 2)[1], first.sample(4))  # a sample does not depend on the batch
    other = SyntheticSeriesGenerator(SMALL, seed=8).batch(0, 6)
    assert not np.allclose(first.batch(0, 6), other)


def test_samples_are_finite_normalised_float32():
    batch = SyntheticSeriesGenerator(SMALL, seed=0).batch(0, 30)
    assert batch.shape == (30, 128) and batch.dtype == np.float32 and np.isfinite(batch).all()
    np.testing.assert_allclose(batch.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(batch.std(axis=1), 1, atol=1e-3)
    assert len({round(float(s[0]), 5) for s in batch}) == 30  # all different


def test_kernel_synth_draws_are_finite():
    config = SyntheticConfig(length=96, kernel_prob=1.0)
    batch = SyntheticSeriesGenerator(config, seed=1).batch(0, 6)
    assert np.isfinite(batch).all() and batch.std(axis=1).min() > 0.5


def _autocorrelation(x: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


def test_seasonal_structure_is_periodic():
    config = SyntheticConfig(
        length=240, kernel_prob=0.0, seasonal_prob=1.0, periods=(24,), random_period_prob=0.0, max_seasonalities=1,
        level_shift_prob=0.0, spike_prob=0.0, multiplicative_prob=0.5,
    )
    batch = SyntheticSeriesGenerator(config, seed=0).batch(0, 40)
    at_period = np.median([_autocorrelation(s, 24) for s in batch])
    off_period = np.median([_autocorrelation(s, 12) for s in batch])
    assert at_period > 0.5 and at_period > off_period + 0.2


def test_dataset_streams_without_end_in_generator_order():
    dataset = SyntheticSeriesDataset(SMALL, seed=3, start=10)
    items = list(itertools.islice(iter(dataset), 5))
    assert all(isinstance(i, torch.Tensor) and i.shape == (128,) for i in items)
    expected = SyntheticSeriesGenerator(SMALL, seed=3).batch(10, 5)
    np.testing.assert_array_equal(torch.stack(items).numpy(), expected)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    assert next(iter(loader)).shape == (4, 128)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"length": 4}, "length must be at least 8"), ({"kernel_prob": 1.5}, "kernel_prob"), ({"periods": (1,)}, "periods")],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**kwargs)


def test_negative_index_is_rejected():
    with pytest.raises(ValueError, match="index must be >= 0"):
        SyntheticSeriesGenerator(SMALL).sample(-1)
