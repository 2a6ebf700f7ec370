"""VisionTS periodic rendering: a series becomes an image by folding it by its period, and back.

Steps (Keytoyze/VisionTS ``visionts/model.py``; architecture.md section 6):

1. ``normalise``: subtract the context mean and divide by ``std / norm_const``, so the context's std becomes
   ``norm_const`` (0.4 by default). No absolute epsilon (VisionTS adds 1e-5 to the variance, which flattens series
   whose std is below about 0.003), so a forecast of ``c * x + d`` is ``c * forecast(x) + d`` at any scale ``c``. A
   context whose std is at most ``REL_EPS`` (1e-12) times its mean's magnitude is flat (float64 keeps fewer than 4
   digits of that spread): it normalises to zeros with scale 0, so whatever the outpainter draws maps back to the
   constant. An offset of 1e10 on a series of spread 1 (relative spread 1e-10) is forecast like the series itself.
2. Left-pad the context (replicating its first value) to whole periods.
3. Fold: a (P, n) grid, row = phase inside the period, column = one period.
4. Resize the grid (bilinear) onto the left ``visible_cols`` patch columns of a zero canvas, grey in 3 channels.
5. An outpainter fills the patch columns to the right.
6. ``read_back``: average RGB to grey, resize the whole canvas back to P rows and ``canvas_periods`` columns,
   unfold, and slice the context and the forecast out of it.

Two layouts (``plan_layout``):

- ``align_const`` a float: the VisionTS layout. The context is squeezed onto
  ``max(1, floor(n_ctx / (n_ctx + n_fut) * patch_columns * align_const))`` patch columns, however many periods it
  has; bilinear without antialias, as VisionTS. Made for a pretrained 224x224 MAE.
- ``align_const=None``: the native layout. Every period is exactly one pixel column (only the rows are
  resampled, with antialias when shrinking), so nothing is lost horizontally; the context is padded to a
  multiple of ``P * pw`` and context plus future must fit on the canvas. Made for column-patch outpainters such
  as ``MAEOutpainter``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

NORM_CONST = 0.4  # VisionTS default: the rendered context has this std
ALIGN_CONST = 0.4  # VisionTS default: share of the canvas the context may take
# A spread below REL_EPS of the level keeps fewer than about 4 significant digits in float64 (eps 2.2e-16): the row
# is treated as flat. Below ROUNDING (64 ulps) the spread is rounding noise of a constant.
REL_EPS = 1e-12
ROUNDING = 64 * float(torch.finfo(torch.float64).eps)


@dataclass(frozen=True)
class RenderLayout:
    """Where a context of ``context_len`` steps and a ``horizon`` go on a canvas, and how to read them back."""

    context_len: int
    horizon: int
    period: int
    pad_left: int  # replicated steps before the context, to fill whole periods (or period blocks)
    image_size: tuple[int, int]  # canvas (H, W)
    patch_size: tuple[int, int]  # (ph, pw)
    visible_cols: int  # patch columns holding the context
    canvas_periods: int  # periods the whole canvas width stands for when read back
    native: bool  # one pixel column per period (rows resampled with antialias), else the VisionTS squeeze

    @property
    def context_periods(self) -> int:
        return (self.pad_left + self.context_len) // self.period

    @property
    def context_width(self) -> int:
        """Pixel columns holding the context."""
        return self.visible_cols * self.patch_size[1]


def plan_layout(
    context_len: int,
    horizon: int,
    period: int,
    image_size: tuple[int, int],
    patch_size: tuple[int, int],
    align_const: float | None = ALIGN_CONST,
) -> RenderLayout:
    """Plan the canvas for one (context length, horizon, period); see the module docstring for the two layouts."""
    for name, value in (("context_len", context_len), ("horizon", horizon), ("period", period)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    (height, width), (ph, pw) = tuple(image_size), tuple(patch_size)
    if height % ph or width % pw:
        raise ValueError(f"image_size {image_size} must be divisible by patch_size {patch_size}")
    future_periods = math.ceil(horizon / period)

    if align_const is None:
        pad_left = -context_len % (period * pw)
        context_periods = (context_len + pad_left) // period
        if context_periods + future_periods > width:
            raise ValueError(
                f"native layout: {context_periods} context periods + {future_periods} future periods (period {period}) "
                f"do not fit on a canvas {width} pixel columns wide; shorten the context to at most "
                f"{(width - future_periods) // pw * pw * period} steps or fold by a longer period"
            )
        visible_cols, canvas_periods = context_periods // pw, width
    else:
        if not 0 < align_const <= 1:
            raise ValueError(f"align_const must be in (0, 1], got {align_const}")
        pad_left = -context_len % period
        context_periods = (context_len + pad_left) // period
        share = context_periods / (context_periods + future_periods)
        visible_cols = max(1, math.floor(share * (width // pw) * align_const))
        canvas_periods = round(width * context_periods / (visible_cols * pw))
        if canvas_periods < context_periods + future_periods:
            raise ValueError(
                f"VisionTS layout: the canvas reads back {canvas_periods} periods, fewer than the {context_periods} "
                f"context + {future_periods} future periods; use a smaller align_const (got {align_const})"
            )
    return RenderLayout(
        context_len=int(context_len),
        horizon=int(horizon),
        period=int(period),
        pad_left=pad_left,
        image_size=(height, width),
        patch_size=(ph, pw),
        visible_cols=visible_cols,
        canvas_periods=canvas_periods,
        native=align_const is None,
    )


def is_flat(std, mean):
    """Rows whose ``std`` is at most ``REL_EPS`` times the magnitude of their ``mean`` (numpy or torch, same shape)."""
    return std <= REL_EPS * abs(mean)


def normalise(context: Tensor, norm_const: float = NORM_CONST) -> tuple[Tensor, Tensor, Tensor]:
    """(B, L) -> (normalised (B, L), mean (B, 1), scale (B, 1)); ``x = normalised * scale + mean``. Flat rows
    (``is_flat``) get zeros and scale 0."""
    mean = context.mean(dim=-1, keepdim=True)
    std = context.std(dim=-1, unbiased=False, keepdim=True)
    flat = is_flat(std, mean)
    scale = torch.where(flat, 0.0, std / norm_const)
    return torch.where(flat, 0.0, (context - mean) / torch.where(flat, 1.0, scale)), mean, scale


def _resize(grid: Tensor, size: tuple[int, int], antialias: bool) -> Tensor:
    """(B, h, w) -> (B, *size), bilinear; untouched when the size already matches."""
    if tuple(grid.shape[-2:]) == tuple(size):
        return grid
    antialias = antialias and (size[0] < grid.shape[-2] or size[1] < grid.shape[-1])
    return F.interpolate(grid[:, None], size=size, mode="bilinear", align_corners=False, antialias=antialias)[:, 0]


def render(context: Tensor, layout: RenderLayout, future: Tensor | None = None) -> Tensor:
    """Fold a (normalised) context (B, L) onto a canvas (B, 3, H, W); the right part stays zero.

    ``future`` (B, horizon), native layout with a horizon of whole periods only: also draw the true future in
    the columns after the context, which gives the training target of an outpainter.
    """
    if context.ndim != 2 or context.shape[-1] != layout.context_len:
        raise ValueError(f"context must have shape (B, {layout.context_len}), got {tuple(context.shape)}")
    series = torch.cat([context[:, :1].expand(-1, layout.pad_left), context], dim=-1)
    columns = layout.context_width
    if future is not None:
        if not layout.native or layout.horizon % layout.period:
            raise ValueError("render(future=...) needs the native layout and a horizon of whole periods")
        if tuple(future.shape) != (context.shape[0], layout.horizon):
            raise ValueError(f"future must have shape ({context.shape[0]}, {layout.horizon}), got {tuple(future.shape)}")
        series = torch.cat([series, future], dim=-1)
        columns += layout.horizon // layout.period
    grid = rearrange(series, "b (n p) -> b p n", p=layout.period)
    height, width = layout.image_size
    grid = _resize(grid, (height, columns), antialias=layout.native)
    canvas = grid.new_zeros(grid.shape[0], height, width)
    canvas[..., :columns] = grid
    return repeat(canvas, "b h w -> b c h w", c=3)


def read_back(images: Tensor, layout: RenderLayout) -> Tensor:
    """Canvas (B, C, H, W) -> series (B, context_len + horizon): the reconstructed context, then the forecast."""
    if images.ndim != 4 or tuple(images.shape[-2:]) != layout.image_size:
        raise ValueError(f"images must have shape (B, C, {layout.image_size[0]}, {layout.image_size[1]}), got {tuple(images.shape)}")
    grid = _resize(images.mean(dim=1), (layout.period, layout.canvas_periods), antialias=layout.native)
    series = rearrange(grid, "b p n -> b (n p)")
    return series[:, layout.pad_left : layout.pad_left + layout.context_len + layout.horizon]
