import numpy as np
import pytest
import torch
from PIL import Image

from timeartist import viz


def test_to_uint8_clamps_and_orders_channels():
    images = torch.zeros(2, 3, 4, 5)
    images[:, 0] = 2.0  # out of range -> clamped to 255
    images[:, 2] = -1.0
    out = viz.to_uint8(images)
    assert out.shape == (2, 4, 5, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 255).all() and (out[..., 2] == 0).all()


def test_to_uint8_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        viz.to_uint8(np.zeros((1, 1, 4, 4)))


def test_figures_are_pngs(tmp_path):
    images = torch.rand(3, 3, 8, 8)
    grid = viz.save_image_grid(images, tmp_path / "grid.png", titles=["a", "b", "c"])
    pairs = viz.save_pairs_plot(images, [np.sin(np.arange(20))] * 3, tmp_path / "pairs.png")
    fc = viz.save_forecast_plot(np.arange(50.0), {"m": np.ones(10)}, tmp_path / "fc.png", truth=np.zeros(10), history_steps=20)
    one = viz.save_image(images[0], tmp_path / "one.png")
    for path in (grid, pairs, fc, one):
        assert Image.open(path).format == "PNG"
    assert Image.open(one).size == (8, 8)
