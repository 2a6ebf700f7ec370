"""Speed benchmark: a quick run on the tiny pipeline and named errors."""

from __future__ import annotations

import numpy as np
import pytest

from timeartist.evaluation.speed import OPERATIONS, run_speed_bench
from timeartist.pipelines.pipeline import TimeArtistPipeline


def test_quick_run_measures_every_operation(tiny_pipeline_dir, tmp_path):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    frame = run_speed_bench(pipe, tmp_path, batch_sizes=(1,), min_seconds=0.0)
    assert list(frame["operation"]) == [op for op in OPERATIONS if op != "forecast_quantiles"]  # no quantile head here
    assert (frame["items_per_second"] > 0).all() and (frame["calls"] >= 1).all()
    assert np.allclose(frame["ms_per_item"], 1000 / frame["items_per_second"])
    assert (frame["python_peak_mb"] > 0).all() and (frame["process_peak_rss_mb"] > 0).all()
    assert frame.attrs["meta"]["device"] == "cpu"
    for name in ("results.csv", "results.json", "results.md", "throughput.png"):
        assert (tmp_path / name).stat().st_size > 0
    # The benchmark fits its classifier on a copy: the caller's pipeline still has none.
    with pytest.raises(ValueError, match="fit_classifier"):
        pipe.classify(np.sin(np.arange(64.0))[None])


def test_quantiles_are_timed_for_a_pipeline_with_a_quantile_head(tiny_pipeline_dir):
    from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig

    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    pipe.outpainter = MAEOutpainter(OutpainterConfig(image_size=(8, 32), patch_size=(8, 1), width=32, depth=1, decoder_depth=1, heads=2,
                                                     quantile_levels=(0.1, 0.5, 0.9)))  # fmt: skip
    frame = run_speed_bench(pipe, batch_sizes=(2,), operations=("forecast_visionts", "forecast_quantiles"), min_seconds=0.0)
    assert list(frame["operation"]) == ["forecast_visionts", "forecast_quantiles"] and (frame["items_per_second"] > 0).all()


def test_rows_per_batch_size_in_increasing_order(tiny_pipeline_dir):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    frame = run_speed_bench(pipe, batch_sizes=(4, 1), operations=("image_to_series",), min_seconds=0.0)
    assert list(frame["batch_size"]) == [1, 4]
    assert np.allclose(frame["items_per_second"], frame["batch_size"] / frame["seconds_per_call"])


def test_bad_arguments_are_named(tiny_pipeline_dir):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    with pytest.raises(ValueError, match="unknown operations.*available: series_to_image"):
        run_speed_bench(pipe, operations=("decode",))
    with pytest.raises(ValueError, match="batch sizes must be positive integers"):
        run_speed_bench(pipe, batch_sizes=(0,))
    with pytest.raises(ValueError, match="runs on cpu, not meta"):
        run_speed_bench(pipe, device="meta")
