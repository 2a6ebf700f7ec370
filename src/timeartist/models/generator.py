"""``TokenGenerator``: MaskGIT-style image generation in the shared code space.

A bidirectional transformer reads a partly masked sequence of the N visual tokens (ids in [0, K) of the shared
codebook, or the mask id K) together with its conditions and predicts every position's code:

    [class ; S series tokens ; N image tokens]  -> pre-LN transformer -> logits (B, N, K) at the image positions

Conditions: a class id (``condition_num_classes`` ids plus a null class) and, when ``num_series_tokens > 0``, the
token sequence of a series (ids of the same codebook, so they share the embedding table; a dropped or absent
series is S null-series ids). Training drops conditions at random (``timeartist.training.generator``), which is
what classifier-free guidance needs:

    logits = uncond + g * (cond - uncond),   uncond = both conditions null

so ``g = 0`` samples unconditionally (the conditions are not even evaluated), ``g = 1`` samples from the
conditional model, ``g > 1`` sharpens towards the condition. TiTok's ``guidance_scale`` s corresponds to g = 1 + s.

Decoding (``generate``) starts from all-masked ids and runs ``steps`` parallel steps: sample every masked
position (Gumbel-max at ``temperature``; 0 = argmax), then re-mask the least confident new tokens so that the
mask schedule's count stays masked (``timeartist.modules.masking``). Confidence is the sampled token's
log-probability plus Gumbel noise scaled by ``randomize_temperature * (1 - s / steps)``, as MaskGIT / TiTok.
All randomness comes from the given ``torch.Generator``, so a seed fixes the output.

Config field names follow TiTok's ``model.generator`` keys (``hidden_size``, ``num_hidden_layers``, ...); the
defaults are TiTok's B-64 generator (768 wide, 24 blocks, 16 heads, ~177 M parameters).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin
from timeartist.models.config import resolve_config
from timeartist.modules.masking import check_schedule, masked_counts
from timeartist.modules.vit import ResidualAttentionBlock, as_token_ids, init_weights, run_blocks, scaled_randn

logger = logging.getLogger(__name__)

# TiTok generator keys that concern training or TiTok's own sampler, not the network.
NON_MODEL_KEYS = {"model_type", "attn_drop", "num_steps", "class_label_dropout", "guidance_scale", "guidance_decay"}


@dataclass
class TokenGeneratorConfig:
    """Vocabulary, conditions and transformer size. Defaults: TiTok's B-64 generator over 64 tokens of 4096 codes.

    ``num_series_tokens`` = 0 turns series conditioning off; ``dropout`` acts on the embedded input sequence
    (TiTok's BERT also drops inside its blocks; ours have no dropout); ``randomize_temperature`` scales the
    confidence noise of decoding (annealed to 0 over the steps).
    """

    codebook_size: int = 4096
    image_seq_len: int = 64
    condition_num_classes: int = 1000
    num_series_tokens: int = 0
    hidden_size: int = 768
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 3072
    dropout: float = 0.1
    mask_schedule_strategy: str = "cosine"
    randomize_temperature: float = 4.5

    def __post_init__(self) -> None:
        positive = ("codebook_size", "image_seq_len", "condition_num_classes", "hidden_size", "num_hidden_layers")
        for name in positive + ("num_attention_heads", "intermediate_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TokenGeneratorConfig.{name} must be a positive int, got {value!r}")
        if isinstance(self.num_series_tokens, bool) or not isinstance(self.num_series_tokens, int) or self.num_series_tokens < 0:
            raise ValueError(f"TokenGeneratorConfig.num_series_tokens must be an int >= 0, got {self.num_series_tokens!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_attention_heads {self.num_attention_heads}"
            )
        if not 0.0 <= self.dropout < 1.0 or self.randomize_temperature < 0:
            raise ValueError(
                f"expected dropout in [0, 1) and randomize_temperature >= 0, got {self.dropout} and {self.randomize_temperature}"
            )
        check_schedule(self.mask_schedule_strategy)

    @classmethod
    def from_seed(cls, config: Mapping | DictConfig) -> "TokenGeneratorConfig":
        """From a seed / TiTok layout: ``model.generator.*`` plus ``model.vq_model.{codebook_size,
        num_latent_tokens}``. TiTok's training and sampler keys (``NON_MODEL_KEYS``) are skipped."""
        values = OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else dict(config)
        model = values.get("model") or {}
        generator = model.get("generator")
        if not isinstance(generator, Mapping):
            raise ValueError(f"expected a config with a model.generator section, got model keys {sorted(model)}")
        vq = model.get("vq_model") or {}
        fields = {f.name for f in dataclasses.fields(cls)}
        picked = {k: v for k, v in generator.items() if k in fields}
        unknown = sorted(set(generator) - fields - NON_MODEL_KEYS)
        if unknown:
            raise ValueError(f"unknown model.generator keys {unknown}; known: {sorted(fields | NON_MODEL_KEYS)}")
        if "codebook_size" in vq:
            picked.setdefault("codebook_size", vq["codebook_size"])
        if "num_latent_tokens" in vq:
            picked.setdefault("image_seq_len", vq["num_latent_tokens"])
        return cls(**picked)


class TokenGenerator(nn.Module, PretrainedMixin):
    """Class- and series-conditional masked-token transformer over N tokens of a K-code codebook.

    Token ids: 0..K-1 codes, ``mask_token_id`` = K, ``null_series_id`` = K + 1 (inputs only; outputs are codes).
    Class ids: 0..C-1, ``null_class`` = C.
    """

    config_class = TokenGeneratorConfig

    def __init__(self, config: TokenGeneratorConfig | Mapping | DictConfig):
        super().__init__()
        config = resolve_config(TokenGeneratorConfig, config)
        self.config = config
        width = config.hidden_size
        self.token_embedding = nn.Embedding(config.codebook_size + 2, width)
        self.class_embedding = nn.Embedding(config.condition_num_classes + 1, width)
        self.positional_embedding = scaled_randn(width, 1 + config.num_series_tokens + config.image_seq_len)
        self.ln_pre = nn.LayerNorm(width)
        self.dropout = nn.Dropout(config.dropout)
        mlp_ratio = config.intermediate_size / width
        self.transformer = nn.ModuleList(
            ResidualAttentionBlock(width, config.num_attention_heads, mlp_ratio) for _ in range(config.num_hidden_layers)
        )
        self.ln_post = nn.LayerNorm(width)
        self.head = nn.Linear(width, config.codebook_size)
        self.apply(init_weights)

    # ------------------------------------------------------------------ ids
    @property
    def mask_token_id(self) -> int:
        return self.config.codebook_size

    @property
    def null_series_id(self) -> int:
        return self.config.codebook_size + 1

    @property
    def null_class(self) -> int:
        return self.config.condition_num_classes

    @property
    def device(self) -> torch.device:
        return self.positional_embedding.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ network
    def forward(self, tokens: Tensor, class_ids: Tensor | None = None, series_tokens: Tensor | None = None) -> Tensor:
        """Logits (B, N, K) for every image position.

        tokens: (B, N) ids in [0, K] (K = mask). class_ids: (B,) in [0, C] (C = null class), None = all null.
        series_tokens: (B, S) ids in [0, K) or whole rows of ``null_series_id``; None = all null. Must be None
        when the model has no series conditioning (``num_series_tokens`` = 0).
        """
        cfg = self.config
        tokens = self._check_ids(tokens, "tokens", (cfg.image_seq_len,), allowed_max=self.mask_token_id)
        batch = tokens.shape[0]
        class_ids = self._class_ids(class_ids, batch)
        parts = [self.class_embedding(class_ids)[:, None]]
        if cfg.num_series_tokens:
            if series_tokens is None:
                series_tokens = torch.full((batch, cfg.num_series_tokens), self.null_series_id, device=tokens.device)
            series_tokens = self._check_series(series_tokens, batch)
            parts.append(self.token_embedding(series_tokens))
        elif series_tokens is not None:
            raise ValueError("this TokenGenerator has no series conditioning (num_series_tokens=0); pass series_tokens=None")
        parts.append(self.token_embedding(tokens))
        x = torch.cat(parts, dim=1) + self.positional_embedding
        x = run_blocks(self.transformer, self.dropout(self.ln_pre(x)))
        return self.head(self.ln_post(x[:, -cfg.image_seq_len :]))

    def guided_logits(
        self, tokens: Tensor, class_ids: Tensor | None, series_tokens: Tensor | None, guidance: float
    ) -> Tensor:
        """Classifier-free guided logits (B, N, K): uncond + g * (cond - uncond).

        With g = 0, or no condition given, only the unconditional pass runs (bit-identical to ``self(tokens)``);
        with g = 1 only the conditional one; otherwise both run as one batch of 2B.
        """
        if guidance == 0 or (class_ids is None and series_tokens is None):
            return self(tokens)
        if guidance == 1:
            return self(tokens, class_ids, series_tokens)
        batch = tokens.shape[0]
        null_classes = torch.full((batch,), self.null_class, dtype=torch.long, device=tokens.device)
        classes = torch.cat([self._class_ids(class_ids, batch), null_classes])
        series = None
        if series_tokens is not None:
            null_series = torch.full_like(series_tokens, self.null_series_id)
            series = torch.cat([series_tokens, null_series])
        cond, uncond = self(torch.cat([tokens, tokens]), classes, series).chunk(2)
        return uncond + guidance * (cond - uncond)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(
        self,
        class_ids: Tensor | None,
        n: int | None = None,
        steps: int = 8,
        guidance: float = 0.0,
        temperature: float = 1.0,
        series_tokens: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample token ids (B, N) in [0, K) by parallel iterative decoding.

        class_ids: (B,) ImageNet-style class ids in [0, C) (C = null class allowed), or None (unconditional).
        n: batch size when neither class_ids nor series_tokens fixes it (must agree when given with them).
        steps: decoding steps in [1, N] (default 8). guidance: g of ``guided_logits``; 0 = unconditional.
        temperature: sampling temperature (0 = greedy). series_tokens: (B, S) or (B, 1, S) ids in [0, K) of a
        series' tokenization (needs ``num_series_tokens = S``). generator: the source of every random draw;
        results are reproducible for a fixed seed, device and batch. Runs in eval mode (dropout off).
        """
        cfg = self.config
        if not math.isfinite(guidance):
            raise ValueError(f"guidance must be a finite number, got {guidance}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
        batch, class_ids, series_tokens = self._sampling_conditions(class_ids, n, series_tokens)
        counts = masked_counts(cfg.image_seq_len, steps, cfg.mask_schedule_strategy)
        device = self.device
        ids = torch.full((batch, cfg.image_seq_len), self.mask_token_id, dtype=torch.long, device=device)
        was_training = self.training
        self.eval()
        try:
            for step in range(1, steps + 1):
                masked = ids == self.mask_token_id
                logits = self.guided_logits(ids, class_ids, series_tokens, guidance).float()
                # both noises are drawn every step so the random stream does not depend on the settings
                sample_noise = _gumbel((batch, cfg.image_seq_len, cfg.codebook_size), generator, device)
                confidence_noise = _gumbel((batch, cfg.image_seq_len), generator, device)
                if temperature > 0:
                    logits = logits / temperature
                    sampled = (logits + sample_noise).argmax(dim=-1)
                else:
                    sampled = logits.argmax(dim=-1)
                ids = torch.where(masked, sampled, ids)
                if counts[step] == 0:
                    break
                log_prob = logits.log_softmax(dim=-1).gather(-1, sampled[..., None])[..., 0]
                noise_scale = cfg.randomize_temperature * (1.0 - step / steps)
                confidence = (log_prob + noise_scale * confidence_noise).masked_fill(~masked, math.inf)
                remask = confidence.topk(counts[step], dim=-1, largest=False).indices
                ids = ids.scatter(1, remask, self.mask_token_id)
        finally:
            self.train(was_training)
        return ids

    # ------------------------------------------------------------------ input checks
    def _sampling_conditions(
        self, class_ids: Tensor | None, n: int | None, series_tokens: Tensor | None
    ) -> tuple[int, Tensor | None, Tensor | None]:
        """(batch size, class ids (B,) or None, series ids (B, S) or None) on the model's device."""
        sizes = {}
        if class_ids is not None:
            class_ids = torch.as_tensor(class_ids)
            if class_ids.ndim != 1:
                raise ValueError(f"expected class_ids of shape (B,), got {tuple(class_ids.shape)}")
            sizes["class_ids"] = class_ids.shape[0]
        if series_tokens is not None:
            if not self.config.num_series_tokens:
                raise ValueError("this TokenGenerator has no series conditioning (num_series_tokens=0); pass series_tokens=None")
            series_tokens = as_token_ids(series_tokens, self.config.num_series_tokens, self.config.codebook_size)
            sizes["series_tokens"] = series_tokens.shape[0]
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"n must be a positive int, got {n!r}")
            sizes["n"] = n
        if not sizes:
            raise ValueError("generate needs class_ids, series_tokens or n to know how many sequences to draw")
        if len(set(sizes.values())) > 1:
            raise ValueError(f"batch sizes disagree: {sizes}")
        batch = next(iter(sizes.values()))
        if batch < 1:
            raise ValueError(f"expected at least one sequence to generate, got {sizes}")
        device = self.device
        if class_ids is not None:
            class_ids = self._class_ids(class_ids.to(device), batch)
        return batch, class_ids, None if series_tokens is None else series_tokens.to(device)

    def _class_ids(self, class_ids: Tensor | None, batch: int) -> Tensor:
        if class_ids is None:
            return torch.full((batch,), self.null_class, dtype=torch.long, device=self.device)
        return self._check_ids(class_ids, "class_ids", (), allowed_max=self.null_class, batch=batch)

    def _check_series(self, series_tokens: Tensor, batch: int) -> Tensor:
        """(B, S) code ids, or whole rows of ``null_series_id`` (a dropped condition)."""
        series_tokens = self._check_ids(
            series_tokens, "series_tokens", (self.config.num_series_tokens,), allowed_max=self.null_series_id, batch=batch
        )
        is_null = series_tokens == self.null_series_id
        bad = (series_tokens == self.mask_token_id) | (is_null != is_null.all(dim=1, keepdim=True))
        if bad.any():
            raise ValueError(
                f"series_tokens must be code ids in [0, {self.config.codebook_size}) or whole rows of the null id "
                f"{self.null_series_id}"
            )
        return series_tokens

    @staticmethod
    def _check_ids(ids: Tensor, name: str, tail: tuple[int, ...], allowed_max: int, batch: int | None = None) -> Tensor:
        """Integer tensor of shape (B, *tail) with values in [0, allowed_max]; returned as long."""
        if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            got = ids.dtype if isinstance(ids, Tensor) else type(ids).__name__
            raise ValueError(f"expected integer {name}, got {got}")
        if ids.ndim != 1 + len(tail) or tuple(ids.shape[1:]) != tail or (batch is not None and ids.shape[0] != batch):
            expected = (batch if batch is not None else "B", *tail)
            raise ValueError(f"expected {name} of shape {expected}, got {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) > allowed_max):
            raise ValueError(f"expected {name} in [0, {allowed_max}], got values in [{int(ids.min())}, {int(ids.max())}]")
        return ids.long()


def _gumbel(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard Gumbel noise drawn on the generator's device (so a seed means the same on any model device)."""
    rng_device = generator.device if generator is not None else device
    u = torch.rand(shape, generator=generator, device=rng_device).clamp_(1e-20, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(device)
