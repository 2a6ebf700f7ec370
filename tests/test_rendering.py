"""VisionTS periodic rendering: layouts, and the context survives a render / read-back round trip."""

import math

import pytest
import torch

from timeartist.pipelines.rendering import normalise, plan_layout, read_back, render


def test_native_round_trip_is_exact_when_rows_equal_the_period():
    # An identity "outpainter" (the canvas comes back unchanged) must give the context back exactly.
    context = torch.randn(3, 100)
    layout = plan_layout(100, 48, 24, image_size=(24, 16), patch_size=(24, 1), align_const=None)
    assert layout.pad_left == 20 and layout.visible_cols == 5 and layout.native
    images = render(context, layout)
    assert images.shape == (3, 3, 24, 16)
    assert torch.equal(images[..., 5:], torch.zeros_like(images[..., 5:]))  # right part left to the outpainter
    back = read_back(images, layout)
    assert back.shape == (3, 148)
    torch.testing.assert_close(back[:, :100], context)


def test_native_render_with_future_draws_the_target_columns():
    context, future = torch.randn(2, 96), torch.randn(2, 48)
    layout = plan_layout(96, 48, 24, image_size=(24, 8), patch_size=(24, 1), align_const=None)
    back = read_back(render(context, layout, future=future), layout)
    torch.testing.assert_close(back, torch.cat([context, future], dim=-1))


def test_native_layout_pads_to_whole_patches_and_refuses_what_does_not_fit():
    layout = plan_layout(50, 24, 24, image_size=(24, 12), patch_size=(24, 2), align_const=None)
    assert layout.pad_left + 50 == 96 and layout.visible_cols == 2  # 4 periods in 2 column pairs
    with pytest.raises(ValueError, match="do not fit"):
        plan_layout(24 * 20, 24 * 5, 24, image_size=(24, 16), patch_size=(24, 1), align_const=None)


def test_visionts_layout_matches_the_reference_formula():
    # ETTh1 in VisionTS: context 2880, period 24, horizon 96 on a 224x224 MAE with 16x16 patches.
    layout = plan_layout(2880, 96, 24, image_size=(224, 224), patch_size=(16, 16), align_const=0.4)
    assert layout.visible_cols == math.floor(120 / 124 * 14 * 0.4) == 5
    assert layout.canvas_periods == round(224 * 120 / 80)
    assert not layout.native


def test_visionts_round_trip_of_a_smooth_series_is_close():
    t = torch.arange(960, dtype=torch.float32)
    context = torch.stack([torch.sin(2 * math.pi * t / 24), torch.cos(2 * math.pi * t / 24) + t / 960])
    layout = plan_layout(960, 96, 24, image_size=(224, 224), patch_size=(16, 16), align_const=0.4)
    back = read_back(render(context, layout), layout)[:, :960]
    assert (back - context)[:, 48:-48].abs().max() < 0.05  # resampling blurs only the edges


def test_normalise_gives_norm_const_std_and_inverts():
    x = torch.randn(4, 200, dtype=torch.float64) * 50 + 7
    z, mean, scale = normalise(x, 0.4)
    torch.testing.assert_close(z.std(dim=-1, unbiased=False), torch.full((4,), 0.4, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(z * scale + mean, x)


def test_bad_input_is_a_clear_error():
    layout = plan_layout(48, 24, 24, image_size=(24, 8), patch_size=(24, 1), align_const=None)
    with pytest.raises(ValueError, match="context must have shape"):
        render(torch.randn(2, 47), layout)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        plan_layout(48, 0, 24, image_size=(24, 8), patch_size=(24, 1))
    with pytest.raises(ValueError, match="align_const"):
        plan_layout(48, 24, 24, image_size=(224, 224), patch_size=(16, 16), align_const=1.5)
