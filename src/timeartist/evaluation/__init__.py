"""Evaluation: metrics, baselines and the benchmarks behind ``timeartist bench`` / ``timeartist validate``.

Each benchmark is one module with ``add_arguments(parser)`` and ``run(args)`` (``common`` says how one plugs in);
the names below are imported on first use, so that running one benchmark does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BASELINES": "baselines",
    "Forecaster": "baselines",
    "make_baseline": "baselines",
    "run_classification_bench": "classification",
    "run_competitions": "competitions",
    "run_gift": "gift",
    "FED_LABEL": "image_metrics",
    "GaussianStats": "image_metrics",
    "InceptionFeatures": "image_metrics",
    "efficientnet_feature_stats": "image_metrics",
    "feature_stats": "image_metrics",
    "frechet_distance": "image_metrics",
    "frechet_efficientnet_distance": "image_metrics",
    "inception_fid": "image_metrics",
    "psnr": "image_metrics",
    "ssim": "image_metrics",
    "run_ltsf": "ltsf",
    "mae": "metrics",
    "mase": "metrics",
    "mse": "metrics",
    "normalised_mae": "metrics",
    "smape": "metrics",
    "run_speed_bench": "speed",
    "BlockAverageCode": "references",
    "DCTCode": "references",
    "run_tokenizer_bench": "tokenizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
