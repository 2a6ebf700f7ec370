"""Pre-LN ViT blocks and the 1-D latent tokenizer built from them (TiTok, bytedance/1d-tokenizer).

A 1-D tokenizer reads a sequence of patch tokens together with N learned latent tokens and keeps only the N
latent outputs: an image or a series becomes N vectors of D channels, one discrete code each after quantization.
Its decoder does the reverse: N codes plus learned mask-token queries, one per output patch.

    encoder input:  [class ; P patch tokens ; N latent tokens]   -> keep the N latents   -> (B, N, W)
    decoder input:  [class ; Q mask queries ; N embedded codes]  -> keep the Q queries   -> (B, Q, W)

``token_skip`` (ours; off in TiTok's layout) adds the patch tokens, resampled to N, to the latent tokens, and the
embedded codes, resampled to Q, to the mask queries. A fresh ViT attends almost uniformly, so without it every
latent starts as the same average of the patches and a small model trained from scratch spends its first
thousands of steps reproducing the mean colour; with it each token has a direct path from its own region.

Attention is ``nn.MultiheadAttention`` in sequence-first layout and the blocks are pre-LN, as TiTok, so TiTok
state dicts keep their names: ``transformer.{i}.{ln_1, attn.in_proj_weight, attn.out_proj, ln_2, mlp.c_fc,
mlp.c_proj}``. Modality-specific patch embeddings and output heads live in the models that subclass these.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from timeartist.hub import CONFIG_NAME, WEIGHTS_NAME, load_state_dict_strict, load_weights, read_json
from timeartist.modules.quantizer import MultiHeadQuantizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViTSize:
    width: int
    depth: int
    heads: int


# TiTok's sizes, plus CPU sizes for tests and the bundled default model.
MODEL_SIZES = {
    "tiny": ViTSize(width=64, depth=2, heads=4),
    "mini": ViTSize(width=128, depth=3, heads=4),
    "small": ViTSize(width=512, depth=8, heads=8),
    "base": ViTSize(width=768, depth=12, heads=12),
    "large": ViTSize(width=1024, depth=24, heads=16),
}


def vit_size(name: str) -> ViTSize:
    """Width / depth / heads of a named model size; ValueError naming the known sizes otherwise."""
    if name not in MODEL_SIZES:
        raise ValueError(f"unknown ViT model size {name!r}; expected one of {sorted(MODEL_SIZES)}")
    return MODEL_SIZES[name]


def init_weights(module: nn.Module) -> None:
    """TiTok's init sweep: trunc-normal(0.02) for Linear, Conv and Embedding weights, zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Embedding)):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def scaled_randn(width: int, *shape: int) -> nn.Parameter:
    """Class, position and latent parameters start as width**-0.5 * N(0, 1), as in TiTok / CLIP."""
    return nn.Parameter(width**-0.5 * torch.randn(*shape, width))


class ResidualAttentionBlock(nn.Module):
    """Pre-LN transformer block: x + MHA(LN(x)), then + MLP(LN(x)) with a 4x GELU MLP.

    x: (L, B, W) sequence-first -> (L, B, W).
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by the number of attention heads {heads}")
        hidden = int(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict([("c_fc", nn.Linear(width, hidden)), ("gelu", nn.GELU()), ("c_proj", nn.Linear(hidden, width))])
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


def make_blocks(size: ViTSize) -> nn.ModuleList:
    return nn.ModuleList(ResidualAttentionBlock(size.width, size.heads) for _ in range(size.depth))


def run_blocks(blocks: nn.ModuleList, x: Tensor) -> Tensor:
    """(B, L, W) batch-first in and out; the blocks themselves run sequence-first."""
    x = rearrange(x, "b l w -> l b w")
    for block in blocks:
        x = block(x)
    return rearrange(x, "l b w -> b l w")


def resample_tokens(tokens: Tensor, count: int) -> Tensor:
    """(B, L, W) -> (B, count, W): the identity when L == count, else linear interpolation along the sequence."""
    if tokens.shape[1] == count:
        return tokens
    return F.interpolate(rearrange(tokens, "b l w -> b w l"), size=count, mode="linear", align_corners=False).transpose(1, 2)


class LatentEncoder(nn.Module):
    """[class ; P patches ; N latents] -> pre-LN ViT -> the N latent outputs after ``ln_post``.

    Subclasses add ``patch_embed`` and an output projection ``conv_out`` (their parameter names are TiTok's).
    """

    def __init__(self, size: ViTSize, num_patches: int, num_latent_tokens: int, token_skip: bool = False):
        super().__init__()
        self.token_skip = token_skip
        self.width = size.width
        self.num_patches = num_patches
        self.num_latent_tokens = num_latent_tokens
        self.class_embedding = scaled_randn(size.width, 1)
        self.positional_embedding = scaled_randn(size.width, num_patches + 1)
        self.latent_token_positional_embedding = scaled_randn(size.width, num_latent_tokens)
        self.ln_pre = nn.LayerNorm(size.width)
        self.transformer = make_blocks(size)
        self.ln_post = nn.LayerNorm(size.width)

    def encode_tokens(self, patches: Tensor, latent_tokens: Tensor) -> Tensor:
        """patches (B, P, W), latent_tokens (N, W) -> latent features (B, N, W)."""
        batch = patches.shape[0]
        cls = repeat(self.class_embedding, "1 w -> b 1 w", b=batch).to(patches.dtype)
        x = torch.cat([cls, patches], dim=1) + self.positional_embedding.to(patches.dtype)
        latents = repeat(latent_tokens + self.latent_token_positional_embedding, "n w -> b n w", b=batch).to(x.dtype)
        if self.token_skip:
            latents = latents + resample_tokens(patches, self.num_latent_tokens)
        x = torch.cat([x, latents], dim=1)
        x = run_blocks(self.transformer, self.ln_pre(x))
        return self.ln_post(x[:, 1 + self.num_patches :])


class LatentDecoder(nn.Module):
    """N codes (B, D, 1, N) -> [class ; Q mask queries ; N embedded codes] -> pre-LN ViT -> Q query features.

    Subclasses add the output head ``ffn`` (and ``conv_out`` where TiTok has one).
    """

    def __init__(self, size: ViTSize, num_queries: int, num_latent_tokens: int, token_size: int, token_skip: bool = False):
        super().__init__()
        self.token_skip = token_skip
        self.width = size.width
        self.num_queries = num_queries
        self.num_latent_tokens = num_latent_tokens
        self.token_size = token_size
        self.decoder_embed = nn.Linear(token_size, size.width)
        self.class_embedding = scaled_randn(size.width, 1)
        self.positional_embedding = scaled_randn(size.width, num_queries + 1)
        self.mask_token = scaled_randn(size.width, 1, 1)
        self.latent_token_positional_embedding = scaled_randn(size.width, num_latent_tokens)
        self.ln_pre = nn.LayerNorm(size.width)
        self.transformer = make_blocks(size)
        self.ln_post = nn.LayerNorm(size.width)

    def decode_queries(self, z_q: Tensor) -> Tensor:
        """z_q (B, D, 1, N) -> query features (B, Q, W) after ``ln_post``."""
        # a true transpose (TiTok's decoder too); codes arrive in fp32 from the quantizer, so match the weights
        x = self.decoder_embed(rearrange(z_q, "b d 1 n -> b n d").to(self.decoder_embed.weight.dtype))
        batch = x.shape[0]
        queries = repeat(self.mask_token, "1 1 w -> b q w", b=batch, q=self.num_queries)
        cls = repeat(self.class_embedding, "1 w -> b 1 w", b=batch)
        queries = torch.cat([cls, queries], dim=1).to(x.dtype) + self.positional_embedding.to(x.dtype)
        if self.token_skip:
            queries = torch.cat([queries[:, :1], queries[:, 1:] + resample_tokens(x, self.num_queries)], dim=1)
        x = torch.cat([queries, x + self.latent_token_positional_embedding.to(x.dtype)], dim=1)
        x = run_blocks(self.transformer, self.ln_pre(x))
        return self.ln_post(x[:, 1 : 1 + self.num_queries])


class LatentTokenizer(nn.Module):
    """Encoder -> (shared) quantizer -> decoder, with TiTok's method names.

    Subclasses also derive from ``timeartist.hub.PretrainedMixin`` (after this class), set ``config_class`` (with a
    ``from_seed`` constructor), call ``_build`` with their encoder and decoder and define ``_check_input(x)``,
    ``_encode_latents(x) -> z (B, D, 1, N)`` and ``_decode_codes(q (B, D, 1, N))``.

    One quantizer instance may be passed to several tokenizers: codes of one modality then decode through the
    other modality's decoder (the "before alignment" conversions).
    """

    num_latent_tokens: int
    token_size: int

    @classmethod
    def from_pretrained(cls, path, map_location="cpu", sha256: str | None = None):
        """Load a folder: ours (``save_pretrained``: flat config fields) or the seed's / TiTok's Hugging Face layout,
        whose ``config.json`` is the whole training config (``model.vq_model.*``, ``dataset.preprocessing.*``),
        read by ``config_class.from_seed``. Both need ``model.safetensors`` and load strictly; ``sha256``: its
        recorded hash, checked when given."""
        path = Path(path)
        config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        values = read_json(config_path) if config_path.is_file() else {}
        if "model" not in values:
            return super().from_pretrained(path, map_location, sha256)  # PretrainedMixin, next in the subclass's MRO
        if not weights_path.is_file():
            raise FileNotFoundError(f"{cls.__name__}.from_pretrained expected {weights_path} next to {config_path}")
        model = cls(cls.config_class.from_seed(values))
        load_state_dict_strict(model, load_weights(weights_path, sha256, device=str(map_location)), source=str(weights_path))
        logger.info("loaded %s from %s (seed / TiTok config layout)", cls.__name__, path)
        return model.to(map_location)

    def _build(self, config, encoder: LatentEncoder, decoder: LatentDecoder, quantizer: MultiHeadQuantizer | None):
        """Set the parts and learned latent tokens (N, W), run TiTok's init sweep, then attach the quantizer (after
        the sweep, which would overwrite a codebook)."""
        self.config = config
        self.num_latent_tokens = config.num_latent_tokens
        self.token_size = config.token_size
        self.encoder = encoder
        self.decoder = decoder
        self.latent_tokens = scaled_randn(encoder.width, config.num_latent_tokens)
        self.apply(init_weights)
        self._attach_quantizer(config, quantizer)

    def _attach_quantizer(self, config, quantizer: MultiHeadQuantizer | None) -> None:
        """Own a new quantizer built from ``config`` or share ``quantizer`` after checking it fits."""
        if quantizer is None:
            self.quantize = MultiHeadQuantizer(
                codebook_size=config.codebook_size,
                token_size=config.token_size,
                heads=config.quantizer_heads,
                use_l2_norm=config.use_l2_norm,
                commitment_cost=config.commitment_cost,
                head_codebook_sizes=config.head_codebook_sizes,
                dead_code_threshold=config.dead_code_threshold,
            )
            return
        expected = (config.codebook_size, config.token_size, config.quantizer_heads)
        got = (quantizer.codebook_size, quantizer.token_size, quantizer.heads)
        if got != expected:
            raise ValueError(
                f"shared quantizer has (codebook_size, token_size, heads) = {got}, the config expects {expected}"
            )
        self.quantize = quantizer

    @property
    def codebook_size(self) -> int:
        return self.quantize.codebook_size

    def _check_codes(self, q: Tensor) -> None:
        expected = (self.token_size, 1, self.num_latent_tokens)
        if not isinstance(q, Tensor) or not q.is_floating_point() or q.ndim != 4 or tuple(q.shape[1:]) != expected:
            got = tuple(q.shape) if isinstance(q, Tensor) else type(q).__name__
            raise ValueError(f"expected float codes of shape (B, {', '.join(map(str, expected))}), got {got}")
        if not torch.isfinite(q).all():
            raise ValueError("expected finite codes, got NaN or inf values")

    def _tokens_to_codes(self, tokens: Tensor) -> Tensor:
        """Token ids (B, N) or (B, 1, N) in [0, K) -> codes (B, D, 1, N) as the quantizer emits them."""
        ids = as_token_ids(tokens, self.num_latent_tokens, self.codebook_size)
        return rearrange(self.quantize.get_codebook_entry(ids), "b n d -> b d 1 n").contiguous()

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x -> (q (B, D, 1, N) quantized codes, q_ind (B, 1, N) long token ids)."""
        q, result = self.quantize_input(x)
        return q, result["min_encoding_indices"]

    def quantize_input(self, x: Tensor) -> tuple[Tensor, dict]:
        """x -> (q (B, D, 1, N), result dict): the quantizer's ``quantizer_loss``, ``commitment_loss``,
        ``codebook_loss`` (0-dim), ``min_encoding_indices`` (B, 1, N) and ``latents`` z (B, D, 1, N), the encoder
        output before quantization (what ``MultiHeadQuantizer.reseed_dead_codes`` takes)."""
        self._check_input(x)
        z = self._encode_latents(x)
        q, result = self.quantize(z)
        result["latents"] = z
        return q, result

    def decode(self, q: Tensor) -> Tensor:
        """q (B, D, 1, N) codes (from either tokenizer of a shared code space) -> reconstruction."""
        self._check_codes(q)
        return self._decode_codes(q)

    def decode_tokens(self, tokens: Tensor) -> Tensor:
        """Token ids (B, N) or (B, 1, N) -> reconstruction."""
        return self._decode_codes(self._tokens_to_codes(tokens))

    def decode_multi_tokens(self, series_tokens: Tensor, image_tokens: Tensor, alpha: float = 0.5) -> Tensor:
        """Blend two token sequences' codes and decode: q = alpha * q_series + (1 - alpha) * q_image.

        The same convention on both tokenizers: ``alpha`` is the weight of the series (temporal) code, so
        alpha=0 decodes the image tokens unchanged and alpha=1 the series tokens. The blend is of the looked-up
        continuous codes, not re-normalised. Ids (B, N) or (B, 1, N) each.
        """
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        q = alpha * self._tokens_to_codes(series_tokens) + (1.0 - alpha) * self._tokens_to_codes(image_tokens)
        return self._decode_codes(q)

    def forward(self, x: Tensor) -> tuple[Tensor, dict]:
        """x -> (reconstruction, result dict of ``quantize_input``)."""
        q, result = self.quantize_input(x)
        return self._decode_codes(q), result


def as_token_ids(tokens: Tensor, num_tokens: int, codebook_size: int) -> Tensor:
    """Validate token ids (B, N) or (B, 1, N) with values in [0, K); return them as (B, N) long."""
    if not isinstance(tokens, Tensor) or tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        got = tokens.dtype if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"expected integer token ids (B, {num_tokens}), got {got}")
    if tokens.ndim == 3 and tokens.shape[1] == 1:
        tokens = tokens[:, 0]
    if tokens.ndim != 2 or tokens.shape[1] != num_tokens:
        raise ValueError(
            f"expected token ids of shape (B, {num_tokens}) or (B, 1, {num_tokens}), got {tuple(tokens.shape)}"
        )
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= codebook_size):
        raise ValueError(
            f"expected token ids in [0, {codebook_size}), got values in [{int(tokens.min())}, {int(tokens.max())}]"
        )
    return tokens.long()


def check_finite(x: Tensor, what: str) -> None:
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"expected finite {what}, got {bad} NaN or inf values out of {x.numel()}")

