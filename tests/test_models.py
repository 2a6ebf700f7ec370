"""Tokenizers, shared code space and alignment on the tiny configs: shapes, gradients, checkpoints, bad input."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from safetensors.torch import save_file

from timeartist.hub import CheckpointError
from timeartist.models import (
    AdapterAlignment,
    AdapterAlignmentConfig,
    TimeArtist,
    TimeArtistConfig,
    VisionModel,
    VisionModelConfig,
)
from timeartist.modules.pixel_decoder import ResnetBlock
from timeartist.modules.quantizer import MultiHeadQuantizer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = OmegaConf.load(CONFIGS / "tiny" / "timeartist_tiny.yaml")
TINY_ALIGN = OmegaConf.load(CONFIGS / "tiny" / "timeartist_tiny_align.yaml")
TINY_LEGACY = OmegaConf.load(CONFIGS / "tiny" / "vision_tiny_legacy.yaml")


@pytest.fixture
def pair():
    """Tiny series and image tokenizers sharing one quantizer."""
    series = TimeArtist(TINY)
    return series, VisionModel(TINY, quantizer=series.quantize)


def test_tiny_shapes_from_seed_yaml(pair):
    series, vision = pair
    x, image = torch.randn(3, 64), torch.rand(2, 3, 32, 32)
    q, ids = series.encode(x)
    assert q.shape == (3, 4, 1, 8) and ids.shape == (3, 1, 8) and ids.dtype == torch.long
    x_hat, result = series(x)
    assert x_hat.shape == (3, 64)
    assert set(result) == {"quantizer_loss", "commitment_loss", "codebook_loss", "min_encoding_indices", "latents"}
    assert result["latents"].shape == (3, 4, 1, 8) and result["quantizer_loss"].ndim == 0
    assert series.decode_tokens(ids).shape == series.decode_tokens(ids[:, 0]).shape == (3, 64)

    q_img, ids_img = vision.encode(image)
    assert q_img.shape == (2, 4, 1, 8) and ids_img.shape == (2, 1, 8)
    assert vision(image)[0].shape == vision.decode_tokens(ids_img).shape == (2, 3, 32, 32)
    assert int(ids.max()) < 64 and int(ids_img.max()) < 64


def test_tiny_legacy_route_shapes():
    model = VisionModel(TINY_LEGACY)
    assert model.decoder(model.encode(torch.rand(2, 3, 32, 32))[0]).shape == (2, 16, 4, 4)  # proxy-code logits
    assert model(torch.rand(2, 3, 32, 32))[0].shape == (2, 3, 32, 32)


def test_shared_quantizer_converts_between_modalities(pair):
    series, vision = pair
    assert vision.quantize is series.quantize
    q_series, ids_series = series.encode(torch.randn(2, 64))
    q_image, _ = vision.encode(torch.rand(2, 3, 32, 32))
    assert vision.decode(q_series).shape == (2, 3, 32, 32)  # series -> image, before alignment
    assert series.decode(q_image).shape == (2, 64)  # image -> series
    # ids and codes agree across the two models: the same lookup
    torch.testing.assert_close(vision.decode_tokens(ids_series), vision.decode(q_series))
    with pytest.raises(ValueError, match="shared quantizer"):
        VisionModel(TINY_LEGACY, quantizer=MultiHeadQuantizer(codebook_size=64, token_size=4, heads=1))


def _flat_tiny() -> dict:
    return {"seq_len": 64, "vit_enc_patch_size": 8, "vit_dec_patch_size": 8, "num_latent_tokens": 8, "token_size": 4,
            "codebook_size": 64, "quantizer_heads": 2, "head_codebook_sizes": (8, 8), "vit_enc_model_size": "tiny", "vit_dec_model_size": "tiny"}


def test_gradients_reach_both_encoders_through_the_quantizer(pair):
    series, vision = pair
    x, image = torch.randn(4, 64), torch.rand(2, 3, 32, 32)
    x_hat, res_t = series(x)
    image_hat, res_v = vision(image)
    loss = F.mse_loss(x_hat, x) + F.mse_loss(image_hat, image) + res_t["quantizer_loss"] + res_v["quantizer_loss"]
    loss.backward()
    for model in (series, vision):
        for p in (model.encoder.patch_embed.weight, model.encoder.transformer[0].attn.in_proj_weight, model.latent_tokens):
            assert p.grad is not None and p.grad.abs().sum() > 0
    assert series.quantize.codebooks[0].weight.grad.abs().sum() > 0


def test_decode_multi_tokens_alpha_weights_the_series_codes(pair):
    series, vision = pair
    ids_s = torch.randint(0, 64, (2, 8))
    ids_i = torch.randint(0, 64, (2, 1, 8))
    for model in (series, vision):
        torch.testing.assert_close(model.decode_multi_tokens(ids_s, ids_i, 1.0), model.decode_tokens(ids_s))
        torch.testing.assert_close(model.decode_multi_tokens(ids_s, ids_i, 0.0), model.decode_tokens(ids_i))
    codes = series.quantize.get_codebook_entry
    blend = (0.3 * codes(ids_s) + 0.7 * codes(ids_i[:, 0])).permute(0, 2, 1).unsqueeze(2)  # no re-normalisation
    torch.testing.assert_close(vision.decode_multi_tokens(ids_s, ids_i, 0.3), vision.decode(blend))
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        vision.decode_multi_tokens(ids_s, ids_i, 1.5)


def _assert_same_outputs(a, b, x):
    a.eval(), b.eval()
    with torch.no_grad():
        out_a, out_b = a(x), b(x)
    assert torch.equal(out_a if torch.is_tensor(out_a) else out_a[0], out_b if torch.is_tensor(out_b) else out_b[0])


@pytest.mark.parametrize(
    "build, x",
    [
        (lambda: TimeArtist(TINY), torch.randn(2, 64)),
        (lambda: VisionModel(TINY), torch.rand(2, 3, 32, 32)),
        (lambda: VisionModel(TINY_LEGACY), torch.rand(2, 3, 32, 32)),
        (lambda: AdapterAlignment(TINY_ALIGN), torch.randint(0, 64, (2, 8))),
    ],
)
def test_save_load_round_trip_is_bit_exact(tmp_path, build, x):
    model = build()
    loaded = type(model).from_pretrained(model.save_pretrained(tmp_path / "ckpt"))
    assert loaded.config == model.config
    state, again = model.state_dict(), loaded.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    _assert_same_outputs(model, loaded, x)


def test_shared_quantizer_models_save_and_load(tmp_path, pair):
    series, vision = pair
    loaded = VisionModel.from_pretrained(vision.save_pretrained(tmp_path / "vision"))
    assert torch.equal(loaded.quantize.codebook, series.quantize.codebook)


def test_seed_layout_folder_loads(tmp_path):
    """The seed's Hugging Face folders hold the whole training config as config.json."""
    model = TimeArtist(TINY).eval()
    (tmp_path / "config.json").write_text(json.dumps(OmegaConf.to_container(TINY)))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "model.safetensors"))
    loaded = TimeArtist.from_pretrained(tmp_path)
    assert loaded.config == model.config
    _assert_same_outputs(model, loaded, torch.randn(2, 64))


def test_mismatched_checkpoint_is_refused(tmp_path):
    path = TimeArtist(TINY).save_pretrained(tmp_path / "series")
    (path / "config.json").write_text((path / "config.json").read_text().replace('"token_size": 4', '"token_size": 6'))
    with pytest.raises(CheckpointError, match=r"wrong shapes: decoder\.decoder_embed\.weight"):
        TimeArtist.from_pretrained(path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        AdapterAlignment.from_pretrained(tmp_path)


def test_untrained_alignment_is_the_identity():
    align = AdapterAlignment(TINY_ALIGN)
    ids = torch.randint(0, 64, (5, 1, 8))
    logits = align(ids)
    assert logits.shape == (5, 8, 64)
    assert torch.equal(logits.argmax(-1), ids[:, 0])
    assert torch.equal(align(ids[:, 0]), logits)
    logits.logsumexp(-1).mean().backward()
    assert align.identity_gain.grad is not None and align.head.weight.grad.abs().sum() > 0


def test_alignment_embedding_from_codebook_keeps_neighbours(pair):
    series, _ = pair
    align = AdapterAlignment(TINY_ALIGN)
    codebook = series.quantize.codebook.detach()
    align.init_from_codebook(codebook)
    emb = align.embedding.weight
    # a random projection keeps which codes are close: the nearest code's embedding is nearer than a far one's
    sims = codebook @ codebook.T
    near, far = sims[0, 1:].argmax() + 1, sims[0, 1:].argmin() + 1
    assert (emb[0] - emb[near]).norm() < (emb[0] - emb[far]).norm()
    with pytest.raises(ValueError, match=r"expected a codebook of shape \(64, D\), got \(32, 4\)"):
        align.init_from_codebook(codebook[:32])


def test_seed_yaml_configs_map_key_by_key():
    stage1 = OmegaConf.load(CONFIGS / "stage1" / "timeartist_b64_512.yaml")
    series = TimeArtistConfig.from_seed(stage1)
    assert (series.seq_len, series.num_latent_tokens, series.token_size, series.codebook_size) == (512, 64, 12, 4096)
    assert (series.vit_enc_model_size, series.vit_enc_patch_size, series.quantizer_heads) == ("base", 16, 1)
    align = AdapterAlignmentConfig.from_seed(OmegaConf.load(CONFIGS / "stage2" / "timeartist_b64_512_align.yaml"))
    assert align == AdapterAlignmentConfig(codebook_size=4096, num_latent_tokens=64, model_size="base")
    tiny = VisionModelConfig.from_seed(TINY)
    assert (tiny.image_size, tiny.is_legacy, tiny.head_codebook_sizes) == (32, False, (8, 8))
    assert TimeArtist(_flat_tiny()).config == TimeArtistConfig.from_seed(TINY)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"vit_enc_model_size": "huge"}, r"vit_enc_model_size='huge' is not a model size"),
        ({"seq_len": 60}, r"seq_len=60 must be a multiple of vit_enc_patch_size=8"),
        ({"token_size": 0}, r"token_size must be a positive int, got 0"),
    ],
)
def test_bad_configs_say_what_is_wrong(values, message):
    with pytest.raises(ValueError, match=message):
        TimeArtistConfig(**{**_flat_tiny(), **values})


def test_bad_vision_configs_say_what_is_wrong():
    with pytest.raises(ValueError, match="is_legacy == finetune_decoder"):
        VisionModelConfig(is_legacy=True, finetune_decoder=False)
    with pytest.raises(ValueError, match="upsamples the 4x4 grid to 16, expected image_size=32"):
        VisionModelConfig.from_seed({**OmegaConf.to_container(TINY_LEGACY), "model": {"vq_model": {
            **OmegaConf.to_container(TINY_LEGACY.model.vq_model), "pixel_channel_mult": [1, 1, 1]}}})
    with pytest.raises(CheckpointError, match="unknown config keys"):
        TimeArtist({**_flat_tiny(), "depth": 3})
    with pytest.raises(ValueError, match="expected a VisionModelConfig, a seed-layout config .* got TimeArtistConfig"):
        VisionModel(TimeArtistConfig())
    with pytest.raises(ValueError, match="quantize_mode 'vq'"):
        TimeArtist({"model": {"vq_model": {"quantize_mode": "vae"}}})


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.randn(64), r"expected series of shape \(B, 64\), got \(64,\)"),
        (torch.randn(2, 63), r"expected series of shape \(B, 64\), got \(2, 63\)"),
        (torch.full((1, 64), float("nan")), r"expected finite series values, got 64 NaN or inf"),
        (torch.zeros(2, 64, dtype=torch.long), r"expected a float series tensor \(B, 64\), got torch.int64"),
    ],
)
def test_bad_series_input(x, message):
    with pytest.raises(ValueError, match=message):
        TimeArtist(TINY).encode(x)


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(2, 1, 32, 32), r"expected RGB images \(B, 3, 32, 32\), got shape \(2, 1, 32, 32\)"),
        (torch.rand(2, 3, 64, 64), r"expected images of size 32x32, got \(64, 64\)"),
        (torch.rand(2, 3, 32, 32) * 255, r"expected pixel values in \[0, 1\]"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), r"expected a float image tensor .* got torch.uint8"),
    ],
)
def test_bad_image_input(x, message):
    with pytest.raises(ValueError, match=message):
        VisionModel(TINY).encode(x)


def test_bad_tokens_and_codes(pair):
    series, vision = pair
    align = AdapterAlignment(TINY_ALIGN)
    for call in (series.decode_tokens, vision.decode_tokens, align):
        with pytest.raises(ValueError, match=r"expected token ids in \[0, 64\), got values in \[0, 64\]"):
            call(torch.tensor([[0, 1, 2, 3, 4, 5, 6, 64]]))
        with pytest.raises(ValueError, match=r"expected token ids of shape \(B, 8\) or \(B, 1, 8\), got \(1, 7\)"):
            call(torch.zeros(1, 7, dtype=torch.long))
        with pytest.raises(ValueError, match="expected integer token ids"):
            call(torch.zeros(1, 8))
    with pytest.raises(ValueError, match=r"expected float codes of shape \(B, 4, 1, 8\), got \(2, 4, 8\)"):
        vision.decode(torch.randn(2, 4, 8))


def test_resnet_block_shortcut_reads_the_block_output():
    block = ResnetBlock(32, 64).eval()
    x = torch.randn(1, 32, 4, 4)
    with torch.no_grad():
        h = block.conv2(F.silu(block.norm2(block.conv1(F.silu(block.norm1(x))))))
        torch.testing.assert_close(block(x), h + block.nin_shortcut(h))


def test_bfloat16_models_take_float32_inputs_and_codes():
    series = TimeArtist(TINY).to(torch.bfloat16)
    vision = VisionModel(TINY_LEGACY).to(torch.bfloat16)
    q, ids = series.encode(torch.randn(2, 64))
    assert q.dtype == torch.float32  # the quantizer works in fp32
    assert series.decode(q).dtype == series.decode_tokens(ids).dtype == torch.bfloat16
    assert vision(torch.rand(2, 3, 32, 32))[0].dtype == torch.bfloat16


def test_centre_pixels_changes_only_the_encoder_input(tmp_path):
    from timeartist.models import VisionModel, VisionModelConfig

    fields = dict(image_size=32, is_legacy=False, finetune_decoder=False, codebook_size=64, token_size=4, quantizer_heads=2,
                  vit_enc_model_size="tiny", vit_dec_model_size="tiny", vit_enc_patch_size=8, vit_dec_patch_size=8, num_latent_tokens=8)
    torch.manual_seed(0)
    plain = VisionModel(VisionModelConfig(**fields))
    centred = VisionModel(VisionModelConfig(centre_pixels=True, **fields))
    centred.load_state_dict(plain.state_dict())  # same parameters, so only the input mapping differs
    x = torch.rand(2, 3, 32, 32)
    expected = plain.encoder((x - 0.45) / 0.25, plain.latent_tokens)
    torch.testing.assert_close(centred._encode_latents(x), expected)
    centred.save_pretrained(tmp_path)
    assert VisionModel.from_pretrained(tmp_path).config.centre_pixels is True


CONV_FIELDS = dict(image_size=32, is_legacy=False, finetune_decoder=False, codebook_size=64, token_size=4,
                   vit_enc_model_size="tiny", vit_dec_model_size="tiny", vit_enc_patch_size=4, vit_dec_patch_size=4,
                   num_latent_tokens=16, conv_channels=(8, 16))


def test_conv_layout_round_trips_and_learns_an_image(tmp_path):
    """The conv stem / pixel-shuffle layout: shapes, a checkpoint round trip, and gradient steps that fit a batch."""
    torch.manual_seed(0)
    model = VisionModel(VisionModelConfig(**CONV_FIELDS))
    x = torch.rand(4, 3, 32, 32)
    assert model.encode(x)[0].shape == (4, 4, 1, 16) and model(x)[0].shape == (4, 3, 32, 32)
    model.save_pretrained(tmp_path)
    loaded = VisionModel.from_pretrained(tmp_path)
    assert loaded.config.conv_channels == (8, 16)
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    # decode continuous latents (as the warm-up's first steps do): the conv layout must be able to fit pixels
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(60):
        z = F.normalize(model._encode_latents(x), dim=1)
        loss = F.mse_loss(model.decode(z), x)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first


def test_conv_layout_configs_say_what_is_wrong():
    with pytest.raises(ValueError, match="2 conv stages resample by 4, so vit_enc_patch_size must be 4, got 8"):
        VisionModelConfig(**{**CONV_FIELDS, "vit_enc_patch_size": 8})
    with pytest.raises(ValueError, match="conv_channels is for the small layout"):
        VisionModelConfig(conv_channels=(8, 16, 32, 64))
    with pytest.raises(ValueError, match="conv_channels must be positive"):
        VisionModelConfig(**{**CONV_FIELDS, "conv_channels": (8, 0)})
