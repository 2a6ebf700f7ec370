"""VisionModel with the b64 config has TiTok-B-64's checkpoint layout, and TiTok's HF folder layout loads.

The expected table is written out from the published key / shape list (HF yucornetto/tokenizer_titok_b64_imagenet,
architecture.md section 4), independently of the model code.
"""

import json

import pytest
import torch
from safetensors.torch import save_file

from timeartist.hub import CheckpointError
from timeartist.models import VisionModel, VisionModelConfig

W, D, N, K = 768, 12, 64, 4096


def _block(prefix: str, width: int) -> dict:
    return {
        f"{prefix}.ln_1.weight": (width,),
        f"{prefix}.ln_1.bias": (width,),
        f"{prefix}.attn.in_proj_weight": (3 * width, width),
        f"{prefix}.attn.in_proj_bias": (3 * width,),
        f"{prefix}.attn.out_proj.weight": (width, width),
        f"{prefix}.attn.out_proj.bias": (width,),
        f"{prefix}.ln_2.weight": (width,),
        f"{prefix}.ln_2.bias": (width,),
        f"{prefix}.mlp.c_fc.weight": (4 * width, width),
        f"{prefix}.mlp.c_fc.bias": (4 * width,),
        f"{prefix}.mlp.c_proj.weight": (width, 4 * width),
        f"{prefix}.mlp.c_proj.bias": (width,),
    }


def _resnet(prefix: str, cin: int, cout: int) -> dict:
    table = {
        f"{prefix}.norm1.weight": (cin,),
        f"{prefix}.norm1.bias": (cin,),
        f"{prefix}.conv1.weight": (cout, cin, 3, 3),
        f"{prefix}.norm2.weight": (cout,),
        f"{prefix}.norm2.bias": (cout,),
        f"{prefix}.conv2.weight": (cout, cout, 3, 3),
    }
    if cin != cout:
        table[f"{prefix}.nin_shortcut.weight"] = (cout, cout, 1, 1)
    return table


def titok_b64_table() -> dict:
    t = {"latent_tokens": (N, W), "quantize.embedding.weight": (K, D), "pixel_quantize.embedding.weight": (1024, 256)}
    for part in ("encoder", "decoder"):
        t[f"{part}.class_embedding"] = (1, W)
        t[f"{part}.positional_embedding"] = (257, W)
        t[f"{part}.latent_token_positional_embedding"] = (N, W)
        for ln in ("ln_pre", "ln_post"):
            t[f"{part}.{ln}.weight"] = (W,)
            t[f"{part}.{ln}.bias"] = (W,)
        for i in range(12):
            t.update(_block(f"{part}.transformer.{i}", W))
    t.update({
        "encoder.patch_embed.weight": (W, 3, 16, 16),
        "encoder.patch_embed.bias": (W,),
        "encoder.conv_out.weight": (D, W, 1, 1),
        "encoder.conv_out.bias": (D,),
        "decoder.decoder_embed.weight": (W, D),
        "decoder.decoder_embed.bias": (W,),
        "decoder.mask_token": (1, 1, W),
        "decoder.ffn.0.weight": (2 * W, W, 1, 1),
        "decoder.ffn.0.bias": (2 * W,),
        "decoder.ffn.2.weight": (1024, 2 * W, 1, 1),
        "decoder.ffn.2.bias": (1024,),
        "pixel_decoder.conv_in.weight": (512, 256, 3, 3),
        "pixel_decoder.conv_in.bias": (512,),
        "pixel_decoder.norm_out.weight": (128,),
        "pixel_decoder.norm_out.bias": (128,),
        "pixel_decoder.conv_out.weight": (3, 128, 3, 3),
        "pixel_decoder.conv_out.bias": (3,),
    })
    for j in range(2):
        t.update(_resnet(f"pixel_decoder.mid.{j}", 512, 512))
    # up.{k}: (input channels, output channels, has upsample_conv), run 4, 3, 2, 1, 0
    levels = {4: (512, 512, True), 3: (512, 256, True), 2: (256, 256, True), 1: (256, 128, True), 0: (128, 128, False)}
    for k, (cin, cout, upsample) in levels.items():
        t.update(_resnet(f"pixel_decoder.up.{k}.block.0", cin, cout))
        t.update(_resnet(f"pixel_decoder.up.{k}.block.1", cout, cout))
        if upsample:
            t[f"pixel_decoder.up.{k}.upsample_conv.weight"] = (cout, cout, 3, 3)
            t[f"pixel_decoder.up.{k}.upsample_conv.bias"] = (cout,)
    return t


def _titok_hf_config(vq_model: dict, crop_size: int) -> dict:
    """TiTok's HF config.json: its whole training config, of which the model reads two sections."""
    return {
        "experiment": {"project": "titok_b_64_stage2", "output_dir": "titok_b_64_stage2_run1"},
        "model": {"vq_model": vq_model},
        "losses": {"quantizer_weight": 0.0, "perceptual_loss": "convnext_s"},
        "dataset": {"preprocessing": {"resize_shorter_edge": 256, "crop_size": crop_size, "random_flip": True}},
        "optimizer": {"name": "adamw", "params": {"learning_rate": 1e-4}},
    }


B64_VQ = {
    "codebook_size": 4096, "token_size": 12, "use_l2_norm": True, "commitment_cost": 0.0,
    "vit_enc_model_size": "base", "vit_dec_model_size": "base", "vit_enc_patch_size": 16, "vit_dec_patch_size": 16,
    "num_latent_tokens": 64, "finetune_decoder": True, "pretrained_tokenizer_weight": "maskgit-vqgan-imagenet-f16-256.bin",
}


def test_b64_state_dict_is_the_published_table():
    with torch.device("meta"):
        model = VisionModel(_titok_hf_config(B64_VQ, 256))
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = titok_b64_table()
    assert sorted(set(got) - set(expected)) == [] and sorted(set(expected) - set(got)) == []
    assert {k: s for k, s in got.items() if expected[k] != s} == {}
    assert len(expected) == 404 and sum(torch.Size(s).numel() for s in expected.values()) == 204_814_095


def test_random_b64_checkpoint_loads_strictly_and_runs_at_256():
    with torch.device("meta"):  # skip the init sweep: every value comes from the checkpoint
        model = VisionModel(VisionModelConfig())
    gen = torch.Generator().manual_seed(0)
    state = {k: 0.02 * torch.randn(s, generator=gen) for k, s in titok_b64_table().items()}
    model.load_state_dict(state, strict=True, assign=True)
    model.eval()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    with torch.no_grad():
        q, ids = model.encode(torch.rand(1, 3, 256, 256, generator=gen))
        # the full decoder takes ~10 s on 2 cores; its convolutional pixel stage runs on a 2x2 corner instead
        pixels = model.pixel_decoder(model.pixel_quantize(torch.randn(1, 1024, 2, 2, generator=gen)))
    assert q.shape == (1, 12, 1, 64) and ids.shape == (1, 1, 64)
    torch.testing.assert_close(q.norm(dim=1), torch.ones(1, 1, 64))  # l2-normalised codes
    assert pixels.shape == (1, 3, 32, 32) and torch.isfinite(pixels).all()


def _tiny_legacy_vq() -> dict:
    return {
        "codebook_size": 64, "token_size": 4, "use_l2_norm": True, "commitment_cost": 0.25,
        "vit_enc_model_size": "tiny", "vit_dec_model_size": "tiny", "vit_enc_patch_size": 8, "vit_dec_patch_size": 8,
        "num_latent_tokens": 8, "finetune_decoder": True, "proxy_codebook_size": 16, "proxy_code_dim": 32,
        "pixel_hidden_channels": 32, "pixel_channel_mult": [1, 1, 1, 1], "pixel_num_res_blocks": 1,
    }


def test_titok_hf_folder_loads_and_reproduces(tmp_path):
    source = VisionModel(_titok_hf_config(_tiny_legacy_vq(), 32)).eval()
    (tmp_path / "config.json").write_text(json.dumps(_titok_hf_config(_tiny_legacy_vq(), 32)))
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "model.safetensors"))

    loaded = VisionModel.from_pretrained(tmp_path).eval()
    assert loaded.config.is_legacy and loaded.config.image_size == 32
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(image)[0], source(image)[0])

    # our own layout round-trips from the loaded model too
    again = VisionModel.from_pretrained(loaded.save_pretrained(tmp_path / "ours")).eval()
    with torch.no_grad():
        assert torch.equal(again(image)[0], source(image)[0])


def test_titok_folder_with_wrong_shapes_names_the_keys(tmp_path):
    vq = _tiny_legacy_vq()
    (tmp_path / "config.json").write_text(json.dumps(_titok_hf_config(vq, 32)))
    state = VisionModel(_titok_hf_config({**vq, "token_size": 6}, 32)).state_dict()
    state.pop("latent_tokens")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        VisionModel.from_pretrained(tmp_path)
    assert "missing keys: latent_tokens" in str(err.value)
    assert "quantize.embedding.weight: checkpoint (64, 6) vs model (64, 4)" in str(err.value)


def test_titok_folder_without_weights_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_titok_hf_config(_tiny_legacy_vq(), 32)))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        VisionModel.from_pretrained(tmp_path)


def test_legacy_encoder_reshapes_without_transpose():
    model = VisionModel(_titok_hf_config(_tiny_legacy_vq(), 32))
    enc = model.encoder
    image = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        patches = enc.patch_embed(image).flatten(2).transpose(1, 2)
        latents = enc.encode_tokens(patches, model.latent_tokens)  # (2, 8, 64)
        # the published quirk: (B, N, W) memory read as (B, W, N, 1)
        expected = enc.conv_out(latents.reshape(2, 64, 8, 1)).reshape(2, 4, 1, 8)
        assert torch.equal(enc(image, model.latent_tokens), expected)
        proper = enc.conv_out(latents.transpose(1, 2).unsqueeze(-1)).reshape(2, 4, 1, 8)
        assert not torch.allclose(expected, proper)
