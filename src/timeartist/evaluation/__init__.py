"""Evaluation: metrics and benchmark runners."""

from timeartist.evaluation.image_metrics import (
    FED_LABEL,
    GaussianStats,
    efficientnet_feature_stats,
    frechet_distance,
    frechet_efficientnet_distance,
    psnr,
    ssim,
)

__all__ = [
    "FED_LABEL",
    "GaussianStats",
    "efficientnet_feature_stats",
    "frechet_distance",
    "frechet_efficientnet_distance",
    "psnr",
    "ssim",
]
