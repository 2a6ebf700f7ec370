"""Data for training and evaluation; knows no model.

- ``LTSFDataset``: LTSF benchmark windows with the standard split / scaling protocol (``ltsf``).
- ``MultiDomainSelfSupervisionDataset``: pretraining windows from LTSF files, val/test excluded by default (``selfsup``).
- ``load_ts`` / ``read_ts`` / ``load_archive``: UEA/UCR ``.ts`` classification archives, with
  ``LabelEncoder``, ``fill_missing`` and ``resample_to_length`` (``archives``).
- ``load_competition_json`` / ``read_tsf``: M1/M3/Tourism JSON and Monash ``.tsf`` as ``ForecastSeries`` (``competitions``).
- ``ImageFolderDataset`` / ``WebImageDataset``: images as ``(3, S, S)`` tensors in [0, 1]; ``to_image_batch``: any
  image input (path, PIL, numpy, torch) by the same preprocessing rule (``images``).
- ``SyntheticSeriesGenerator`` / ``SyntheticSeriesDataset``: seeded unlimited synthetic series (``synthetic``).
- ``resolve_data_root`` / ``ltsf_path``: where the data folder and named datasets are (``paths``).
"""

from timeartist.data.archives import LabelEncoder, TSArchive, archive_path, fill_missing, load_archive, load_ts, read_ts, resample_to_length
from timeartist.data.competitions import ForecastSeries, load_competition_json, read_tsf, seasonality_of
from timeartist.data.images import ImageFolderDataset, ImageTransform, WebImageDataset, image_tensor, load_image, to_image_batch, to_rgb
from timeartist.data.ltsf import LTSFDataset, SplitBorders, split_borders
from timeartist.data.paths import ENV_VAR, ltsf_path, resolve_data_root
from timeartist.data.selfsup import MultiDomainSelfSupervisionDataset
from timeartist.data.synthetic import SyntheticConfig, SyntheticSeriesDataset, SyntheticSeriesGenerator

__all__ = [
    "ENV_VAR",
    "ForecastSeries",
    "ImageFolderDataset",
    "ImageTransform",
    "LTSFDataset",
    "LabelEncoder",
    "MultiDomainSelfSupervisionDataset",
    "SplitBorders",
    "SyntheticConfig",
    "SyntheticSeriesDataset",
    "SyntheticSeriesGenerator",
    "TSArchive",
    "WebImageDataset",
    "archive_path",
    "fill_missing",
    "image_tensor",
    "load_archive",
    "load_competition_json",
    "load_image",
    "load_ts",
    "ltsf_path",
    "read_ts",
    "read_tsf",
    "resample_to_length",
    "resolve_data_root",
    "seasonality_of",
    "split_borders",
    "to_image_batch",
    "to_rgb",
]
