"""Images for the visual tokenizer: a recursive image-folder dataset and a webdataset tar-shard stream.

Both yield float32 tensors ``(3, S, S)`` in ``[0, 1]`` after: any Pillow mode -> 8-bit RGB, resize of the
shorter edge (bicubic, antialiased), a centre or random ``S x S`` crop, and an optional random horizontal
flip. For training, ``ImageTransform(scale=...)`` instead takes a random square of a random fraction of the
shorter edge (crops over scales) and ``jitter`` varies brightness, contrast and saturation. Randomness comes
from ``torch`` so that ``torch.manual_seed`` and DataLoader worker seeding apply. Pillow + numpy only (no
torchvision).

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
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, IterableDataset

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
_WIDE_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # 16-bit data as Pillow opens 16-bit PNG / TIFF
HELDOUT_EVERY = 10
SPLITS = ("all", "train", "heldout")


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


@dataclass(frozen=True)
class ImageTransform:
    """RGB image -> ``(3, size, size)`` float32 in [0, 1].

    ``resize``: shorter edge before cropping (default ``size``); ``crop``: ``"center"`` or ``"random"``;
    ``flip``: random horizontal flip with probability 0.5. ``scale=(lo, hi)`` (random crops only): the crop is a
    square whose side is a uniform fraction in [lo, hi] of the shorter edge, resized to ``size`` (``resize`` is
    then unused). ``jitter``: brightness, contrast and saturation factors drawn from [1 - jitter, 1 + jitter].
    Both are training augmentations: a centre crop ignores them.
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

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = to_rgb(image)
        if self.scale is not None and self.crop == "random":
            image = self._random_scaled_crop(image)
        else:
            image = self._resize_and_crop(image)
        if self.flip and bool(torch.rand(()) < 0.5):
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
        return self._jitter(pixels) if self.jitter > 0 and self.crop == "random" else pixels

    def _random_scaled_crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        lo, hi = self.scale
        side = max(1, round(min(width, height) * float(torch.empty(()).uniform_(lo, hi))))
        left = int(torch.randint(0, width - side + 1, ()))
        top = int(torch.randint(0, height - side + 1, ()))
        box = (left, top, left + side, top + side)
        return image.resize((self.size, self.size), Image.Resampling.BICUBIC, box=box, reducing_gap=None)

    def _jitter(self, pixels: torch.Tensor) -> torch.Tensor:
        """(3, S, S) in [0, 1] -> brightness, contrast and saturation varied, clipped to [0, 1]."""
        factors = torch.empty(3).uniform_(1 - self.jitter, 1 + self.jitter)
        pixels = pixels * factors[0]
        grey = pixels.mean()
        pixels = (pixels - grey) * factors[1] + grey
        luma = (pixels * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
        return ((pixels - luma) * factors[2] + luma).clamp(0, 1)

    def _resize_and_crop(self, image: Image.Image) -> Image.Image:
        short = self.resize or self.size
        width, height = image.size
        scale = short / min(width, height)
        image = image.resize((max(short, round(width * scale)), max(short, round(height * scale))), Image.Resampling.BICUBIC)
        width, height = image.size
        if self.crop == "random":
            left = int(torch.randint(0, width - self.size + 1, ()))
            top = int(torch.randint(0, height - self.size + 1, ()))
        else:
            left, top = round((width - self.size) / 2), round((height - self.size) / 2)
        return image.crop((left, top, left + self.size, top + self.size))


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
