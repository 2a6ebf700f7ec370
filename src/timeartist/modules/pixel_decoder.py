"""Pixel heads for a 1-D image tokenizer's decoder output (B, W, g, g), g = image_size / patch_size.

Two heads, as in TiTok (bytedance/1d-tokenizer):

* The legacy route (TiTok-B-64): ``proxy_code_head`` predicts logits over the 1024 MaskGIT-VQGAN codes per grid
  cell; ``ProxyCodebook`` turns their softmax into a mix of the VQGAN's code vectors and ``PixelDecoder`` (the
  MaskGIT-VQGAN decoder, non-local layers removed) upsamples those to RGB. Parameter names and shapes follow the
  published checkpoint, including one quirk of that port: when a residual block changes its channel count, the
  1x1 shortcut is applied to the block's *output* (out = h + nin(h)), not to its input.
* ``direct_pixel_head``: a 1x1 conv to p*p*3 values per cell, unfolded to pixels (the small-config head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops.layers.torch import Rearrange
from torch import Tensor, nn

GROUPS = 32  # GroupNorm groups of the VQGAN decoder; channel counts must be multiples of it


def _norm(channels: int) -> nn.GroupNorm:
    if channels % GROUPS:
        raise ValueError(f"pixel decoder channels must be multiples of {GROUPS} (GroupNorm groups), got {channels}")
    return nn.GroupNorm(GROUPS, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv3x3 twice (no conv biases) plus a shortcut. (B, C_in, h, w) -> (B, C_out, h, w)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        # Maps out -> out channels: the published port applies it to the block output (see module docstring).
        self.nin_shortcut = (
            nn.Conv2d(out_channels, out_channels, 1, bias=False) if in_channels != out_channels else None
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (x if self.nin_shortcut is None else self.nin_shortcut(h))


class UpsamplingBlock(nn.Module):
    """``num_res_blocks`` residual blocks, then (unless it is the last level) nearest x2 and a 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int, num_res_blocks: int, upsample: bool):
        super().__init__()
        channels = [in_channels] + [out_channels] * num_res_blocks
        self.block = nn.ModuleList(ResnetBlock(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.upsample_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1) if upsample else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.block:
            x = block(x)
        if self.upsample_conv is not None:
            x = self.upsample_conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class PixelDecoder(nn.Module):
    """MaskGIT-VQGAN decoder: (B, z_channels, g, g) -> (B, out_channels, g * 2**(L-1), g * 2**(L-1)), L levels.

    ``up.{k}`` is the level with ``hidden_channels * channel_mult[k]`` output channels; levels run from the last
    (lowest resolution) to ``up.0``. TiTok-B-64 uses the defaults (16x16 -> 256x256).
    """

    def __init__(
        self,
        z_channels: int = 256,
        hidden_channels: int = 128,
        channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4),
        num_res_blocks: int = 2,
        out_channels: int = 3,
    ):
        super().__init__()
        levels = [hidden_channels * m for m in channel_mult]
        self.upsample_factor = 2 ** (len(channel_mult) - 1)
        self.conv_in = nn.Conv2d(z_channels, levels[-1], 3, padding=1)
        self.mid = nn.ModuleList(ResnetBlock(levels[-1], levels[-1]) for _ in range(num_res_blocks))
        inputs = levels[1:] + levels[-1:]  # level k reads what level k+1 wrote (the last level reads conv_in)
        self.up = nn.ModuleList(
            UpsamplingBlock(inputs[k], levels[k], num_res_blocks, upsample=k > 0) for k in range(len(levels))
        )
        self.norm_out = _norm(levels[0])
        self.conv_out = nn.Conv2d(levels[0], out_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        x = self.conv_in(z)
        for block in self.mid:
            x = block(x)
        for block in reversed(self.up):
            x = block(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class ProxyCodebook(nn.Module):
    """The VQGAN codebook (K, C) the proxy-code logits mix over; its key is ``embedding.weight`` as in TiTok."""

    def __init__(self, num_codes: int = 1024, code_dim: int = 256):
        super().__init__()
        self.embedding = nn.Embedding(num_codes, code_dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / num_codes, 1.0 / num_codes)

    def forward(self, logits: Tensor) -> Tensor:
        """logits (B, K, h, w) -> softmax-weighted codes (B, C, h, w)."""
        return torch.einsum("bkhw,kc->bchw", logits.softmax(dim=1), self.embedding.weight.to(logits.dtype))


def proxy_code_head(width: int, num_codes: int = 1024) -> nn.Sequential:
    """(B, W, g, g) -> (B, num_codes, g, g) logits: 1x1 conv to 2W, Tanh, 1x1 conv (keys ``0.*`` and ``2.*``)."""
    return nn.Sequential(nn.Conv2d(width, 2 * width, 1), nn.Tanh(), nn.Conv2d(2 * width, num_codes, 1))


def direct_pixel_head(width: int, patch_size: int, channels: int = 3) -> nn.Sequential:
    """(B, W, g, g) -> (B, channels, g * p, g * p): a 1x1 conv to p*p*channels values per cell, unfolded."""
    return nn.Sequential(
        nn.Conv2d(width, patch_size * patch_size * channels, 1),
        Rearrange("b (p1 p2 c) h w -> b c (h p1) (w p2)", p1=patch_size, p2=patch_size),
    )
