"""LTSF loader: exact protocol split sizes, train-only scaling, inverse scaling, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from timeartist.data import LTSFDataset, ltsf_path, resolve_data_root


def seasonal_naive(contexts: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """Repeat the last ``period`` values of each context: (..., L) -> (..., horizon)."""
    reps = -(-horizon // period)
    return np.tile(contexts[..., -period:], reps)[..., :horizon]


@pytest.mark.parametrize(
    "name, seq_len, pred_len, windows",
    [("ETTh1", 96, 96, 2785), ("ETTh1", 512, 96, 2785), ("ETTh1", 336, 720, 2161), ("ETTm1", 512, 96, 11425)],
)
def test_ett_test_split_sizes_match_the_protocol(data_root, name, seq_len, pred_len, windows):
    ds = LTSFDataset(data_root / "ETT" / f"{name}.csv", split="test", seq_len=seq_len, pred_len=pred_len)
    assert ds.num_windows == windows
    assert ds.num_channels == 7
    assert len(ds) == windows * 7


def test_ett_borders_and_lookback(data_root):
    ds = LTSFDataset(data_root / "ETT" / "ETTh1.csv", split="val", seq_len=336, pred_len=96)
    assert (ds.borders.train, ds.borders.val, ds.borders.test) == ((0, 8640), (8640, 11520), (11520, 14400))
    assert ds.start == 8640 - 336 and ds.end == 11520
    train = LTSFDataset(data_root / "ETT" / "ETTm1.csv", split="train", seq_len=512, pred_len=96)
    assert train.borders.test == (46080, 57600)
    assert train.num_windows == 34560 - 512 - 96 + 1


def test_scaler_is_fitted_on_train_rows_only(data_root):
    ds = LTSFDataset(data_root / "ETT" / "ETTh1.csv", split="test", seq_len=96, pred_len=96)
    raw = pd.read_csv(data_root / "ETT" / "ETTh1.csv").drop(columns="date").to_numpy().T
    np.testing.assert_allclose(ds.mean, raw[:, :8640].mean(axis=1))
    np.testing.assert_allclose(ds.std, raw[:, :8640].std(axis=1))
    train_part = ds.series[:, :8640]
    np.testing.assert_allclose(train_part.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(train_part.std(axis=1), 1, atol=1e-4)
    assert np.abs(raw[:, :14400].mean(axis=1) - ds.mean).max() > 0.1  # fitting on all splits would differ


def test_items_and_batch_windows_agree(data_root):
    ds = LTSFDataset(data_root / "ETT" / "ETTh1.csv", split="test", seq_len=64, pred_len=24)
    contexts, targets = ds.windows()
    assert contexts.shape == (ds.num_windows, 7, 64) and targets.shape == (ds.num_windows, 7, 24)
    for index in (0, 1, ds.num_windows - 1, ds.num_windows, len(ds) - 1):
        channel, window = divmod(index, ds.num_windows)
        context, target = ds[index]
        assert context.dtype == np.float32 and context.shape == (64,) and target.shape == (24,)
        np.testing.assert_array_equal(context, contexts[window, channel])
        np.testing.assert_array_equal(target, targets[window, channel])
    last_target_row = ds.start + ds.num_windows - 1 + 64 + 24
    assert last_target_row == ds.end == 14400  # no window dropped, none past the split
    one_context, one_target = ds.windows(channel=3)
    np.testing.assert_array_equal(one_context, contexts[:, 3])


def test_seasonal_naive_reproduces_published_protocol_values(data_root):
    ds = LTSFDataset(data_root / "ETT" / "ETTh1.csv", split="test", seq_len=96, pred_len=96)
    contexts, targets = ds.windows()
    error = seasonal_naive(contexts, 24, 96) - targets
    assert round(float((error**2).mean()), 3) == 0.512
    assert round(float(np.abs(error).mean()), 3) == 0.433


def test_inverse_transform_round_trip(data_root):
    path = data_root / "ETT" / "ETTh1.csv"
    ds = LTSFDataset(path, split="test", seq_len=48, pred_len=24)
    raw = pd.read_csv(path)["OT"].to_numpy()
    context, _ = ds[6 * ds.num_windows + 5]  # channel 6 is the target OT
    np.testing.assert_allclose(ds.inverse_transform(context, channel=6), raw[ds.start + 5 : ds.start + 53], rtol=1e-5)
    contexts, _ = ds.windows()
    batch = np.asarray(contexts[:4])
    np.testing.assert_allclose(ds.transform(ds.inverse_transform(batch)), batch, atol=1e-5)


def test_features_s_keeps_only_the_target(data_root):
    ds = LTSFDataset(data_root / "ETT" / "ETTh2.csv", split="val", seq_len=96, pred_len=96, features="S")
    assert ds.channels == ["OT"] and len(ds) == ds.num_windows == 2785


def test_custom_csv_uses_70_10_20_split(data_root):
    ds = LTSFDataset(data_root / "exchange_rate" / "exchange_rate.csv", split="test", seq_len=96, pred_len=96)
    n = 7588
    assert ds.borders.train == (0, int(n * 0.7))
    assert ds.borders.test == (n - int(n * 0.2), n)
    assert ds.num_windows == int(n * 0.2) - 96 + 1
    assert ds.channels[-1] == "OT"


def test_known_names_resolve_through_the_data_root(data_root, monkeypatch):
    monkeypatch.setenv("TIMEARTIST_DATA", str(data_root))
    assert resolve_data_root() == data_root
    assert ltsf_path("ETTh1") == data_root / "ETT" / "ETTh1.csv"
    assert LTSFDataset("etth1", split="test", seq_len=96, pred_len=96).num_windows == 2785


def _write_csv(tmp_path, frame, name="custom.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _frame(n=200, **columns):
    dates = pd.date_range("2020-01-01", periods=n, freq="h").astype(str)
    rng = np.random.default_rng(0)
    data = {"date": dates, "a": rng.normal(size=n), "OT": rng.normal(size=n)}
    data.update(columns)
    return pd.DataFrame(data)


def test_missing_file_and_unknown_name(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        LTSFDataset(tmp_path / "nope.csv")
    monkeypatch.setenv("TIMEARTIST_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="expected layout"):
        LTSFDataset("ETTh1")
    monkeypatch.setenv("TIMEARTIST_DATA", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="TIMEARTIST_DATA"):
        resolve_data_root()


@pytest.mark.parametrize(
    "frame, message",
    [
        (_frame().drop(columns="date"), "no date column"),
        (_frame().drop(columns="OT"), "no target column 'OT'"),
        (_frame(a=["x"] * 200), "not numeric"),
        (_frame(a=[np.nan] * 200), "missing values"),
        (_frame(a=[1.0] * 200), "constant on the train rows"),
        (_frame(n=40), "fewer than seq_len \\+ pred_len"),
    ],
)
def test_bad_csv_gives_clear_errors(tmp_path, frame, message):
    with pytest.raises(ValueError, match=message):
        LTSFDataset(_write_csv(tmp_path, frame), split="test", seq_len=24, pred_len=12)


def test_bad_arguments(tmp_path):
    path = _write_csv(tmp_path, _frame())
    with pytest.raises(ValueError, match="split must be one of"):
        LTSFDataset(path, split="validation")
    with pytest.raises(ValueError, match="features must be"):
        LTSFDataset(path, seq_len=8, pred_len=4, features="MS")
    ds = LTSFDataset(path, seq_len=8, pred_len=4)
    with pytest.raises(ValueError, match="channel must be in"):
        ds.windows(channel=2)
    with pytest.raises(ValueError, match="values must have shape"):
        ds.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_truncated_ett_file_is_rejected(tmp_path):
    path = _write_csv(tmp_path, _frame(n=1000), name="ETTh1.csv")
    with pytest.raises(ValueError, match="at least 14400 rows"):
        LTSFDataset(path, seq_len=8, pred_len=4)
