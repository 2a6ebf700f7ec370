"""Classification benchmark: quick runs on the official splits, unequal lengths, and named errors."""

from __future__ import annotations

import json

import pytest

from timeartist.evaluation.classification import METHODS, available_datasets, run_classification_bench
from timeartist.pipelines.pipeline import TimeArtistPipeline


def test_quick_run_scores_every_method_on_the_same_cases(tiny_pipeline_dir, data_root, tmp_path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    frame = run_classification_bench(data_root, ["Chinatown"], pipe, tmp_path, quick=True)
    assert list(frame["method"]) == list(METHODS)
    # quick: the first 5 training cases of each of the 2 classes, 20 test cases spread over the file
    assert set(frame["train_cases"]) == {10} and set(frame["test_cases"]) == {20}
    assert frame["accuracy"].between(0, 1).all()
    assert (frame[["fit_seconds", "predict_seconds"]] >= 0).all().all()
    # A 1-NN DTW on Chinatown is far above chance even on 10 training cases, and so is the vision route.
    by_method = frame.set_index("method")
    assert by_method.loc["dtw_1nn", "accuracy"] >= 0.75 and by_method.loc["timeartist", "accuracy"] >= 0.75
    assert by_method.loc["timeartist", "route"].startswith("vision") and by_method.loc["timeartist_codes", "route"].startswith("codes")
    assert by_method.loc["minirocket", "route"] == ""
    for name in ("results.csv", "results.json", "results.md", "accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert meta["quick"] and "no selection on TEST" in meta["protocol"]
    report = (tmp_path / "results.md").read_text()
    assert "| mean |" in report and "## Route chosen on TRAIN" in report


def test_unequal_lengths_are_resampled_for_minirocket_and_kept_for_dtw(data_root):
    frame = run_classification_bench(data_root, ["JapaneseVowels"], quick=True, methods=("minirocket", "dtw_1nn", "euclidean_1nn")).set_index("method")
    assert "-" in frame.loc["dtw_1nn", "length"]  # e.g. "7-26": cases of several lengths
    assert frame.loc["minirocket", "input"].startswith("resampled to") and frame.loc["euclidean_1nn", "input"].startswith("resampled to")
    assert frame.loc["dtw_1nn", "input"] == "unequal lengths as given"
    assert (frame["accuracy"] > 1 / 9).all()  # 9 classes: both baselines beat chance


def test_datasets_found_and_bad_names_listed(data_root, tmp_path):
    names = available_datasets(data_root)
    assert {"GunPoint", "BasicMotions", "JapaneseVowels"} <= set(names)
    with pytest.raises(ValueError, match="NoSuchSet.*available.*GunPoint"):
        run_classification_bench(data_root, ["NoSuchSet"], methods=("dtw_1nn",))
    with pytest.raises(ValueError, match="unknown methods.*available: timeartist, timeartist_codes, minirocket, dtw_1nn, euclidean_1nn"):
        run_classification_bench(data_root, ["GunPoint"], methods=("svm",))
    with pytest.raises(ValueError, match="need a pipeline"):
        run_classification_bench(data_root, ["GunPoint"])
    with pytest.raises(FileNotFoundError, match="data root not found"):
        run_classification_bench(tmp_path / "missing", ["GunPoint"], methods=("dtw_1nn",))
