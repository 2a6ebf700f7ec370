"""Convolutional stems and pixel heads around a 1-D latent tokenizer (small, CPU-trainable image tokenizers).

A linear 16x16 patch embedding and a 1x1 pixel head make the ViT learn every local filter itself, which a CPU
budget of a few hours cannot afford: the bundled tokenizer of that layout never got past the mean colour. A few
strided convolutions in front of the encoder and a pixel-shuffle upsampler behind the decoder give it the
local image prior of a conv autoencoder while the latent tokens stay 1-D, as in TiTok.

    ConvStem:      (B, 3, S, S) -> (B, C_n, S/2^n, S/2^n)       n = len(channels) stride-2 stages
    ConvPixelHead: (B, C_n, g, g) -> (B, 3, g*2^n, g*2^n)       the mirror image, pixel-shuffle upsampling

Each stage is a resampling convolution and a residual block of two 3x3 convolutions (SiLU, no normalisation:
batch statistics would tie an image's tokens to the rest of its batch).
"""

from __future__ import annotations

from torch import Tensor, nn


class ConvResBlock(nn.Module):
    """x + conv3x3(silu(conv3x3(silu(x)))); (B, C, h, w) -> (B, C, h, w). The second conv starts at zero, so a
    fresh block is the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(nn.functional.silu(self.conv1(nn.functional.silu(x))))


class ConvStem(nn.Module):
    """Image (B, 3, S, S) -> feature grid (B, channels[-1], S / 2^n, S / 2^n).

    A 3x3 conv to ``channels[0]`` at full resolution, then per entry c_i a stride-2 4x4 conv to c_i and a
    residual block at the new resolution (the wide blocks run on the small grids, where they are cheap)."""

    def __init__(self, channels: tuple[int, ...], in_channels: int = 3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        stages = []
        for cin, cout in zip(channels[:1] + channels[:-1], channels):
            stages.append(nn.Sequential(nn.Conv2d(cin, cout, 4, stride=2, padding=1), ConvResBlock(cout)))
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(self.conv_in(x))


class ConvPixelHead(nn.Module):
    """Feature grid (B, channels[-1], g, g) -> image (B, out_channels, g * 2^n, g * 2^n), mirroring ``ConvStem``.

    Per entry, coarse to fine: a residual block, then x2 upsampling by a 3x3 conv to 4x the next finer channel
    count and a pixel shuffle; a 3x3 conv maps the last ``channels[0]`` features to pixels."""

    def __init__(self, channels: tuple[int, ...], out_channels: int = 3):
        super().__init__()
        stages = []
        for cin, cout in zip(channels[::-1], channels[-2::-1] + channels[:1]):
            stages.append(nn.Sequential(ConvResBlock(cin), nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2)))
        self.stages = nn.Sequential(*stages)
        self.conv_out = nn.Conv2d(channels[0], out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(nn.functional.silu(self.stages(x)))


def reset_conv_init(module: nn.Module) -> None:
    """PyTorch's default (He-uniform) init for every convolution of ``module`` and identity residual blocks.

    Run after TiTok's init sweep, whose trunc-normal(0.02) suits transformer weights but starves a conv stack of
    signal: after 3 such stages an image is ~1e-4 of its input scale."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            layer.reset_parameters()
    for block in module.modules():
        if isinstance(block, ConvResBlock):
            nn.init.zeros_(block.conv2.weight)
            nn.init.zeros_(block.conv2.bias)
