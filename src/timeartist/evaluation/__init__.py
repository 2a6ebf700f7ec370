"""Evaluation: metrics and benchmark runners."""

from timeartist.evaluation.baselines import BASELINES, Forecaster, make_baseline
from timeartist.evaluation.competitions import run_competitions
from timeartist.evaluation.image_metrics import (
    FED_LABEL,
    GaussianStats,
    InceptionFeatures,
    efficientnet_feature_stats,
    feature_stats,
    frechet_distance,
    frechet_efficientnet_distance,
    inception_fid,
    psnr,
    ssim,
)
from timeartist.evaluation.ltsf import run_ltsf
from timeartist.evaluation.metrics import mae, mase, mse, normalised_mae, smape

__all__ = [
    "BASELINES",
    "FED_LABEL",
    "Forecaster",
    "GaussianStats",
    "InceptionFeatures",
    "efficientnet_feature_stats",
    "feature_stats",
    "frechet_distance",
    "frechet_efficientnet_distance",
    "inception_fid",
    "mae",
    "make_baseline",
    "mase",
    "mse",
    "normalised_mae",
    "psnr",
    "run_competitions",
    "run_ltsf",
    "smape",
    "ssim",
]
