"""``VisionModel``: the image tokenizer, TiTok (bytedance/1d-tokenizer) with its checkpoint layout.

With the b64 config (``VisionModelConfig()`` defaults, or TiTok's HF ``config.json``) the state dict has exactly
TiTok-B-64's keys and shapes and the model computes the same function, so the published weights load strictly:
an image (B, 3, 256, 256) in [0, 1] -> 256 patches of 16x16 -> 12-block ViT with 64 latent tokens -> z
(B, 12, 1, 64) -> shared quantizer -> decoder with 256 mask queries -> logits over the 1024 MaskGIT-VQGAN codes
per 16x16 cell -> softmax mix of the VQGAN codebook -> MaskGIT-VQGAN pixel decoder -> (B, 3, 256, 256).
Small configs (``is_legacy=False``) decode pixels directly: a 1x1 head per patch, or, with ``conv_channels``, a
convolutional stem in front of the encoder (its feature grid cells are the patch tokens) and a pixel-shuffle
upsampler behind the decoder (``timeartist.modules.conv``). Outputs are not clamped; callers clamp to [0, 1].

TiTok's ``finetune_decoder`` also froze the encoder and quantizer inside the model; here freezing is left to the
trainer, the flag only selects the layout.
"""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin
from timeartist.models.config import VisionModelConfig, resolve_config
from timeartist.modules.conv import ConvPixelHead, ConvStem, reset_conv_init
from timeartist.modules.pixel_decoder import PixelDecoder, ProxyCodebook, direct_pixel_head, proxy_code_head
from timeartist.modules.quantizer import MultiHeadQuantizer
from timeartist.modules.vit import LatentDecoder, LatentEncoder, LatentTokenizer, check_finite, vit_size

PIXEL_TOLERANCE = 1e-3  # images are expected in [0, 1]; allow resampling overshoot this small
PIXEL_MEAN, PIXEL_STD = 0.45, 0.25  # rough ImageNet pixel statistics, for ``centre_pixels``


class VisualEncoder(LatentEncoder):
    """(B, 3, S, S) image -> z (B, D, 1, N) latents."""

    def __init__(self, config: VisionModelConfig):
        size = vit_size(config.vit_enc_model_size)
        grid = config.image_size // config.vit_enc_patch_size
        super().__init__(size, grid * grid, config.num_latent_tokens, config.token_skip)
        self.is_legacy = config.is_legacy
        if config.conv_channels:
            self.patch_embed = nn.Sequential(ConvStem(config.conv_channels), nn.Conv2d(config.conv_channels[-1], size.width, 1))
        else:
            self.patch_embed = nn.Conv2d(3, size.width, config.vit_enc_patch_size, stride=config.vit_enc_patch_size)
        self.conv_out = nn.Conv2d(size.width, config.token_size, 1)

    def forward(self, x: Tensor, latent_tokens: Tensor) -> Tensor:
        dtype = next(self.patch_embed.parameters()).dtype
        patches = rearrange(self.patch_embed(x.to(dtype)), "b w h v -> b (h v) w")
        latents = self.encode_tokens(patches, latent_tokens)  # (B, N, W), contiguous
        if self.is_legacy:
            # TiTok's legacy quirk: the (B, N, W) memory is reinterpreted as (B, W, N, 1) without a transpose,
            # mixing tokens and channels. The published weights were trained through it, so it stays.
            latents = latents.reshape(latents.shape[0], self.width, self.num_latent_tokens, 1)
        else:
            latents = rearrange(latents, "b n w -> b w n 1")
        return rearrange(self.conv_out(latents), "b d n 1 -> b d 1 n")


class VisualDecoder(LatentDecoder):
    """q (B, D, 1, N) -> proxy-code logits (B, K_proxy, g, g) (legacy) or pixels (B, 3, S, S) (direct head)."""

    def __init__(self, config: VisionModelConfig):
        size = vit_size(config.vit_dec_model_size)
        grid = config.image_size // config.vit_dec_patch_size
        super().__init__(size, grid * grid, config.num_latent_tokens, config.token_size, config.token_skip)
        self.grid = grid
        if config.is_legacy:
            self.ffn = proxy_code_head(size.width, config.proxy_codebook_size)
            self.conv_out = None  # TiTok's Identity: no parameters
        elif config.conv_channels:
            self.ffn = nn.Conv2d(size.width, config.conv_channels[-1], 1)
            self.conv_out = ConvPixelHead(config.conv_channels)
        else:
            self.ffn = direct_pixel_head(size.width, config.vit_dec_patch_size)
            self.conv_out = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, z_q: Tensor) -> Tensor:
        x = rearrange(self.decode_queries(z_q), "b (h w) c -> b c h w", h=self.grid)
        x = self.ffn(x)
        return x if self.conv_out is None else self.conv_out(x)


class VisionModel(LatentTokenizer, PretrainedMixin):
    """Image tokenizer with the seed's / TiTok's interface.

    ``from_pretrained`` also reads TiTok's HF folder (``config.json`` holding the training config).

    Args:
        config: a ``VisionModelConfig``, a seed / TiTok layout config (``model.vq_model.*``,
            ``dataset.preprocessing.crop_size``) or a flat dict of ``VisionModelConfig`` fields.
        quantizer: a ``MultiHeadQuantizer`` to share with the series tokenizer; None builds a new one.

    Methods (images (B, 3, S, S) float in [0, 1], S = image_size; N, D, K as in ``TimeArtist``):
        encode(x) -> (q (B, D, 1, N), q_ind (B, 1, N))
        decode(q (B, D, 1, N)) -> (B, 3, S, S)     q may come from the series tokenizer when the quantizer is shared
        decode_tokens(ids (B, N) or (B, 1, N)) -> (B, 3, S, S)
        decode_multi_tokens(series_ids, image_ids, alpha) -> (B, 3, S, S), alpha weighting the series codes
        forward(x) -> (x_hat (B, 3, S, S), result dict as ``TimeArtist.forward``)
    """

    config_class = VisionModelConfig

    def __init__(self, config, quantizer: MultiHeadQuantizer | None = None):
        super().__init__()
        cfg = resolve_config(VisionModelConfig, config)
        self.image_size = cfg.image_size
        self._build(cfg, VisualEncoder(cfg), VisualDecoder(cfg), quantizer)
        if cfg.conv_channels:
            reset_conv_init(self.encoder.patch_embed)
            reset_conv_init(self.decoder.conv_out)
        if cfg.is_legacy:  # built after the init sweep: TiTok keeps PyTorch's default init for these
            self.pixel_quantize = ProxyCodebook(cfg.proxy_codebook_size, cfg.proxy_code_dim)
            self.pixel_decoder = PixelDecoder(
                z_channels=cfg.proxy_code_dim,
                hidden_channels=cfg.pixel_hidden_channels,
                channel_mult=cfg.pixel_channel_mult,
                num_res_blocks=cfg.pixel_num_res_blocks,
            )

    def _check_input(self, x: Tensor) -> None:
        expected = f"(B, 3, {self.image_size}, {self.image_size})"
        if not isinstance(x, Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"expected a float image tensor {expected} with values in [0, 1], got {got}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected RGB images {expected}, got shape {tuple(x.shape)}")
        if tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(f"expected images of size {self.image_size}x{self.image_size}, got {tuple(x.shape[2:])}")
        check_finite(x, "pixel values")
        low, high = float(x.min()), float(x.max())
        if low < -PIXEL_TOLERANCE or high > 1 + PIXEL_TOLERANCE:
            raise ValueError(f"expected pixel values in [0, 1], got values in [{low:.4g}, {high:.4g}]")

    def _encode_latents(self, x: Tensor) -> Tensor:
        if self.config.centre_pixels:
            x = (x - PIXEL_MEAN) / PIXEL_STD
        return self.encoder(x, self.latent_tokens)

    def _decode_codes(self, q: Tensor) -> Tensor:
        x = self.decoder(q)
        if self.config.is_legacy:
            x = self.pixel_decoder(self.pixel_quantize(x))
        return x
