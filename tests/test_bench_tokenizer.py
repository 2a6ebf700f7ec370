"""Tokenizer benchmark: the equal-bit DCT accounting by hand, and a quick run on the tiny pipeline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.fft import idct
from threadpoolctl import threadpool_limits

from timeartist.evaluation.tokenizer import DCTCode, choose_dct_code, largest_keep, run_tokenizer_bench
from timeartist.pipelines.pipeline import TimeArtistPipeline


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
    # The default model's budget: 16 tokens x log2(256) = 128 bits for 128 steps.
    assert largest_keep(128, 16 * math.log2(256), 4, adaptive=False) == 32


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


def test_quick_run_on_the_tiny_pipeline(tiny_pipeline_dir, data_root, tmp_path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    with threadpool_limits(1, user_api="blas"):  # two OpenBLAS threads on 2 busy cores make the FED eigh 40x slower
        frame = run_tokenizer_bench(data_root, pipe, tmp_path, datasets=("ETTh1",), quick=True)
    series = frame[frame["part"] == "series"].pivot_table(index="method", columns="metric", values="value")
    token_bits = 8 * math.log2(64)  # tiny pipeline: 8 tokens, codebook 64
    assert series.loc["tokenizer", "bits"] == token_bits
    dct = [m for m in series.index if m.startswith("dct")]
    assert len(dct) == 1 and series.loc[dct[0], "bits"] <= token_bits
    assert np.isfinite(series[["mse", "mae"]].to_numpy()).all()
    image = frame[frame["part"] == "image"].set_index("metric")["value"]
    assert set(image.index) == {"psnr", "ssim", "fed"} and image["fed"] >= 0
    codebook = frame[(frame["part"] == "codebook")]
    assert set(codebook["data"]) == {"series (ETTh1 test)", "heldout images"}
    usage = codebook[codebook["metric"].str.endswith("usage")]["value"]
    assert usage.between(0, 1).all() and {"head0_perplexity", "head1_perplexity"} <= set(codebook["metric"])
    for name in ("tokenizer.csv", "tokenizer.json", "tokenizer.md", "reconstructions.png", "series_ETTh1.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "tokenizer.csv")) == len(frame)
    assert json.loads((tmp_path / "tokenizer.json").read_text())["meta"]["quick"] is True


def test_bad_inputs_are_named(tiny_pipeline_dir, data_root, tmp_path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    with pytest.raises(FileNotFoundError, match="known dataset name.*etth1"):
        run_tokenizer_bench(data_root, pipe, datasets=("NoSuchSet",))
    with pytest.raises(FileNotFoundError, match="data root not found"):
        run_tokenizer_bench(tmp_path / "missing", pipe, datasets=("ETTh1",))
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        run_tokenizer_bench(data_root, pipe, datasets=("ETTh1",), inception_weights=tmp_path / "none.pt")


def test_bottleneck_script_compares_codes_with_continuous_latents(tiny_pipeline_dir, data_root, bench_script):
    results = bench_script("tokenizer_bottleneck").main(
        ["--model", str(tiny_pipeline_dir), "--config", str(Path(__file__).resolve().parents[1] / "configs" / "tiny" / "warmup.yaml"), "--data-root", str(data_root), "--limit", "8"]
    )
    assert set(results) == {"series", "images"}
    assert results["series"]["n"] == 8 and results["series"]["quantised"] > 0 and results["series"]["continuous"] > 0
    assert results["images"]["block_8x8"] < results["images"]["mean_colour"]  # finer references reconstruct better
