"""timeartist: time series and images in one shared discrete code space."""

__version__ = "0.1.0"

from timeartist.modules.quantizer import MultiHeadQuantizer, codebook_stats

__all__ = ["MultiHeadQuantizer", "codebook_stats", "__version__"]
