"""Tokenizer benchmark: the equal-bit references and code-space metrics by hand, and one quick CLI run on a tiny
pipeline (structure, not model numbers)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy.fft import idct
from threadpoolctl import threadpool_limits

from timeartist.cli import main
from timeartist.evaluation.code_space import grows_monotonically, monotone_share
from timeartist.evaluation.heldout import evenly_spaced, random_views, stride_for, zscore_windows
from timeartist.evaluation.image_metrics import GaussianStats, fed_of_features, frechet_distance, mean_pairwise_distance
from timeartist.evaluation.series_dct_validation import band_errors
from timeartist.evaluation.style_paths import styled
from timeartist.evaluation.references import MEAN_COLOUR, BlockAverageCode, DCTCode, block_average_code, choose_dct_code, largest_keep, uniform_quantise
from timeartist.evaluation.tokenizer import HEADLINES, run_tokenizer_bench, summary_table
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.pipelines.pipeline import TimeArtistPipeline


# ---------------------------------------------------------------------------------------------- series reference
def test_dct_bit_accounting_by_hand():
    # Adaptive: which 2 of the 7 AC coefficients of an 8-step window -> one of C(7, 2) = 21 subsets -> 5 bits.
    top = DCTCode(length=8, keep=2, value_bits=3, clip=1.0, adaptive=True)
    assert top.support_bits == 5 and top.bits == 2 * 3 + 5
    # Low-pass: the decoder knows the kept coefficients are the first k, so only the values cost bits.
    assert DCTCode(length=8, keep=3, value_bits=3, clip=1.0, adaptive=False).bits == 9
    # 11 bits at 3 bits per value: low-pass fits 3 values (9 bits; 4 would need 12); adaptive fits 2
    # (11 bits; 3 would need 9 + ceil(log2 C(7, 3) = 35) = 15).
    assert largest_keep(8, 11, 3, adaptive=False) == 3
    assert largest_keep(8, 11, 3, adaptive=True) == 2
    # The default code space: 64 tokens x log2(4096) = 768 bits for 512 steps.
    assert largest_keep(512, 64 * math.log2(4096), 4, adaptive=False) == 192


def test_dct_quantiser_and_reconstruction():
    code = DCTCode(length=8, keep=1, value_bits=1, clip=2.0, adaptive=False)
    # One bit over [-2, 2]: two cells with centres -1 and +1; values beyond the range are clipped.
    assert np.array_equal(code.quantise(np.array([-5.0, -0.1, 0.1, 7.0])), [-1.0, -1.0, 1.0, 1.0])
    # A window made of the first AC basis vector with amplitude 1 (a cell centre) comes back exactly.
    coefficients = np.zeros((1, 8))
    coefficients[0, 1] = 1.0
    window = idct(coefficients, norm="ortho", axis=-1)
    assert np.allclose(code.reconstruct(window), window)
    # A coefficient the code does not keep is lost.
    coefficients[0, 5] = 1.0
    assert not np.allclose(code.reconstruct(idct(coefficients, norm="ortho", axis=-1)), idct(coefficients, norm="ortho", axis=-1))


def test_choose_dct_code_stays_within_the_budget_and_picks_the_best_train_mse():
    rng = np.random.default_rng(0)
    windows = np.cumsum(rng.standard_normal((64, 32)), axis=1)
    windows = (windows - windows.mean(1, keepdims=True)) / windows.std(1, keepdims=True)
    code, table = choose_dct_code(windows, budget=40.0)
    assert code.bits <= 40 and (table["bits"] <= 40).all()
    assert set(table["variant"]) == {"first", "top"}
    best = table.loc[table["train_mse"].idxmin()]
    assert (code.keep, code.value_bits, code.adaptive) == (best["keep"], best["value_bits"], best["variant"] == "top")


# ---------------------------------------------------------------------------------------------- image reference
def test_block_average_spends_the_token_bits_on_the_token_grid():
    # 64 tokens x 12 bits = 768 bits: the 8x8 grid, 3 channels x 64 cells x 4 bits = 768 bits exactly.
    code = block_average_code(64 * math.log2(4096), tokens=64)
    assert (code.grid, code.value_bits, code.bits) == (8, 4, 768)
    # The tiny pipeline: 8 tokens x 6 bits = 48 bits -> a 2x2 grid (floor(sqrt(8))) x 3 channels x 4 bits.
    assert block_average_code(48, tokens=8).bits == 48
    # Never over budget: 10 bits do not fit 8x8 (or any grid but 1x1) at 1 bit, so the mean colour at 3 bits.
    small = block_average_code(10, tokens=64)
    assert (small.grid, small.value_bits) == (1, 3) and small.bits <= 10
    assert MEAN_COLOUR.bits == 24 and "mean colour" in MEAN_COLOUR.name
    with pytest.raises(ValueError, match="does not fit"):
        block_average_code(2, tokens=64)


def test_block_average_reconstruction():
    # Cells already at quantiser cell centres (4 bits over [0, 1]: (i + 0.5) / 16) come back as the cell means.
    code = BlockAverageCode(grid=2, value_bits=4)
    levels = (torch.tensor([[[1, 5], [9, 15]]], dtype=torch.float32) + 0.5) / 16  # (1, 2, 2)
    images = levels.repeat_interleave(8, dim=1).repeat_interleave(8, dim=2).expand(3, 16, 16)[None]  # (1, 3, 16, 16)
    out = code.reconstruct(images)
    # Bilinear upsampling blends neighbouring cells in between but keeps each cell's value at the image corners.
    corners = out[..., [0, 0, -1, -1], [0, -1, 0, -1]]  # (1, 3, 4)
    assert out.shape == images.shape and torch.allclose(corners, levels.flatten()[None, None].expand(1, 3, 4))
    # The mean colour: a flat image of each channel's quantised mean.
    flat = MEAN_COLOUR.reconstruct(images)
    assert torch.allclose(flat, flat[..., :1, :1].expand_as(flat)) and torch.allclose(flat.mean(), images.mean(), atol=1 / 256)


def test_uniform_quantiser_is_the_same_for_numpy_and_torch():
    values = np.array([-0.5, 0.0, 0.1, 0.49, 0.5, 0.99, 1.0, 3.0])
    expected = [0.125, 0.125, 0.125, 0.375, 0.625, 0.875, 0.875, 0.875]  # 2 bits over [0, 1]: centres 1/8, 3/8, ...
    assert np.allclose(uniform_quantise(values, 2, 0.0, 1.0), expected)
    assert torch.allclose(uniform_quantise(torch.from_numpy(values), 2, 0.0, 1.0), torch.tensor(expected, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------- code-space metrics
def test_growth_allows_only_a_tiny_step_down_and_needs_a_rise():
    assert grows_monotonically([1.0, 2.0, 3.0]) and grows_monotonically([1.0, 1.0, 3.0])
    assert not grows_monotonically([1.0, 3.0, 2.0])
    assert grows_monotonically([1.0, 3.0, 2.99])  # 0.01 down is within 1% of the largest value
    assert not grows_monotonically([1.0, 3.0, 2.99], tolerance=0.0)
    assert not grows_monotonically([2.0, 2.0, 2.0]) and not grows_monotonically([2.0, 2.001, 2.01])  # flat: style did nothing
    curves = np.array([[[1, 2, 3], [3, 2, 1]], [[2, 2, 2], [1, 0, 2]]], dtype=float)  # (photos 2, series 2, alphas 3)
    assert monotone_share(curves) == 0.25


def test_feature_spread_and_fed_on_constructed_features():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # Three points: distances 5, 5 and 6 -> mean 16 / 3.
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0], [-3.0, 4.0]])) == pytest.approx(16 / 3)
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(torch.zeros(1, 4))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3))
    assert fed_of_features(a, a) == pytest.approx(0.0, abs=1e-6)
    assert fed_of_features(a, a + np.array([2.0, 0.0, 0.0])) == pytest.approx(4.0, rel=1e-6)  # a mean shift of 2
    # Fewer vectors than dimensions: the small-matrix route gives the full D x D computation's value.
    x, y = rng.standard_normal((6, 40)), 2 * rng.standard_normal((9, 40)) + 1
    stats = [GaussianStats(), GaussianStats()]
    stats[0].update(x)
    stats[1].update(y)
    assert fed_of_features(x, y) == pytest.approx(frechet_distance(stats[0].mean, stats[0].cov, stats[1].mean, stats[1].cov), rel=1e-6)


def test_heldout_window_selection():
    # Two splits of (channels, steps): the largest stride giving at least the wanted windows of 8 steps.
    assert stride_for([(2, 40), (1, 24)], length=8, wanted=6) == 8  # 2 x 5 + 3 = 13 windows without overlap
    assert stride_for([(2, 40), (1, 24)], length=8, wanted=20) == 4  # 2 x 9 + 5 = 23 at stride 4, 19 at stride 5
    assert stride_for([(1, 8)], length=8, wanted=5) == 1  # never enough: as many as possible
    windows, kept = zscore_windows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    assert kept.tolist() == [True, False] and np.allclose(windows[0], [-1.2247449, 0.0, 1.2247449])
    assert evenly_spaced(10, 3).tolist() == [0, 4, 9] and evenly_spaced(2, 5).tolist() == [0, 1]


def test_random_views_are_seeded(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for i in range(2):
        files.append(tmp_path / f"photo{i}.png")
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(files[-1])
    views = random_views(files, size=16, count=5, seed=3)
    assert views.shape == (5, 3, 16, 16)
    torch.manual_seed(123)  # the global RNG does not matter
    assert torch.equal(views, random_views(files, size=16, count=5, seed=3))
    assert not torch.equal(views, random_views(files, size=16, count=5, seed=4))


def test_summary_puts_previous_values_beside_the_new_ones():
    frame = pd.DataFrame([
        {"part": "image", "data": "held-out ImageNet", "method": "tokenizer", "metric": "psnr", "value": 23.0, "n": 49},
        {"part": "series", "data": "ETTh1", "method": "tokenizer", "metric": "mse_ratio_to_dct", "value": 0.8, "n": 1},
        {"part": "series", "data": "ETTh2", "method": "tokenizer", "metric": "mse_ratio_to_dct", "value": 0.9, "n": 1},
        {"part": "series", "data": "ETTh1", "method": "tokenizer", "metric": "mse", "value": 0.1, "n": 1},  # not a headline
        {"part": "codebook", "data": "images + series", "method": "tokens", "metric": "usage", "value": 0.5, "n": 1},  # nor this
    ])  # fmt: skip
    previous = frame.iloc[[0]].assign(value=14.0)
    table = summary_table(frame, previous)
    assert list(table.columns) == ["what", "data", "value", "required", "previous"]
    assert table["value"].tolist() == [23.0, 0.8, 0.9] and table["data"].tolist() == ["held-out ImageNet", "ETTh1", "ETTh2"]
    assert table["previous"].iloc[0] == 14.0 and table["previous"].iloc[1:].isna().all()
    assert table["required"].iloc[0] == next(h[-1] for h in HEADLINES if h[4] == "psnr")


# ---------------------------------------------------------------------------------------------- whole runs
PARTS = ["image", "codebook", "series", "round trip", "distinct", "style", "generation", "speed", "assets"]


@pytest.fixture(scope="module")
def imagenet_model_dir(tiny_pipeline_dir, tmp_path_factory) -> Path:
    """The tiny pipeline with a generator that knows the 1000 ImageNet classes of the sample photos."""
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    torch.manual_seed(0)
    pipe.generator = TokenGenerator(TokenGeneratorConfig(codebook_size=64, image_seq_len=8, condition_num_classes=1000, hidden_size=32,
                                                         num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))  # fmt: skip
    return pipe.save_pretrained(tmp_path_factory.mktemp("imagenet_pipeline"))


def test_quick_cli_run_reports_every_part(imagenet_model_dir, data_root, tmp_path, capsys):
    out = tmp_path / "bench"
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"rows": [{"part": "image", "data": "held-out ImageNet", "method": "tokenizer", "metric": "psnr", "value": 13.8}]}))
    with threadpool_limits(1, user_api="blas"):  # two OpenBLAS threads on 2 busy cores make the FED eigh 40x slower
        code = main(["bench", "tokenizer", "--quick", "--model", str(imagenet_model_dir), "--data-root", str(data_root),
                     "--datasets", "ETTh1", "--out", str(out), "--previous", str(previous)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    frame = pd.read_csv(out / "results.csv")
    assert list(dict.fromkeys(frame["part"])) == PARTS
    value = frame.set_index(["part", "data", "method", "metric"])["value"]
    # Equal bits: tokens 8 x log2(64) = 48; the DCT code and the block average spend at most that.
    assert value["series", "ETTh1", "tokenizer", "bits"] == 48
    bits = frame[frame["metric"] == "bits"]["value"]
    assert (bits <= 48).all()
    image = frame[(frame["part"] == "image") & (frame["method"] == "tokenizer")].set_index("metric")["value"]
    block = frame[frame["method"].str.startswith("block average")].set_index("metric")["value"]
    assert image["psnr_gain_vs_block_average"] == pytest.approx(image["psnr"] - block["psnr"])
    # Codebook use over at least 2 x K tokens (quick), images and series in the one codebook of 64 codes.
    codebook = frame[frame["part"] == "codebook"].pivot_table(index="data", columns="metric", values="value")
    assert set(codebook.index) == {"held-out images", "held-out series", "images + series"}
    assert (codebook["tokens_per_code"] >= 2).all() and codebook["usage"].between(0, 1).all()
    assert set(frame[frame["part"] == "round trip"]["method"]) == {"series tokenizer", "aligned", "unaligned"}
    ratio = frame[(frame["part"] == "distinct") & (frame["metric"] == "ratio_to_photos")]
    assert set(ratio["method"]) == {"aligned images", "unaligned images"} and (ratio["value"] >= 0).all()
    style = frame[frame["part"] == "style"].set_index("metric")["value"]
    assert {"distance@alpha=0", "distance@alpha=0.5", "distance@alpha=1"} <= set(style.index) and 0 <= style["monotone_share"] <= 1
    mean_curve = style[[f"distance@alpha={a:g}" for a in (0, 0.5, 1)]].to_numpy()
    assert style["mean_monotone"] == float(grows_monotonically(mean_curve))
    generation = frame[frame["part"] == "generation"].set_index(["method", "metric"])["value"]
    assert generation["generated", "fed_ratio_to_reconstructions"] == pytest.approx(
        generation["generated", "fed"] / generation["tokenizer reconstructions (training photos)", "fed"])
    assert (frame[frame["part"] == "speed"]["value"] > 0).all()
    assert frame[frame["part"] == "assets"]["value"].iloc[0] > 0
    for name in ("results.json", "results.md", "reconstructions.png", "series_ETTh1.png", "round_trip.png", "series_images.png",
                 "style_strip.png", "generated.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["quick"] is True and results["command"].startswith("timeartist bench tokenizer --quick")
    report = (out / "results.md").read_text()
    assert "## Summary" in report and "| previous |" in report and "13.800" in report and "not Inception FID" in report


def test_bad_inputs_are_named(tiny_pipeline_dir, data_root, tmp_path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    with pytest.raises(FileNotFoundError, match="known dataset name.*etth1"):
        run_tokenizer_bench(data_root, pipe, datasets=("NoSuchSet",))
    with pytest.raises(FileNotFoundError, match="known dataset name.*etth1"):
        run_tokenizer_bench(data_root, pipe, heldout_datasets=("NoSuchSet",))
    with pytest.raises(FileNotFoundError, match="data root not found"):
        run_tokenizer_bench(tmp_path / "missing", pipe, datasets=("ETTh1",))
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        run_tokenizer_bench(data_root, pipe, datasets=("ETTh1",), inception_weights=tmp_path / "none.pt")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a results.json"):
        run_tokenizer_bench(data_root, pipe, previous=tmp_path / "bad.json")


def test_bottleneck_compares_codes_with_continuous_latents(tiny_pipeline_dir, data_root, tmp_path):
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny" / "warmup.yaml"
    argv = ["bench", "bottleneck", "--model", str(tiny_pipeline_dir), "--config", str(config), "--data-root", str(data_root), "--limit", "8"]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    mse = pd.read_csv(tmp_path / "results.csv").set_index(["data", "reconstruction"])["mse"]
    assert set(mse.index.get_level_values(0)) == {"series", "images"} and (mse > 0).all()
    assert mse["images", "8x8 block average"] < mse["images", "mean colour"]  # finer references reconstruct better
    assert (tmp_path / "bottleneck.png").stat().st_size > 0


@pytest.mark.parametrize("path", ["blend", "renormalised", "requantised", "replaced", "crossfade"])
def test_every_style_path_runs_from_the_reconstruction_to_the_series_picture(tiny_pipeline_dir, path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    visual = pipe.visual
    photos = torch.rand(2, 3, visual.image_size, visual.image_size)
    series = np.sin(np.linspace(0, 20, pipe.temporal.seq_len))[None].repeat(2, 0) * np.array([[1.0], [-2.0]])
    with torch.no_grad():
        q_image = visual._tokens_to_codes(visual.encode(photos)[1])
        q_series = visual._tokens_to_codes(pipe.temporal.encode(torch.from_numpy(series).float())[1])
        start, middle, end = (styled(visual, path, q_image, q_series, a) for a in (0.0, 0.5, 1.0))
        torch.testing.assert_close(start, visual._decode_codes(q_image).clamp(0, 1))
        torch.testing.assert_close(end, visual._decode_codes(q_series).clamp(0, 1))
    assert middle.shape == start.shape and not torch.equal(middle, start)
    with pytest.raises(ValueError, match="unknown path"):
        styled(visual, "sideways", q_image, q_series, 0.5)


def test_series_dct_validation_bands_split_the_mse():
    rng = np.random.default_rng(0)
    windows, reconstruction = rng.normal(size=(5, 512)), rng.normal(size=(5, 512))
    bands = band_errors(reconstruction, windows)
    assert list(bands) == ["0-7", "8-31", "32-63", "64-127", "128-511"]
    assert sum(bands.values()) == pytest.approx(np.mean((reconstruction - windows) ** 2))  # orthonormal DCT: Parseval
    smooth = windows + np.cos(np.pi * (np.arange(512) + 0.5) * 2 / 512)  # an error only in coefficient 2
    assert band_errors(smooth, windows)["0-7"] == pytest.approx(np.mean((smooth - windows) ** 2))
