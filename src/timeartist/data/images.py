"""Images for the visual tokenizer: one preprocessing rule, a recursive image-folder dataset, a webdataset stream.

The rule (``to_image_batch`` for inference, ``ImageTransform`` for training data), the same for every input type:

1. Any input becomes RGB float32 in [0, 1] (``image_tensor``): a path or a PIL image of any mode goes through
   ``to_rgb``; an array is read by its dtype: uint8 as 0..255, uint16 as 0..65535, other integers as 0..255 (values
   outside are an error), bool as 0/1, floats as [0, 1] (values outside [0, 1] by more than 1e-3, NaN or inf are
   an error: divide 8-bit values by 255 once). One channel is grey; a fourth channel is alpha, composited over
   white (as ``to_rgb`` does for RGBA images).
   Layouts: numpy arrays are channels-last as PIL and matplotlib have them, ``(H, W)``, ``(H, W, C)``,
   ``(B, H, W, C)`` with C = 1, 3 or 4 (an array whose last axis is no channel count but whose third-from-last
   is 3 is read channels-first, ``(3, H, W)`` / ``(B, 3, H, W)``); torch tensors are channels-first,
   ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)``.
2. ``crop_square``: the largest centred square (a random one, and smaller by ``resize / size``, for training
   crops) is resized to ``S x S`` (bicubic, antialiased when shrinking; clamped to [0, 1]). This equals resizing the
   shorter side to ``S`` and centre-cropping, up to resampling at the crop's edges, and never builds a huge
   intermediate image for a very elongated input.

So the same photo as a file, a PIL image, a uint8 or float numpy array or a torch tensor gives the same tensor
within float rounding. Randomness comes from ``torch`` so that ``torch.manual_seed`` and DataLoader worker seeding
apply. Pillow + numpy + torch only (no torchvision).

Training augmentations (random crops only): ``ImageTransform(scale=(lo, hi))`` takes squares of a random fraction
of the shorter edge (crops over scales) and ``jitter`` varies brightness, contrast and saturation.

Held-out images: ``ImageFolderDataset(split="train" | "heldout")`` splits a folder by a hash of each file name
(``is_heldout``), one file in ``HELDOUT_EVERY``, so the split of a file never changes when files are added.
"""

from __future__ import annotations

import io
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, IterableDataset

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
_WIDE_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # 16-bit data as Pillow opens 16-bit PNG / TIFF
HELDOUT_EVERY = 10
SPLITS = ("all", "train", "heldout")
_CHANNELS = (1, 3, 4)  # grey, RGB, RGB + alpha
_RANGE_SLACK = 1e-3  # float pixels this far outside [0, 1] are rounding, not another value range
LAYOUTS_HINT = (
    "a path, a PIL image, numpy (H, W), (H, W, C) or (B, H, W, C), or torch (C, H, W) or (B, C, H, W), with C = 1, 3 or 4"
)


def is_heldout(name: str, every: int = HELDOUT_EVERY) -> bool:
    """Whether the file called ``name`` (no folder) is in the held-out split: crc32(name) % every == 0."""
    return zlib.crc32(name.encode()) % every == 0


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image -> 8-bit RGB.

    Alpha (LA, PA, RGBA, P with transparency) is composited over white, so transparent areas do not turn
    into whatever colour hides under alpha 0. 16-bit grey (``I;16*``, ``I``) is scaled from ``[0, 65535]``
    (a plain ``convert`` would clip it to 255 and give a white image). CMYK, P, L, 1 use Pillow's conversion.
    """
    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_GREY_MODES:
        wide = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(wide / 65535.0 * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "La":  # premultiplied grey + alpha: Pillow converts it to LA only
        image = image.convert("LA")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise ValueError(f"cannot convert an image of mode {image.mode!r} to RGB ({error})") from None


def load_image(source: str | os.PathLike | bytes, name: str | None = None) -> Image.Image:
    """Open a file path or encoded bytes as an 8-bit RGB image; unreadable data raises ValueError naming it."""
    name = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()
            return to_rgb(image)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{name}: cannot read image ({error})") from None


def _unit_range(x: torch.Tensor) -> torch.Tensor:
    """Pixel values by dtype -> float32 in [0, 1]; see the module docstring for the ranges."""
    if x.dtype == torch.bool:
        return x.float()
    top = 1.0 if x.is_floating_point() else 65535.0 if x.dtype == torch.uint16 else 255.0
    x = x.float()
    if top > 1:
        if x.numel() and (float(x.min()) < 0 or float(x.max()) > top):
            raise ValueError(f"integer pixels must be in [0, {top:.0f}], got values from {float(x.min()):.0f} to {float(x.max()):.0f}")
        return x / top
    if not torch.isfinite(x).all():
        raise ValueError("image values must be finite, got NaN or inf")
    if x.numel() and (float(x.min()) < -_RANGE_SLACK or float(x.max()) > 1 + _RANGE_SLACK):
        raise ValueError(
            f"float pixels must be in [0, 1], got values from {float(x.min()):.4g} to {float(x.max()):.4g} "
            "(divide 8-bit values by 255 once, or pass uint8)"
        )
    return x.clamp(0, 1)


def _to_rgb_channels(x: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) in [0, 1] with C = 1, 3 or 4 -> (..., 3, H, W): grey repeated, alpha composited over white."""
    if x.shape[-3] == 1:
        return x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    if x.shape[-3] == 4:
        rgb, alpha = x[..., :3, :, :], x[..., 3:, :, :]
        return rgb * alpha + (1 - alpha)
    return x


def image_tensor(image) -> torch.Tensor:
    """One image or a batch -> float32 ``(3, H, W)`` or ``(B, 3, H, W)`` in [0, 1], by the rule of the module
    docstring. Unreadable files, unknown layouts and out-of-range values raise ValueError saying what was expected."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    if isinstance(image, Image.Image):
        return torch.from_numpy(np.asarray(to_rgb(image), dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
    is_torch = isinstance(image, torch.Tensor)
    try:
        x = image.detach().cpu() if is_torch else torch.from_numpy(np.ascontiguousarray(image))
    except TypeError:  # numpy dtypes torch has no type for (object, strings, ...)
        raise ValueError(f"expected {LAYOUTS_HINT}; got an array of dtype {np.asarray(image).dtype}") from None
    shape = tuple(x.shape)
    if x.ndim == 2:
        x = x[None]
    elif not is_torch and x.ndim in (3, 4) and (shape[-1] in _CHANNELS or shape[-3] != 3):
        x = x.movedim(-1, -3)  # numpy: channels-last
    if x.ndim not in (3, 4) or x.shape[-3] not in _CHANNELS or min(x.shape) == 0:
        raise ValueError(f"expected {LAYOUTS_HINT}; got {'torch' if is_torch else 'numpy'} shape {shape}")
    return _to_rgb_channels(_unit_range(x)).contiguous()


def crop_square(images: torch.Tensor, size: int, side: int | None = None, top: int | None = None, left: int | None = None) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 3, size, size)``: the ``side x side`` square at (``top``, ``left``) (defaults: the
    largest square, centred) resized to ``size x size``, bicubic, antialiased when shrinking, clamped to [0, 1]."""
    height, width = images.shape[-2:]
    side = min(height, width) if side is None else side
    top = (height - side) // 2 if top is None else top
    left = (width - side) // 2 if left is None else left
    square = images[..., top : top + side, left : left + side]
    if side == size:
        return square
    resized = F.interpolate(square, size=(size, size), mode="bicubic", align_corners=False, antialias=side > size)
    return resized.clamp(0, 1)


def to_image_batch(images, size: int) -> torch.Tensor:
    """Images of any supported type -> ``(B, 3, size, size)`` float32 in [0, 1] (the module docstring's rule).

    ``images``: one image or batch as ``image_tensor`` takes it, or a list / tuple of them (sizes may differ)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"expected at least one image: {LAYOUTS_HINT}")
        return torch.cat([to_image_batch(image, size) for image in images])
    x = image_tensor(images)
    return crop_square(x if x.ndim == 4 else x[None], size)


@dataclass(frozen=True)
class ImageTransform:
    """Image -> ``(3, size, size)`` float32 in [0, 1], by the module docstring's rule.

    ``resize``: the shorter edge the crop is taken from as if the image had been resized to it first (default
    ``size``: the largest square); ``crop``: ``"center"`` or ``"random"``; ``flip``: random horizontal flip with
    probability 0.5. ``scale=(lo, hi)``: the random square's side is a uniform fraction in [lo, hi] of the shorter
    edge (``resize`` is then unused). ``jitter``: brightness, contrast and saturation factors drawn from
    [1 - jitter, 1 + jitter]. Both are training augmentations: a centre crop ignores them.
    """

    size: int = 256
    resize: int | None = None
    crop: str = "center"
    flip: bool = False
    scale: tuple[float, float] | None = None
    jitter: float = 0.0

    def __post_init__(self):
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random', got {self.crop!r}")
        if self.size < 1 or (self.resize is not None and self.resize < self.size):
            raise ValueError(f"need size >= 1 and resize >= size, got size={self.size}, resize={self.resize}")
        if self.scale is not None:
            object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
            if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1] <= 1:
                raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi <= 1, got {self.scale}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must lie in [0, 1), got {self.jitter}")

    def __call__(self, image) -> torch.Tensor:
        pixels = image_tensor(image)
        height, width = pixels.shape[-2:]
        side = max(1, round(min(height, width) * self.size / (self.resize or self.size)))
        if self.crop == "random" and self.scale is not None:
            side = max(1, round(min(height, width) * float(torch.empty(()).uniform_(*self.scale))))
        if self.crop == "random":
            top, left = (int(torch.randint(0, extent - side + 1, ())) for extent in (height, width))
        else:
            top, left = None, None
        out = crop_square(pixels[None], self.size, side, top, left)[0]
        if self.flip and bool(torch.rand(()) < 0.5):
            out = out.flip(-1)
        return self._jitter(out) if self.jitter > 0 and self.crop == "random" else out

    def _jitter(self, pixels: torch.Tensor) -> torch.Tensor:
        """(3, S, S) in [0, 1] -> brightness, contrast and saturation varied, clipped to [0, 1]."""
        factors = torch.empty(3).uniform_(1 - self.jitter, 1 + self.jitter)
        pixels = pixels * factors[0]
        grey = pixels.mean()
        pixels = (pixels - grey) * factors[1] + grey
        luma = (pixels * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
        return ((pixels - luma) * factors[2] + luma).clamp(0, 1)


def _check_on_error(on_error: str) -> str:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error


class ImageFolderDataset(Dataset):
    """All JPEG/PNG files under ``root`` (recursive, sorted), each as a ``(3, size, size)`` tensor in [0, 1].

    ``on_error="skip"`` logs a warning for an unreadable file and returns the next readable one instead
    of raising; the default raises ValueError naming the file. ``split``: ``"all"`` files, or only the
    ``"train"`` or ``"heldout"`` ones (``is_heldout``). ``scale`` and ``jitter``: as ``ImageTransform``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        size: int = 256,
        resize: int | None = None,
        crop: str = "random",
        flip: bool = True,
        on_error: str = "raise",
        split: str = "all",
        scale: tuple[float, float] | None = None,
        jitter: float = 0.0,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: image folder not found; expected a folder with JPEG/PNG files (any depth)")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        self.files = [p for p in files if split == "all" or is_heldout(p.name) == (split == "heldout")]
        if not self.files:
            what = "" if split == "all" else f" in the {split!r} split"
            raise FileNotFoundError(f"{self.root}: no {'/'.join(IMAGE_EXTENSIONS)} files found{what} (searched recursively)")
        self.transform = ImageTransform(size, resize, crop, flip, scale, jitter)
        self.on_error = _check_on_error(on_error)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < len(self.files):
            raise IndexError(f"index {index} out of range for {len(self.files)} images")
        for attempt in range(len(self.files)):
            path = self.files[(index + attempt) % len(self.files)]
            try:
                return self.transform(load_image(path))
            except ValueError as error:
                if self.on_error == "raise":
                    raise
                logger.warning("skipping unreadable image: %s", error)
        raise ValueError(f"{self.root}: none of the {len(self.files)} images could be read")


class WebImageDataset(IterableDataset):
    """Stream images from local webdataset tar shards (e.g. ``"/data/imagenet/train-{0000..1023}.tar"``).

    Each sample's first ``jpg`` / ``jpeg`` / ``png`` member becomes a ``(3, size, size)`` tensor in [0, 1].
    Shards are split across nodes and DataLoader workers; ``shuffle`` is the sample shuffle buffer
    (0 = file order). Only local files: URLs and ``pipe:`` commands are refused.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        size: int = 256,
        resize: int | None = None,
        crop: str = "random",
        flip: bool = True,
        shuffle: int = 1000,
        on_error: str = "raise",
        seed: int = 0,
    ):
        from braceexpand import braceexpand

        patterns = [urls] if isinstance(urls, str) else list(urls)
        self.shards = [shard for pattern in patterns for shard in braceexpand(pattern)]
        remote = [s for s in self.shards if "://" in s or s.startswith("pipe:")]
        if remote:
            raise ValueError(f"only local tar shards are supported (no downloads), got {remote[:3]}")
        missing = [s for s in self.shards if not Path(s).is_file()]
        if not self.shards or missing:
            raise FileNotFoundError(f"tar shards not found: {missing[:5] or patterns}; expected local webdataset .tar files")
        self.transform = ImageTransform(size, resize, crop, flip)
        self.shuffle, self.seed = shuffle, seed
        self.on_error = _check_on_error(on_error)

    def __iter__(self) -> Iterator[torch.Tensor]:
        import webdataset as wds

        pipeline = wds.WebDataset(
            self.shards, shardshuffle=len(self.shards) if self.shuffle else False, nodesplitter=wds.split_by_node, seed=self.seed
        )
        if self.shuffle:
            pipeline = pipeline.shuffle(self.shuffle)
        for sample in pipeline:
            key = next((k for k in ("jpg", "jpeg", "png") if k in sample), None)
            name = f"{sample.get('__url__')}:{sample.get('__key__')}"
            try:
                if key is None:
                    raise ValueError(f"{name}: sample has no jpg/jpeg/png member (keys {sorted(sample)})")
                yield self.transform(load_image(sample[key], name=name))
            except ValueError as error:
                if self.on_error == "raise":
                    raise
                logger.warning("skipping sample: %s", error)
