"""Hugging Face ViTMAE outpainter: loads offline from a local folder, masks exactly the right-side columns."""

import json

import pytest
import torch
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from timeartist.models.hf_mae import HFMAEOutpainter
from timeartist.models.outpainting import Outpainter, right_mask_noise

SIZE, PATCH = 32, 8  # a 4 x 4 patch grid


def _tiny_config(**overrides) -> ViTMAEConfig:
    sizes = dict(
        image_size=SIZE, patch_size=PATCH, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=64,
    )
    return ViTMAEConfig(**{**sizes, **overrides})


@pytest.fixture(scope="module")
def mae_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vit_mae")
    ViTMAEForPreTraining(_tiny_config()).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def outpainter(mae_dir):
    return HFMAEOutpainter.from_pretrained(mae_dir)


def test_implements_protocol(outpainter):
    assert isinstance(outpainter, Outpainter)
    assert outpainter.image_size == (SIZE, SIZE) and outpainter.patch_size == (PATCH, PATCH)
    assert not outpainter.mae.training


@pytest.mark.parametrize("visible_cols", [1, 3])
def test_keeps_visible_columns_and_predicts_the_rest(outpainter, visible_cols):
    images = torch.rand(3, 3, SIZE, SIZE)
    out = outpainter.outpaint(images, visible_cols)
    edge = visible_cols * PATCH
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.equal(out[..., :edge], images[..., :edge])
    assert not torch.allclose(out[..., edge:], images[..., edge:])
    assert torch.equal(outpainter.outpaint(images, visible_cols), out)  # deterministic


def test_masked_pixels_do_not_leak_into_the_prediction(outpainter):
    images = torch.rand(2, 3, SIZE, SIZE)
    changed = images.clone()
    changed[..., 2 * PATCH :] = torch.rand(2, 3, SIZE, SIZE - 2 * PATCH)
    torch.testing.assert_close(outpainter.outpaint(changed, 2), outpainter.outpaint(images, 2))


def test_prediction_is_denormalised_with_image_stats(mae_dir):
    """Same network, different input normalisation: the predicted pixels move by the affine map."""
    mae = HFMAEOutpainter.from_pretrained(mae_dir).mae
    plain = HFMAEOutpainter(mae, image_mean=(0.0, 0.0, 0.0), image_std=(1.0, 1.0, 1.0))
    scaled = HFMAEOutpainter(mae, image_mean=(0.5, 0.5, 0.5), image_std=(2.0, 2.0, 2.0))
    images = torch.rand(1, 3, SIZE, SIZE)
    torch.testing.assert_close(scaled.outpaint(images * 2 + 0.5, 2)[..., 16:], plain.outpaint(images, 2)[..., 16:] * 2 + 0.5)


def test_norm_pix_variant_rescales_to_visible_statistics(mae_dir):
    outpainter = HFMAEOutpainter.from_pretrained(mae_dir, norm_pix=True)
    images = torch.rand(2, 3, SIZE, SIZE)
    bright = outpainter.outpaint(images * 0.1 + 0.8, 2)
    dark = outpainter.outpaint(images * 0.1, 2)
    assert bright[..., 2 * PATCH :].mean() > dark[..., 2 * PATCH :].mean() + 0.5
    assert torch.equal(bright[..., : 2 * PATCH], images[..., : 2 * PATCH] * 0.1 + 0.8)


def test_reads_processor_normalisation(mae_dir, tmp_path):
    for f in mae_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.25] * 3}))
    outpainter = HFMAEOutpainter.from_pretrained(tmp_path)
    assert outpainter.image_mean.flatten().tolist() == [0.5] * 3
    assert outpainter.image_std.flatten().tolist() == [0.25] * 3


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFMAEOutpainter.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        HFMAEOutpainter.from_pretrained(tmp_path)


def test_bad_inputs(outpainter):
    with pytest.raises(ValueError, match="expected canvases"):
        outpainter.outpaint(torch.rand(1, 3, SIZE, SIZE + PATCH), 1)
    for cols in (0, SIZE // PATCH + 1):
        with pytest.raises(ValueError, match="visible_cols"):
            outpainter.outpaint(torch.rand(1, 3, SIZE, SIZE), cols)
    assert outpainter.mae.config.mask_ratio == ViTMAEConfig().mask_ratio  # restored after every call


def test_rejects_non_rgb_models():
    with pytest.raises(ValueError, match="3 input channels"):
        HFMAEOutpainter(ViTMAEForPreTraining(_tiny_config(num_channels=1)))


def test_right_mask_noise_orders_visible_columns_first():
    grid_h, grid_w, visible = 3, 5, 2
    noise = right_mask_noise(2, (grid_h, grid_w), visible)
    kept = noise[0].argsort()[: visible * grid_h]
    assert sorted((kept % grid_w).tolist()) == [0] * grid_h + [1] * grid_h
    assert noise.shape == (2, grid_h * grid_w) and len(set(noise[0].tolist())) == grid_h * grid_w
