"""Evaluation: metrics and benchmark runners."""

from timeartist.evaluation.baselines import BASELINES, Forecaster, make_baseline
from timeartist.evaluation.classification import run_classification_bench
from timeartist.evaluation.competitions import run_competitions
from timeartist.evaluation.gift import run_gift
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
from timeartist.evaluation.speed import run_speed_bench
from timeartist.evaluation.references import BlockAverageCode, DCTCode
from timeartist.evaluation.tokenizer import run_tokenizer_bench

__all__ = [
    "BASELINES",
    "BlockAverageCode",
    "DCTCode",
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
    "run_classification_bench",
    "run_competitions",
    "run_gift",
    "run_ltsf",
    "run_speed_bench",
    "run_tokenizer_bench",
    "smape",
    "ssim",
]
