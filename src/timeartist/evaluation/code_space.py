"""What the shared code space carries between the modalities: codebook use, round trips, distinct pictures, style.

- ``encode_ids`` / ``round_trip_tokens``: one tokenizer's token ids and reconstructions, in batches.
- ``codebook_use``: usage (distinct codes / K), entropy and perplexity of a set of token ids (per head too).
- ``round_trip_series``: series -> image -> series through the pipeline (``series_to_image`` then
  ``image_to_series``), aligned (through the aligners) or not (the shared codebook alone).
- ``mean_pairwise_distance`` of image features (``image_metrics``): distinct series should give pictures as
  spread out as real photos are.
- ``style_distances`` / ``monotone_share``: the EfficientNet-Lite0 feature distance of
  ``style_transfer(photo, series, alpha)`` to the photo should grow with alpha.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm.auto import tqdm

from timeartist.evaluation.image_metrics import efficientnet_features
from timeartist.modules import codebook_stats

logger = logging.getLogger(__name__)

MONOTONE_TOLERANCE = 0.01  # a step down smaller than 1% of the curve's largest value counts as flat


@torch.no_grad()
def encode_ids(model, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Token ids (B, N) on the CPU of ``model.encode`` over inputs x (B, ...) in batches."""
    device = next(model.parameters()).device
    return torch.cat([model.encode(x[i : i + batch_size].to(device))[1].reshape(len(x[i : i + batch_size]), -1).cpu()
                      for i in range(0, len(x), batch_size)])  # fmt: skip


@torch.no_grad()
def round_trip_tokens(model, x: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.decode(model.encode(x))`` in batches -> (reconstructions like x, token ids (B, N)), both on the CPU."""
    device = next(model.parameters()).device
    recs, ids = [], []
    for i in range(0, len(x), batch_size):
        q, idx = model.encode(x[i : i + batch_size].to(device))
        recs.append(model.decode(q).float().cpu())
        ids.append(idx.reshape(len(q), -1).cpu())
    return torch.cat(recs), torch.cat(ids)


def codebook_use(ids: torch.Tensor, quantizer) -> dict[str, float]:
    """Codebook statistics of token ids (any shape): usage, entropy (bits), perplexity, tokens_per_code (how many
    tokens were counted per code of the codebook: full use is possible from 1 on, likely from about 10 on), and the
    same per head for a multi-head quantizer."""
    heads = quantizer.head_codebook_sizes if quantizer.heads > 1 else None
    return {**codebook_stats(ids, quantizer.codebook_size, heads), "tokens_per_code": ids.numel() / quantizer.codebook_size}


def round_trip_series(pipe, windows: np.ndarray, aligned: bool, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Series (W, L), z-scored, of the tokenizer length -> (images (W, 3, S, S), series (W, L)) after
    ``pipe.series_to_image`` and ``pipe.image_to_series`` with the same ``aligned``."""
    images = pipe.series_to_image(windows, aligned=aligned, batch_size=batch_size)
    return images, pipe.image_to_series(images, aligned=aligned, batch_size=batch_size)


def grows_monotonically(curve, tolerance: float = MONOTONE_TOLERANCE) -> bool:
    """Whether ``curve`` (A,) grows: it never falls by more than ``tolerance`` x its largest absolute value from one
    point to the next, and its last point exceeds its first by more than that (a flat curve does not grow)."""
    curve = np.asarray(curve, dtype=np.float64)
    slack = tolerance * np.abs(curve).max()
    return bool(np.all(np.diff(curve) >= -slack) and curve[-1] - curve[0] > slack)


def monotone_share(curves, tolerance: float = MONOTONE_TOLERANCE) -> float:
    """Share of the curves (..., A) that ``grows_monotonically``."""
    curves = np.asarray(curves, dtype=np.float64)
    rows = curves.reshape(-1, curves.shape[-1])
    return float(np.mean([grows_monotonically(c, tolerance) for c in rows]))


@torch.no_grad()
def style_distances(pipe, photos: torch.Tensor, series: np.ndarray, alphas, network) -> tuple[np.ndarray, torch.Tensor]:
    """EfficientNet-Lite0 feature distance of ``pipe.style_transfer(photo, s, alpha)`` to the photo itself.

    photos (P, 3, S, S) in [0, 1]; series (Q, L); alphas (A,). Returns the distances (P, Q, A) and the styled images
    of the first photo and first series over the alphas (A, 3, S, S).
    """
    photo_features = efficientnet_features(photos, network)  # (P, D)
    distances = np.zeros((len(photos), len(series), len(alphas)))
    example = None
    for p in tqdm(range(len(photos)), desc="style transfer", disable=None):
        styled = torch.stack([pipe.style_transfer(photos[p : p + 1], series, float(a)) for a in alphas], dim=1)  # (Q, A, 3, S, S)
        features = efficientnet_features(styled.flatten(0, 1), network).reshape(len(series), len(alphas), -1)
        distances[p] = (features - photo_features[p]).norm(dim=-1).double().numpy()
        if example is None:
            example = styled[0]
    logger.info("style transfer: %d photos x %d series x %d alphas", len(photos), len(series), len(alphas))
    return distances, example
