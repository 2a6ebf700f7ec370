"""Evaluation: metrics and benchmark runners."""

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

__all__ = [
    "FED_LABEL",
    "GaussianStats",
    "InceptionFeatures",
    "efficientnet_feature_stats",
    "feature_stats",
    "frechet_distance",
    "frechet_efficientnet_distance",
    "inception_fid",
    "psnr",
    "ssim",
]
