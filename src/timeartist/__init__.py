"""timeartist: time series and images in one shared discrete code space.

The public names are imported on first use, so ``import timeartist`` (and the CLI's start-up) stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "TimeArtist": "timeartist.models.temporal",
    "VisionModel": "timeartist.models.visual",
    "AdapterAlignment": "timeartist.models.align",
    "MultiHeadQuantizer": "timeartist.modules.quantizer",
    "codebook_stats": "timeartist.modules.quantizer",
    "TimeArtistPipeline": "timeartist.pipelines.pipeline",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'timeartist' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
