"""Typed model configs, and their conversion from the seed's OmegaConf YAML layout.

Field names follow the seed / TiTok ``model.vq_model`` keys where those exist, so a seed YAML maps onto a
config key by key. A YAML for the series tokenizer reads ``dataset.preprocessing.seq_len``; one for the image
tokenizer reads ``dataset.preprocessing.crop_size`` (TiTok's HF ``config.json`` has the same layout). The
alignment reads the code-space keys plus an optional ``model.align`` section. Keys ours adds to the seed layout:
``quantizer_heads``, ``head_codebook_sizes``, ``dead_code_threshold`` (the Multi-Head Quantizer), ``token_skip`` and, for small
image tokenizers with the legacy head, ``proxy_codebook_size``, ``proxy_code_dim``, ``pixel_hidden_channels``,
``pixel_channel_mult``, ``pixel_num_res_blocks``, and ``conv_channels`` (a convolutional stem and pixel head).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from timeartist.hub import config_from_dict
from timeartist.modules.vit import MODEL_SIZES

logger = logging.getLogger(__name__)

C = TypeVar("C")

# Seed keys that only matter to the seed's training scripts (the MaskGIT proxy-code teacher).
TRAINING_ONLY_KEYS = {"pretrained_tokenizer_weight"}


def _positive(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{type(config).__name__}.{name} must be a positive int, got {value!r}")


def _divides(config: Any, length_name: str, patch_name: str) -> None:
    length, patch = getattr(config, length_name), getattr(config, patch_name)
    if length % patch:
        raise ValueError(f"{length_name}={length} must be a multiple of {patch_name}={patch}")


def _model_size(config: Any, name: str) -> None:
    if getattr(config, name) not in MODEL_SIZES:
        raise ValueError(f"{name}={getattr(config, name)!r} is not a model size; expected one of {sorted(MODEL_SIZES)}")


@dataclass
class TokenizerConfig:
    """What both tokenizers share: the code space (quantizer) and the ViT encoder / decoder sizes."""

    codebook_size: int = 4096
    token_size: int = 12
    use_l2_norm: bool = True
    commitment_cost: float = 0.25
    quantizer_heads: int = 1
    head_codebook_sizes: tuple[int, ...] | None = None
    dead_code_threshold: float = 0.0
    vit_enc_model_size: str = "base"
    vit_dec_model_size: str = "base"
    vit_enc_patch_size: int = 16
    vit_dec_patch_size: int = 16
    num_latent_tokens: int = 64
    token_skip: bool = False  # patches -> latents and codes -> queries skip paths (``timeartist.modules.vit``)

    def __post_init__(self) -> None:
        _positive(self, "codebook_size", "token_size", "quantizer_heads", "vit_enc_patch_size", "vit_dec_patch_size")
        _positive(self, "num_latent_tokens")
        _model_size(self, "vit_enc_model_size")
        _model_size(self, "vit_dec_model_size")
        if self.head_codebook_sizes is not None:
            self.head_codebook_sizes = tuple(int(k) for k in self.head_codebook_sizes)

    @classmethod
    def from_seed(cls: type[C], config: Mapping | DictConfig) -> C:
        """Build from a seed-layout config (``model.vq_model.*``, ``dataset.preprocessing.*``)."""
        vq, preprocessing = _seed_sections(config)
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in vq.items() if k in names}
        values.update(cls._from_preprocessing(preprocessing))
        return cls(**values)

    @staticmethod
    def _from_preprocessing(preprocessing: Mapping) -> dict:
        return {}


@dataclass
class TimeArtistConfig(TokenizerConfig):
    """Series tokenizer: a (B, seq_len) series -> num_latent_tokens codes of token_size channels."""

    seq_len: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "seq_len")
        _divides(self, "seq_len", "vit_enc_patch_size")
        _divides(self, "seq_len", "vit_dec_patch_size")

    @staticmethod
    def _from_preprocessing(preprocessing: Mapping) -> dict:
        return {"seq_len": preprocessing["seq_len"]} if "seq_len" in preprocessing else {}


@dataclass
class VisionModelConfig(TokenizerConfig):
    """Image tokenizer (TiTok). ``is_legacy`` and ``finetune_decoder`` are TiTok's flags and go together here:
    True gives TiTok-B-64's layout (legacy latent reshape, proxy-code head, MaskGIT-VQGAN pixel decoder), False
    the small direct pixel head. The pixel-decoder fields size the legacy route (defaults: TiTok-B-64's)."""

    image_size: int = 256
    is_legacy: bool = True
    finetune_decoder: bool = True
    # The encoder reads (x - 0.45) / 0.25 instead of [0, 1] pixels. TiTok's weights were trained without it;
    # small tokenizers trained from scratch become input-dependent several times sooner with it.
    centre_pixels: bool = False
    proxy_codebook_size: int = 1024
    proxy_code_dim: int = 256
    pixel_hidden_channels: int = 128
    pixel_channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    pixel_num_res_blocks: int = 2
    # Small layout only: channels of a convolutional stem / pixel-shuffle head, one stride-2 stage per entry, so
    # len(conv_channels) = log2(patch size); () keeps the linear patch embedding and 1x1 pixel head.
    conv_channels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "image_size", "proxy_codebook_size", "proxy_code_dim", "pixel_hidden_channels")
        _positive(self, "pixel_num_res_blocks")
        _divides(self, "image_size", "vit_enc_patch_size")
        _divides(self, "image_size", "vit_dec_patch_size")
        self.pixel_channel_mult = tuple(int(m) for m in self.pixel_channel_mult)
        self.conv_channels = tuple(int(c) for c in self.conv_channels)
        if self.conv_channels:
            if self.is_legacy:
                raise ValueError("conv_channels is for the small layout (is_legacy=False); TiTok-B-64 has none")
            if min(self.conv_channels) < 1:
                raise ValueError(f"conv_channels must be positive, got {self.conv_channels}")
            for name in ("vit_enc_patch_size", "vit_dec_patch_size"):
                if getattr(self, name) != 2 ** len(self.conv_channels):
                    raise ValueError(
                        f"{len(self.conv_channels)} conv stages resample by {2 ** len(self.conv_channels)}, so "
                        f"{name} must be {2 ** len(self.conv_channels)}, got {getattr(self, name)}"
                    )
        if self.is_legacy != self.finetune_decoder:
            raise ValueError(
                f"VisionModel needs is_legacy == finetune_decoder (True: TiTok's proxy-code head + VQGAN pixel "
                f"decoder; False: direct pixel head), got is_legacy={self.is_legacy}, "
                f"finetune_decoder={self.finetune_decoder}"
            )
        if self.is_legacy:
            grid = self.image_size // self.vit_dec_patch_size
            upsampled = grid * 2 ** (len(self.pixel_channel_mult) - 1)
            if upsampled != self.image_size:
                raise ValueError(
                    f"the pixel decoder upsamples the {grid}x{grid} grid to {upsampled}, expected image_size="
                    f"{self.image_size}: pixel_channel_mult needs log2({self.image_size}/{grid}) + 1 entries"
                )

    @staticmethod
    def _from_preprocessing(preprocessing: Mapping) -> dict:
        return {"image_size": preprocessing["crop_size"]} if "crop_size" in preprocessing else {}


@dataclass
class AdapterAlignmentConfig:
    """Token-id translator between the two modalities' uses of one code space (see ``AdapterAlignment``)."""

    codebook_size: int = 4096
    num_latent_tokens: int = 64
    model_size: str = "base"

    def __post_init__(self) -> None:
        _positive(self, "codebook_size", "num_latent_tokens")
        _model_size(self, "model_size")

    @classmethod
    def from_seed(cls, config: Mapping | DictConfig) -> "AdapterAlignmentConfig":
        """``model.vq_model.{codebook_size, num_latent_tokens}``; the size from ``model.align.model_size``,
        else the tokenizers' ``vit_enc_model_size`` (the seed's stage-2 YAML keeps the stage-1 ViT sizes)."""
        vq, _ = _seed_sections(config)
        align = _container(config).get("model", {}).get("align") or {}
        size = align.get("model_size", vq.get("vit_enc_model_size", "base"))
        return cls(
            codebook_size=vq.get("codebook_size", cls.codebook_size),
            num_latent_tokens=vq.get("num_latent_tokens", cls.num_latent_tokens),
            model_size=size,
        )


def _container(config: Mapping | DictConfig) -> dict:
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    if isinstance(config, Mapping):
        return dict(config)
    raise ValueError(f"expected a dict or OmegaConf DictConfig, got {type(config).__name__}")


def _seed_sections(config: Mapping | DictConfig) -> tuple[dict, dict]:
    """(model.vq_model, dataset.preprocessing) of a seed-layout config, with unknown keys reported."""
    config = _container(config)
    vq = (config.get("model") or {}).get("vq_model")
    if not isinstance(vq, Mapping):
        raise ValueError(f"expected a seed config with a model.vq_model section, got top-level keys {sorted(config)}")
    mode = vq.get("quantize_mode", "vq")
    if mode != "vq":
        raise ValueError(f"only quantize_mode 'vq' is supported, got {mode!r}")
    known = {f.name for cls in (TimeArtistConfig, VisionModelConfig) for f in dataclasses.fields(cls)}
    ignored = sorted(set(vq) - known - TRAINING_ONLY_KEYS - {"quantize_mode"})
    if ignored:
        logger.warning("ignoring model.vq_model keys no model uses: %s", ignored)
    preprocessing = (config.get("dataset") or {}).get("preprocessing") or {}
    return dict(vq), dict(preprocessing)


def resolve_config(config_class: type[C], config: Any) -> C:
    """A ``config_class`` instance from itself, a seed-layout config (has ``model``) or a flat dict of fields."""
    if isinstance(config, config_class):
        return config
    if not isinstance(config, (Mapping, DictConfig)):
        raise ValueError(
            f"expected a {config_class.__name__}, a seed-layout config or a dict of its fields, got {type(config).__name__}"
        )
    values = _container(config)
    if "model" in values:
        return config_class.from_seed(values)
    return config_from_dict(config_class, values)
