"""Building blocks shared by the models; they know no model."""

from timeartist.modules.quantizer import (
    MultiHeadQuantizer,
    codebook_stats,
    merge_head_indices,
    split_global_index,
)

__all__ = ["MultiHeadQuantizer", "codebook_stats", "merge_head_indices", "split_global_index"]
