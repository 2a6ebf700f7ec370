"""UEA/UCR .ts reader, label encoder, missing-value filling and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from timeartist.data import LabelEncoder, fill_missing, load_archive, load_ts, read_ts, resample_to_length


def test_japanese_vowels_unequal_length_multivariate(data_root):
    X, y = load_ts(data_root / "UEA" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    assert isinstance(X, list) and len(X) == 270 and len(y) == 270
    assert all(case.shape[0] == 12 for case in X)
    lengths = {case.shape[1] for case in X}
    assert min(lengths) >= 7 and max(lengths) <= 29 and len(lengths) > 1
    assert sorted(set(y)) == [str(i) for i in range(1, 10)]
    assert X[0][0, :3].tolist() == [1.860936, 1.891651, 1.939205]  # first values of the file


def test_japanese_vowels_matches_aeon(data_root):
    aeon_datasets = pytest.importorskip("aeon.datasets")
    path = data_root / "UEA" / "JapaneseVowels" / "JapaneseVowels_TEST.ts"
    X, y = load_ts(path)
    X_ref, y_ref = aeon_datasets.load_from_ts_file(str(path))
    assert len(X) == len(X_ref) == 370
    assert all(np.array_equal(a, b) for a, b in zip(X, X_ref))
    assert list(y) == list(y_ref)


def test_gunpoint_official_splits(data_root):
    X_train, y_train = load_archive("GunPoint", "train", data_root=data_root)
    X_test, y_test = load_archive("GunPoint", "test", data_root=data_root)
    assert X_train.shape == (50, 1, 150) and X_test.shape == (150, 1, 150)
    assert X_train.dtype == np.float64
    encoder = LabelEncoder.fit(y_train)
    assert encoder.classes == ("1", "2")
    assert set(encoder.encode(y_test)) == {0, 1}


def test_string_labels_and_header_metadata(data_root):
    archive = read_ts(data_root / "UEA" / "BasicMotions" / "BasicMotions_TRAIN.ts")
    assert archive.problem_name == "BasicMotions" and archive.X.shape == (40, 6, 100)
    assert archive.class_labels == ("Standing", "Running", "Walking", "Badminton")
    encoder = LabelEncoder(archive.class_labels)
    ids = encoder.encode(archive.y)
    assert list(encoder.decode(ids)) == list(archive.y)


def test_label_encoder_sorts_numbers_numerically_and_rejects_unknown():
    encoder = LabelEncoder.fit(["10", "2"], ["1.0"])
    assert encoder.classes == ("1.0", "2", "10")
    assert encoder.encode(["10", "1.0"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="not among the encoder's classes"):
        encoder.encode(["3"])
    with pytest.raises(ValueError, match="ids must be in"):
        encoder.decode([5])


def _write_ts(tmp_path, header: str, data: str):
    """A comment line, the header, @data, then the data lines (first data line = header lines + 3)."""
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text("# a comment\n" + header.strip() + "\n@data\n" + data.strip() + "\n")
    return path


UNIVARIATE = "@problemName Toy\n@univariate true\n@equalLength true\n@missing true\n@classLabel true a b"


def test_missing_values_then_fill_and_resample(tmp_path):
    path = _write_ts(tmp_path, UNIVARIATE, "1,?,3,4:a\n?,2,4,6:b")
    X, y = load_ts(path)
    assert X.shape == (2, 1, 4) and np.isnan(X[0, 0, 1]) and np.isnan(X[1, 0, 0])
    filled = fill_missing(X)
    assert filled[0, 0].tolist() == [1, 2, 3, 4] and filled[1, 0].tolist() == [2, 2, 4, 6]
    with pytest.raises(ValueError, match="call fill_missing first"):
        resample_to_length(X, 8)
    resampled = resample_to_length(filled, 7)
    assert resampled.shape == (2, 1, 7)
    np.testing.assert_allclose(resampled[0, 0], np.linspace(1, 4, 7))  # a line stays a line, ends kept


def test_resample_unequal_lengths_to_one_tensor_length(data_root):
    X, _ = load_ts(data_root / "UEA" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    out = resample_to_length(X, 512)
    assert out.shape == (270, 12, 512)
    np.testing.assert_allclose(out[:, :, 0], np.stack([c[:, 0] for c in X]))
    np.testing.assert_allclose(out[:, :, -1], np.stack([c[:, -1] for c in X]))


@pytest.mark.parametrize(
    "header, data, message",
    [
        (UNIVARIATE, "1,2,3:a\n1,2,x:b", r"Toy_TRAIN.ts:9: expected comma-separated numbers, found 'x'"),
        (UNIVARIATE, "1,2,3:a\n1,2,3:c", r":9: label 'c' is not among the declared classes"),
        (UNIVARIATE, "1,2,3:a\n1,2,3:4:b", r":9: expected 1 dimension\(s\)"),
        (UNIVARIATE, "1,2,3:a\n1,2:b", r"@equalLength true but case lengths range from 2 to 3"),
        (UNIVARIATE.replace("@missing true", "@missing false"), "1,?,3:a", r":8: '\?' \(missing value\)"),
        ("@univariate false\n@dimensions 2\n@classLabel true a", "1,2:3:a", r":6: dimensions have different lengths"),
        ("@timeStamps true\n@classLabel true a", "(0,1):a", "timestamped .ts files"),
        ("@univariate maybe", "1,2", "must be true or false"),
        ("@classLabel true a", "", "no cases after @data"),
    ],
)
def test_malformed_ts_files_name_the_line(tmp_path, header, data, message):
    with pytest.raises(ValueError, match=message):
        load_ts(_write_ts(tmp_path, header, data))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="UEA/UCR .ts file"):
        load_ts(tmp_path / "absent.ts")
    with pytest.raises(FileNotFoundError, match="NoSuchSet_TEST.ts"):
        load_archive("NoSuchSet", "test", data_root=tmp_path)
    with pytest.raises(ValueError, match="official split"):
        load_archive("GunPoint", "val", data_root=tmp_path)
    no_data = tmp_path / "NoData.ts"
    no_data.write_text("@problemName x\n")
    with pytest.raises(ValueError, match="no @data line"):
        load_ts(no_data)


def test_helpers_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"expected an \(n, C, T\) array"):
        resample_to_length(np.zeros((4, 10)), 8)
    with pytest.raises(ValueError, match="no values at all"):
        fill_missing([np.full((1, 3), np.nan)])
