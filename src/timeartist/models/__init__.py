"""The models: series and image tokenizers over one shared code space, and the token alignment between them."""

from timeartist.models.align import AdapterAlignment
from timeartist.models.config import (
    AdapterAlignmentConfig,
    TimeArtistConfig,
    TokenizerConfig,
    VisionModelConfig,
    resolve_config,
)
from timeartist.models.temporal import TimeArtist
from timeartist.models.visual import VisionModel

__all__ = [
    "AdapterAlignment",
    "AdapterAlignmentConfig",
    "TimeArtist",
    "TimeArtistConfig",
    "TokenizerConfig",
    "VisionModel",
    "VisionModelConfig",
    "resolve_config",
]
