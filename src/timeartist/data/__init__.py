"""Data for training and evaluation; knows no model.

- ``LTSFDataset``: LTSF benchmark windows with the standard split / scaling protocol.
- ``resolve_data_root`` / ``ltsf_path``: where the data folder and named datasets are.
"""

from timeartist.data.ltsf import LTSFDataset, SplitBorders, split_borders
from timeartist.data.paths import ENV_VAR, resolve_data_root, ltsf_path

__all__ = ["ENV_VAR", "LTSFDataset", "SplitBorders", "ltsf_path", "resolve_data_root", "split_borders"]
