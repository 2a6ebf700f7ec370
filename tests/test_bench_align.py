"""Alignment benchmark (`timeartist bench align`): each measure by hand on stand-in sets, every row on the untrained tiny
pipeline (whose aligners are the identity), the progression over a tiny align run's checkpoints, and the CLI (structure,
not model numbers)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from timeartist.cli import main
from timeartist.evaluation.alignment import (
    ROWS, align_run, artist_rows, changed_token_share, fed_ratio, measure_alignment, nearest_own_share, progression, progression_grid,
)  # fmt: skip
from timeartist.evaluation.heldout import zscore_windows
from timeartist.evaluation.image_metrics import fed_of_features
from timeartist.pipelines.pipeline import TimeArtistPipeline

TINY_ALIGN = Path(__file__).resolve().parents[1] / "configs" / "tiny" / "align.yaml"
FAST_ALIGN = [
    "training.max_train_steps=2", "training.per_gpu_batch_size=8", "experiment.save_every=1", "experiment.eval_every=0",
    "experiment.log_every=1", "experiment.keep_last=3", "lr_scheduler.params.warmup_steps=1",
    "dataset.params.series_datasets=[]", "dataset.params.synthetic_series=32", "dataset.params.heldout_series_datasets=[]",
    "dataset.params.heldout_synthetic_series=8",
]  # fmt: skip


@pytest.fixture(scope="module")
def pipe(tiny_pipeline_dir) -> TimeArtistPipeline:
    return TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)


@pytest.fixture(scope="module")
def pairs() -> np.ndarray:
    """Stand-in held-out series: 6 pairs of adjacent 64-step windows of a noisy sine, each window z-scored."""
    rng = np.random.default_rng(0)
    t = np.arange(128)
    long = np.stack([np.sin(2 * np.pi * t / (8 + 3 * i)) + 0.3 * rng.standard_normal(128) for i in range(6)])
    return zscore_windows(long.reshape(-1, 64))[0].reshape(6, 2, 64)


@pytest.fixture(scope="module")
def align_run_dir(tiny_pipeline_dir, tmp_path_factory):
    """A 2-step align run of the tiny pipeline's tokenizers with checkpoints at steps 1 and 2 (random stand-in images,
    synthetic series: no data folder needed)."""
    from timeartist.training.align import run_align

    images = tmp_path_factory.mktemp("align_images")
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(images / f"img{i}.png")
    out = tmp_path_factory.mktemp("align_run")
    overrides = [*FAST_ALIGN, f"dataset.params.image_dirs=[{images}]", f"dataset.params.heldout_image_dirs=[{images}]",
                 f"experiment.output_dir={out}", f"experiment.init_weight={tiny_pipeline_dir}"]  # fmt: skip
    run_align(TINY_ALIGN, overrides)
    return out


# ---------------------------------------------------------------------------------------------- the measures by hand
def test_identical_sets_have_zero_fed_and_a_set_against_itself_has_ratio_one():
    rng = np.random.default_rng(0)
    photos, pictures = torch.from_numpy(rng.standard_normal((12, 16))), torch.from_numpy(rng.standard_normal((12, 16)) + 1.0)
    assert fed_of_features(photos, photos) == pytest.approx(0.0, abs=1e-8)
    fed, reference, ratio = fed_ratio(pictures, pictures, photos)  # the pictures are as far from the photos as the reference
    assert fed == reference > 1.0 and ratio == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal size"):
        fed_ratio(pictures[:10], pictures, photos)


def test_same_series_share_is_one_for_identical_pictures_and_zero_when_every_b_is_another_series():
    features = torch.from_numpy(np.random.default_rng(0).standard_normal((10, 8)))
    share, nearest = nearest_own_share(features, features.clone())
    assert share == 1.0 and nearest.tolist() == list(range(10))
    shifted = features.roll(1, dims=0)  # B_i is the picture of A_(i-1)
    share, nearest = nearest_own_share(features, shifted)
    assert share == 0.0 and nearest.tolist() == [(i + 1) % 10 for i in range(10)]
    with pytest.raises(ValueError, match="same shape"):
        nearest_own_share(features, features[:5])


def test_progression_grid_is_rows_of_series_by_columns_of_steps():
    columns = {name: torch.rand(8, 3, 32, 32) for name in ("before alignment", "step 1", "step 2")}
    grid, titles = progression_grid(columns)
    assert grid.shape == (8 * 3, 3, 32, 32) and len(titles) == 24
    assert titles[:3] == list(columns) and set(titles[3:]) == {""}
    assert torch.equal(grid[3 * 5 + 2], columns["step 2"][5])  # row 5, column 2


# ---------------------------------------------------------------------------------------------- the rows on the tiny pipeline
def test_every_row_on_the_untrained_pipeline(pipe, pairs):
    photos = torch.rand(5, 3, 32, 32)
    rows, shown = measure_alignment(pipe, photos, pairs, pipe.classifier_network(), batch_size=4)
    frame = pd.DataFrame(rows).set_index("row")
    assert list(frame.index) == list(ROWS) and np.isfinite(frame["value"]).all()
    assert frame.loc["changed_token_share", "value"] == 0.0  # untrained aligners are the identity
    assert (frame.loc[["fed_aligned", "fed_reconstructions"], "n"] == 5).all()  # equal set sizes: min(photos, series)
    assert frame.loc["fed_ratio_aligned", "required"] == "<= 1.25" and frame.loc["fed_ratio_aligned", "target"] == "<= 1.1"
    assert frame.loc["fed_ratio_aligned", "met"] == (frame.loc["fed_ratio_aligned", "value"] <= 1.25)
    assert frame.loc["changed_token_share", "met"] is None and frame.loc["changed_token_share", "required"] == "reported"
    assert shown["pictures"]["aligned"].shape == (6, 3, 32, 32) and len(shown["nearest"]["aligned"]) == 6
    assert changed_token_share(pipe, pairs[:, 1]) == 0.0


def test_a_pipeline_without_aligners_is_refused(tiny_pipeline_dir, pairs):
    bare = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    bare.align_t2v = None
    with pytest.raises(ValueError, match="both aligners"):
        measure_alignment(bare, torch.rand(3, 3, 32, 32), pairs, network=None)


def test_progression_of_an_align_run_has_a_column_per_checkpoint(pipe, pairs, align_run_dir):
    columns, shares = progression(pipe, pairs[:, 0], align_run_dir)
    assert list(columns) == ["before alignment", "step 1", "step 2"] and list(shares) == ["step 1", "step 2"]
    assert all(images.shape == (6, 3, 32, 32) for images in columns.values())
    assert list(progression(pipe, pairs[:, 0], align_run_dir, steps=[2])[0]) == ["before alignment", "step 2"]
    without_run, shares = progression(pipe, pairs[:, 0])
    assert list(without_run) == ["before alignment", "after alignment"] and shares == {"after alignment": 0.0}
    with pytest.raises(ValueError, match=r"have no checkpoint .* available: \[1, 2\]"):
        align_run(align_run_dir, [5])


def test_artist_rows_compare_the_artist_path_with_visionts(pipe, monkeypatch):
    """The LTSF runner itself is tested in test_bench_ltsf.py; here a stand-in frame in its layout."""
    import timeartist.evaluation.ltsf as ltsf

    mse = {("ETTh1", "artist"): 0.7, ("ETTh1", "visionts"): 0.6, ("ETTh2", "artist"): 0.3, ("ETTh2", "visionts"): 0.4}
    frame = pd.DataFrame([{"dataset": d, "method": m, "horizon": h, "mse": v, "windows": 12} for (d, m), v in mse.items() for h in ("96", "avg")])
    frame.attrs["meta"] = {"protocol": "LTSF", "horizons": [96], "settings": []}
    calls = []
    monkeypatch.setattr(ltsf, "run_ltsf", lambda **kwargs: calls.append(kwargs) or frame)
    rows, meta = artist_rows(pipe, data_root=None, batch_size=8)
    assert calls[0]["quick"] and [m.name for m in calls[0]["methods"]] == ["artist", "visionts"]
    table = pd.DataFrame(rows).set_index("row")
    assert table.loc["artist_mse_ETTh1", "target"] == "< 0.6" and not table.loc["artist_mse_ETTh1", "target_met"]
    assert table.loc["artist_mse_ETTh2", "target_met"] and table.loc["visionts_mse_ETTh2", "value"] == 0.4
    assert meta["protocol"] == "LTSF"


# ---------------------------------------------------------------------------------------------- the command
def test_help_and_bad_options(tmp_path, capsys, align_run_dir):
    with pytest.raises(SystemExit) as done:
        main(["bench", "align", "--help"])
    assert done.value.code == 0 and "--artist" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["bench", "align", "--series", "many", "--out", str(tmp_path / "out")])
    assert done.value.code == 2 and "invalid int value: 'many'" in capsys.readouterr().err
    for argv, message in [
        (["--series", "1"], "at least 2"),
        (["--photos", "0"], "at least 2"),
        (["--steps", "5"], "give --run too"),
        (["--run", str(align_run_dir), "--steps", "x"], "--steps expects positive integers"),
        (["--run", str(align_run_dir), "--steps", "7"], "have no checkpoint"),
        (["--run", str(tmp_path)], "no complete checkpoint"),
    ]:
        assert main(["bench", "align", *argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("timeartist bench: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bench_align_on_held_out_data(tiny_pipeline_dir, data_root, align_run_dir, tmp_path):
    argv = ["bench", "align", "--photos", "4", "--series", "5", "--heldout-datasets", "ETTh1", "--run", str(align_run_dir),
            "--model", str(tiny_pipeline_dir), "--data-root", str(data_root), "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["command"] == "timeartist " + " ".join(argv)
    frame = pd.DataFrame(written["rows"]).set_index("row")
    assert list(frame.index) == list(ROWS) and all(math.isfinite(v) for v in frame["value"])
    assert frame.loc["fed_ratio_aligned", "n"] == 4 and frame.loc["same_series_share_aligned", "n"] == 5
    assert written["meta"]["same-series chance level"] == 0.2
    assert list(written["meta"]["progression"]["changed_token_share"]) == ["step 1", "step 2"]
    for figure in ("pictures.png", "pairs.png", "progression.png"):
        assert (tmp_path / figure).is_file()
    assert "| fed_ratio_aligned |" in (tmp_path / "results.md").read_text()


def test_validation_windows_choose_test_windows_report(data_root):
    from timeartist.evaluation.alignment import heldout_pairs

    val, val_source = heldout_pairs(["ETTh1"], data_root, 64, 6, split="val")
    test, test_source = heldout_pairs(["ETTh1"], data_root, 64, 6)
    assert val.shape == test.shape == (6, 2, 64) and "val windows" in val_source and "test windows" in test_source
    assert not np.allclose(val, test)
