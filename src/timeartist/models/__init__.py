"""The models: series and image tokenizers over one shared code space, the token alignment between them, the
outpainters and the token generator, and the pretrained ImageNet classifier."""

from timeartist.models.align import AdapterAlignment
from timeartist.models.config import (
    AdapterAlignmentConfig,
    TimeArtistConfig,
    TokenizerConfig,
    VisionModelConfig,
    resolve_config,
)
from timeartist.models.efficientnet import EfficientNetLite, load_efficientnet_lite0
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.models.hf_mae import HFMAEOutpainter
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.models.outpainting import Outpainter
from timeartist.models.temporal import TimeArtist
from timeartist.models.visual import VisionModel

__all__ = [
    "AdapterAlignment",
    "AdapterAlignmentConfig",
    "EfficientNetLite",
    "HFMAEOutpainter",
    "MAEOutpainter",
    "Outpainter",
    "OutpainterConfig",
    "TokenGenerator",
    "TokenGeneratorConfig",
    "imagenet_classes",
    "load_efficientnet_lite0",
    "TimeArtist",
    "TimeArtistConfig",
    "TokenizerConfig",
    "VisionModel",
    "VisionModelConfig",
    "resolve_config",
]
