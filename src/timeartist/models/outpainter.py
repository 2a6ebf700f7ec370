"""The project's own small MAE-style outpainter.

A masked autoencoder (He et al. 2022) reduced to what zero-shot forecasting by outpainting needs: the canvas is
cut into patches (full-height column patches are allowed, so one token can be one whole period of a folded
series), the encoder sees only the visible left patch columns, and a light decoder fills every masked column to
their right from mask tokens, as VisionTS does with a pretrained MAE. The right-side mask comes from
``right_mask_noise`` so this model and the Hugging Face ViTMAE adapter mask identically.

Periodic prior (``prior_windows``, column patches only): a folded series' next period is, before anything else,
"the average of its last k periods" for some k that depends on how noisy and how stable the series is. With
``prior_windows = (k_1, ..., k_m)`` every predicted column is a softmax-weighted mix of the means of the last k_j
visible columns (each k capped at the visible width) plus the head's correction; the weights are read from that
column's decoder token, so the model chooses per series and per lead time how much history to average and learns
only what the average misses (level changes, trends, shape changes). With zero-initialised weight and correction
heads an untrained model forecasts the plain mean of the m seasonal means.

Quantile head (``quantile_levels``, VisionTS++'s idea with a monotone parametrisation): beside the point head, a
linear head reads every decoder token and gives, per pixel, the quantile closest to 0.5 as the point prediction plus
a free offset, and each further level as its neighbour plus a softplus step, so the levels can never cross. Trained
with the pinball loss on the rendered future (``training.outpainter``); because rendering and read-back resample with
non-negative weights, the quantiles of the series read back stay ordered too.

Shapes: images (B, C, H, W); patches (B, N, C*ph*pw) with N = (H/ph) * (W/pw) in row-major patch order; quantile
canvases (B, Q, C, H, W).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin
from timeartist.models.outpainting import right_mask_noise

QUANTILE_STEP_INIT = -2.25  # softplus(-2.25) = 0.1: neighbouring levels start 0.1 apart (context std is 0.4)


@dataclass
class OutpainterConfig:
    """Canvas, patching and transformer sizes of ``MAEOutpainter``."""

    image_size: tuple[int, int] = (24, 64)  # canvas (H, W): one period per pixel column, resampled to H rows
    patch_size: tuple[int, int] = (24, 1)  # (ph, pw); (H, 1) makes every pixel column one token
    channels: int = 3
    width: int = 128
    depth: int = 3  # encoder blocks, visible tokens only
    decoder_depth: int = 1  # decoder blocks, all tokens
    heads: int = 4
    mlp_ratio: float = 2.0
    prior_windows: tuple[int, ...] = ()  # periodic prior: means over the last k visible columns (column patches)
    quantile_levels: tuple[float, ...] = ()  # levels of the quantile head, increasing in (0, 1); () = point only

    def __post_init__(self):
        # JSON round trips turn tuples into lists.
        self.image_size, self.patch_size = tuple(self.image_size), tuple(self.patch_size)
        self.prior_windows = tuple(int(k) for k in self.prior_windows)
        self.quantile_levels = tuple(float(q) for q in self.quantile_levels)
        levels = self.quantile_levels
        if levels and (min(levels) <= 0 or max(levels) >= 1 or any(a >= b for a, b in zip(levels, levels[1:]))):
            raise ValueError(f"quantile_levels must increase strictly inside (0, 1), got {levels}")
        (h, w), (ph, pw) = self.image_size, self.patch_size
        if h % ph or w % pw:
            raise ValueError(f"image_size {self.image_size} must be divisible by patch_size {self.patch_size}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")
        if self.prior_windows and (ph != h or pw != 1 or min(self.prior_windows) < 1):
            raise ValueError(
                f"prior_windows (positive column counts) need one token per pixel column, patch_size ({h}, 1); got "
                f"patch_size {self.patch_size} and prior_windows {self.prior_windows}"
            )

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid (rows, columns)."""
        return self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1]


def _transformer(config: OutpainterConfig, depth: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        config.width,
        config.heads,
        dim_feedforward=round(config.width * config.mlp_ratio),
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(config.width), enable_nested_tensor=False)


class MAEOutpainter(nn.Module, PretrainedMixin):
    """Small MAE that predicts the masked right part of a canvas; implements the ``Outpainter`` protocol."""

    config_class = OutpainterConfig

    def __init__(self, config: OutpainterConfig):
        super().__init__()
        self.config = config
        self.image_size, self.patch_size = config.image_size, config.patch_size
        ph, pw = config.patch_size
        patch_dim = config.channels * ph * pw
        num_patches = math.prod(config.grid)
        self.patch_embed = nn.Linear(patch_dim, config.width)
        self.encoder_pos = nn.Parameter(torch.randn(1, num_patches, config.width) * 0.02)
        self.encoder = _transformer(config, config.depth)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.decoder_pos = nn.Parameter(torch.randn(1, num_patches, config.width) * 0.02)
        self.decoder = _transformer(config, config.decoder_depth)
        self.head = nn.Linear(config.width, patch_dim)
        if config.prior_windows:
            self.prior_weights = nn.Linear(config.width, len(config.prior_windows))
            for layer in (self.head, self.prior_weights):  # start as the plain mean of the seasonal means
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        if config.quantile_levels:
            self.quantile_head = nn.Linear(config.width, patch_dim * len(config.quantile_levels))
            nn.init.zeros_(self.quantile_head.weight)
            nn.init.constant_(self.quantile_head.bias, QUANTILE_STEP_INIT)
            with torch.no_grad():  # the level nearest 0.5 starts at the point prediction
                anchor = self.quantile_anchor
                self.quantile_head.bias[anchor * patch_dim : (anchor + 1) * patch_dim] = 0.0

    def _check(self, images: Tensor) -> None:
        expected = (self.config.channels, *self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"{type(self).__name__} expects images (B, {', '.join(map(str, expected))}), got {tuple(images.shape)}")

    def patchify(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, N, C*ph*pw), patches in row-major order."""
        ph, pw = self.patch_size
        return rearrange(images, "b c (h ph) (w pw) -> b (h w) (c ph pw)", ph=ph, pw=pw)

    def unpatchify(self, patches: Tensor) -> Tensor:
        """(B, N, C*ph*pw) -> (B, C, H, W)."""
        (ph, pw), (gh, gw) = self.patch_size, self.config.grid
        return rearrange(patches, "b (h w) (c ph pw) -> b c (h ph) (w pw)", h=gh, w=gw, ph=ph, pw=pw)

    def forward(self, images: Tensor, visible_cols: int) -> Tensor:
        """Predict the whole canvas from its left ``visible_cols`` patch columns.

        images (B, C, H, W) -> (B, C, H, W); the masked pixels of the input are never read, and the visible part
        of the output is the model's reconstruction (training puts its loss on the masked columns).
        """
        return self.unpatchify(self._predict(images, visible_cols)[0])

    def forward_quantiles(self, images: Tensor, visible_cols: int, read_cols: int | None = None) -> tuple[Tensor, Tensor]:
        """Point canvas (B, C, H, W) and quantile canvases (B, Q, C, H, W), Q = len(quantile_levels), increasing
        along Q at every pixel. The head reads only the tokens of the ``read_cols`` patch columns after the visible
        ones (None: all masked columns; a forecast reads back only the columns of its horizon, and the head, unlike
        the decoder, works per token); elsewhere every level is the point prediction."""
        if not self.config.quantile_levels:
            raise ValueError("this MAEOutpainter has no quantile head (quantile_levels is empty)")
        patches, tokens = self._predict(images, visible_cols)
        column = torch.arange(patches.shape[1], device=patches.device) % self.config.grid[1]  # row-major patches
        masked = (column >= visible_cols) & (column < visible_cols + (read_cols or self.config.grid[1]))
        steps = rearrange(self.quantile_head(tokens[:, masked]).float(), "b n (q d) -> q b n d", q=len(self.config.quantile_levels))
        anchor = self.quantile_anchor
        levels = [None] * len(steps)
        levels[anchor] = patches[:, masked].float() + steps[anchor]
        for k in range(anchor + 1, len(steps)):  # monotone by construction: softplus steps away from the anchor
            levels[k] = levels[k - 1] + F.softplus(steps[k])
        for k in range(anchor - 1, -1, -1):
            levels[k] = levels[k + 1] - F.softplus(steps[k])
        full = patches.float()[:, None].repeat(1, len(levels), 1, 1)  # (B, Q, N, D)
        full[:, :, masked] = torch.stack(levels, dim=1)
        quantiles = rearrange(self.unpatchify(rearrange(full, "b q n d -> (b q) n d")), "(b q) c h w -> b q c h w", q=len(levels))
        return self.unpatchify(patches), quantiles

    @property
    def quantile_anchor(self) -> int:
        """Index of the quantile level nearest 0.5: the point prediction plus a free offset."""
        levels = self.config.quantile_levels
        return min(range(len(levels)), key=lambda k: abs(levels[k] - 0.5))

    def _predict(self, images: Tensor, visible_cols: int) -> tuple[Tensor, Tensor]:
        """-> point patches (B, N, C*ph*pw) and the decoder tokens (B, N, width) they were read from."""
        self._check(images)
        patches = self.patchify(images)
        batch, num_patches, _ = patches.shape
        grid_h = self.config.grid[0]
        # MAE bookkeeping: sort patches so the visible ones come first, encode those, then restore the order.
        order = right_mask_noise(batch, self.config.grid, visible_cols, images.device).argsort(dim=1)
        restore = order.argsort(dim=1)
        keep = order[:, : visible_cols * grid_h]

        tokens = self.patch_embed(patches) + self.encoder_pos
        tokens = torch.gather(tokens, 1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        latent = self.encoder(tokens)

        masked = self.mask_token.expand(batch, num_patches - latent.shape[1], -1)
        full = torch.cat([latent, masked], dim=1)
        full = torch.gather(full, 1, restore[..., None].expand(-1, -1, full.shape[-1])) + self.decoder_pos
        tokens = self.decoder(full)
        patches = self.head(tokens)
        if self.config.prior_windows:
            patches = patches + self.periodic_prior(tokens, images, visible_cols)
        return patches, tokens

    def periodic_prior(self, tokens: Tensor, images: Tensor, visible_cols: int) -> Tensor:
        """Per column token, the softmax(prior_weights(token))-weighted mix of the means of the last k visible
        columns, k in ``prior_windows``: (B, W, C*H) float32, in the patch layout of column tokens."""
        visible = rearrange(images[..., :visible_cols], "b c h w -> b w (c h)").float()  # fp32 sums under autocast
        cumulative = torch.cat([torch.zeros_like(visible[:, :1]), visible.cumsum(1)], dim=1)  # (B, v + 1, C*H)
        windows = [min(k, visible_cols) for k in self.config.prior_windows]
        means = torch.stack([(cumulative[:, -1] - cumulative[:, -1 - k]) / k for k in windows], dim=1)  # (B, m, C*H)
        weights = self.prior_weights(tokens).float().softmax(dim=-1)  # (B, W, m)
        return weights @ means

    @torch.no_grad()
    def outpaint(self, images: Tensor, visible_cols: int) -> Tensor:
        """Outpainter protocol: (B, C, H, W) -> (B, C, H, W) with the visible columns pasted back unchanged."""
        return self._paste(images, visible_cols, self._eval(self.forward, images, visible_cols))

    @torch.no_grad()
    def outpaint_quantiles(self, images: Tensor, visible_cols: int, read_cols: int | None = None) -> tuple[Tensor, Tensor]:
        """``outpaint`` and the quantile canvases (B, Q, C, H, W), the visible columns pasted into each level
        (``read_cols``: see ``forward_quantiles``)."""
        point, quantiles = self._eval(self.forward_quantiles, images, visible_cols, read_cols)
        return self._paste(images, visible_cols, point), self._paste(images[:, None], visible_cols, quantiles)

    def _eval(self, method, *args):
        was_training = self.training
        self.eval()
        try:
            return method(*args)
        finally:
            self.train(was_training)

    def _paste(self, images: Tensor, visible_cols: int, prediction: Tensor) -> Tensor:
        split = visible_cols * self.patch_size[1]
        return torch.cat([images[..., :split].expand(*prediction.shape[:-1], split), prediction[..., split:]], dim=-1)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)}" for f in dataclasses.fields(self.config))
