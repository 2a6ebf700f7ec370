"""Images for the visual tokenizer: a recursive image-folder dataset and a webdataset tar-shard stream.

Both yield float32 tensors ``(3, S, S)`` in ``[0, 1]`` after: any Pillow mode -> 8-bit RGB, resize of the
shorter edge (bicubic, antialiased), a centre or random ``S x S`` crop, and an optional random horizontal
flip. Randomness comes from ``torch`` so that ``torch.manual_seed`` and DataLoader worker seeding apply.
Pillow + numpy only (no torchvision).
"""

from __future__ import annotations

import io
import logging
import os
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
    ``flip``: random horizontal flip with probability 0.5.
    """

    size: int = 256
    resize: int | None = None
    crop: str = "center"
    flip: bool = False

    def __post_init__(self):
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random', got {self.crop!r}")
        if self.size < 1 or (self.resize is not None and self.resize < self.size):
            raise ValueError(f"need size >= 1 and resize >= size, got size={self.size}, resize={self.resize}")

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = to_rgb(image)
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
        image = image.crop((left, top, left + self.size, top + self.size))
        if self.flip and bool(torch.rand(()) < 0.5):
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)  # (S, S, 3)
        return pixels.permute(2, 0, 1).contiguous()


def _check_on_error(on_error: str) -> str:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error


class ImageFolderDataset(Dataset):
    """All JPEG/PNG files under ``root`` (recursive, sorted), each as a ``(3, size, size)`` tensor in [0, 1].

    ``on_error="skip"`` logs a warning for an unreadable file and returns the next readable one instead
    of raising; the default raises ValueError naming the file.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        size: int = 256,
        resize: int | None = None,
        crop: str = "random",
        flip: bool = True,
        on_error: str = "raise",
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: image folder not found; expected a folder with JPEG/PNG files (any depth)")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self.files:
            raise FileNotFoundError(f"{self.root}: no {'/'.join(IMAGE_EXTENSIONS)} files found (searched recursively)")
        self.transform = ImageTransform(size, resize, crop, flip)
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
