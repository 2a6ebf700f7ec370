"""The outpainter interface shared by every MAE backend, and the right-side mask they all use.

An outpainter sees the left ``visible_cols`` patch columns of a canvas and predicts every patch column to
their right (VisionTS-style zero-shot forecasting). MAE implementations mask by sorting a per-patch noise
vector and keeping the lowest-noise patches; ``right_mask_noise`` builds the noise that keeps exactly the
left columns, deterministically.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from einops import rearrange
from torch import Tensor


@runtime_checkable
class Outpainter(Protocol):
    image_size: tuple[int, int]  # canvas (H, W), e.g. (224, 224)
    patch_size: tuple[int, int]  # (ph, pw); a backend may use full-height column patches (ph == H)

    def outpaint(self, images: Tensor, visible_cols: int) -> Tensor:
        """images (B, 3, H, W) float in [0, 1] (values outside are allowed for rendered series); the first
        `visible_cols` patch columns are visible, every patch column to the right is masked and predicted.
        Returns (B, 3, H, W) with visible pixels pasted back. No grad, eval mode, batched."""
        ...


def right_mask_noise(
    batch: int, grid: tuple[int, int], visible_cols: int, device: torch.device | str = "cpu"
) -> Tensor:
    """Noise (batch, grid_h * grid_w) over row-major patches whose ascending order lists every patch of
    the left ``visible_cols`` columns first, then the rest.

    Each value is distinct (column-major rank), so ``argsort`` is deterministic and an MAE that keeps the
    ``visible_cols * grid_h`` lowest-noise patches keeps exactly the visible columns.
    """
    grid_h, grid_w = grid
    if not 1 <= visible_cols <= grid_w:
        raise ValueError(f"visible_cols must be between 1 and the {grid_w} patch columns of the canvas, got {visible_cols}")
    rank = torch.arange(grid_h * grid_w, dtype=torch.float32, device=device)
    # rank counts down columns first; rearranging to (row, col) order gives each patch its column-major rank.
    noise = rearrange(rank, "(w h) -> (h w)", h=grid_h, w=grid_w)
    return noise.expand(batch, -1).clone()
