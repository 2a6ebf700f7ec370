"""The bundled default model: present, small enough to ship, loads strictly, and every path runs."""

from pathlib import Path

import numpy as np

from timeartist import TimeArtistPipeline
from timeartist.pipelines.pipeline import DEFAULT_MODEL_DIR


def test_bundled_model_is_shipped_within_budget():
    files = [p for p in Path(DEFAULT_MODEL_DIR).rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 25 * 2**20
    assert (Path(DEFAULT_MODEL_DIR) / "README.md").is_file()  # the model card


def test_bundled_model_loads_and_runs():
    pipe = TimeArtistPipeline.from_pretrained()
    assert pipe.visual.quantize is pipe.temporal.quantize
    assert pipe.align_t2v is not None and pipe.align_v2t is not None and pipe.outpainter is not None
    t = np.arange(24 * 30)
    series = 10 + np.sin(2 * np.pi * t / 24) + 0.01 * t
    forecast = pipe.forecast(series, 48, period=24)
    assert forecast.shape == (48,) and np.isfinite(forecast).all()
    assert abs(forecast.mean() - series[-240:].mean()) < 2  # in the input's scale
    images = pipe.series_to_image(series[-128:])
    assert images.shape == (1, 3, 64, 64)
    assert pipe.image_to_series(images, length=100).shape == (1, 100)
