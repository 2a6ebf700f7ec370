"""Self-supervised pretraining windows: seed call, val/test excluded by default, explicit all-splits mode."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from timeartist.data import MultiDomainSelfSupervisionDataset
from timeartist.data.selfsup import contiguous_runs


@pytest.fixture
def env_root(data_root, monkeypatch):
    monkeypatch.setenv("TIMEARTIST_DATA", str(data_root))
    return data_root


def test_seed_readme_call_gives_512_float_windows_from_train_only(env_root):
    dataset = MultiDomainSelfSupervisionDataset(data_name="etth1", seq_len=512)
    assert len(dataset) == (8640 // 512) * 7
    item = dataset[0]
    assert isinstance(item, torch.Tensor) and item.shape == (512,) and item.dtype == torch.float32
    assert max(dataset.locate(i)[2] + 512 for i in range(len(dataset))) <= 8640  # never touches val / test
    assert dataset.locate(8) == ("etth1", 1, 512)  # window-major, channel fastest (the seed's order)


def test_windows_are_zscored_with_the_rows_they_use(env_root):
    dataset = MultiDomainSelfSupervisionDataset("ETTh2", seq_len=256)
    train = dataset.series[0][:, :8640]
    np.testing.assert_allclose(train.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=1), 1, atol=1e-4)
    window = torch.stack([dataset[i] for i in range(0, len(dataset), 7)])  # channel 0, all windows
    np.testing.assert_allclose(window.flatten().numpy(), train[0, : window.numel()], atol=1e-6)


def test_all_splits_reproduces_the_seed_and_warns(env_root, caplog):
    with caplog.at_level(logging.WARNING, logger="timeartist.data.selfsup"):
        dataset = MultiDomainSelfSupervisionDataset("etth1", seq_len=512, splits="all")
    assert "zero-shot claims on these datasets are void" in caplog.text
    assert len(dataset) == (14400 // 512) * 7
    used = dataset.series[0][:, :14400]
    np.testing.assert_allclose(used.mean(axis=1), 0, atol=1e-4)


def test_non_adjacent_splits_do_not_share_windows(env_root):
    dataset = MultiDomainSelfSupervisionDataset("etth1", seq_len=500, splits=("train", "test"))
    starts = {dataset.locate(i)[2] for i in range(len(dataset))}
    assert all(s + 500 <= 8640 or s >= 11520 for s in starts)
    assert len(starts) == 8640 // 500 + 2880 // 500


def test_several_datasets_concatenate(env_root):
    both = MultiDomainSelfSupervisionDataset(["etth1", "ettm1"], seq_len=512)
    assert len(both) == (8640 // 512) * 7 + (34560 // 512) * 7
    assert both.locate(len(both) - 1)[0] == "ettm1"
    assert torch.equal(both[0], MultiDomainSelfSupervisionDataset("etth1", seq_len=512)[0])


def test_contiguous_runs_merge_touching_ranges():
    assert contiguous_runs([(5, 9), (0, 5), (12, 20)]) == [(0, 9), (12, 20)]


def test_bad_input(env_root):
    with pytest.raises(FileNotFoundError, match="known dataset name"):
        MultiDomainSelfSupervisionDataset("no_such_set")
    with pytest.raises(ValueError, match="splits must be"):
        MultiDomainSelfSupervisionDataset("etth1", splits=("train", "validation"))
    with pytest.raises(ValueError, match="no window of seq_len=9000"):
        MultiDomainSelfSupervisionDataset("etth1", seq_len=9000)
    with pytest.raises(IndexError):
        MultiDomainSelfSupervisionDataset("etth1", seq_len=4096)[100]


def test_corpus_windows_split_each_series_in_time(data_root):
    from timeartist.data.corpus import CorpusWindows, read_corpus

    series = read_corpus(data_root, folders=("classic",), min_length=60)
    assert series and all(np.isfinite(s.values).all() for s in series)
    train, heldout = CorpusWindows(series, 32, "train"), CorpusWindows(series, 32, "heldout")
    assert len(train) > len(heldout) > 0
    window = train[0]
    assert window.shape == (32,) and abs(float(window.mean())) < 1e-5 and abs(float(window.std(unbiased=False)) - 1) < 1e-4
    # no held-out window appears in training (the parts are disjoint in time)
    assert not any(np.allclose(h, t) for h in heldout.windows[:5] for t in train.windows)
    with pytest.raises(ValueError, match="evaluation data"):
        read_corpus(data_root, folders=("monash",))
