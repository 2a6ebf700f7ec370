"""Why the style-transfer row of ``timeartist bench tokenizer`` is missed: is any path from a photo's reconstruction to
a series' picture monotone in the EfficientNet-Lite0 feature distance to the photo, pair by pair?

On TRAINING photos (20 of the ImageNet samples' train split) and training series (exchange_rate and illness train
windows; never an ETT or held-out file), the share of (photo, series) pairs whose distance curve over alpha = 0, 0.2,
..., 1 ``grows_monotonically`` (the bench's rule), its mean curve and the spread of its steps, for these paths:

- ``blend``: the seed's ``pipe.style_transfer``, decode(alpha * q_series + (1 - alpha) * q_image);
- ``renormalised``: the same blend put back on the unit sphere the l2-normalised codes live on;
- ``requantised``: that blend snapped to its nearest code, so the decoder only sees real codes;
- ``replaced``: a share alpha of the image's tokens replaced by the series' tokens, most similar positions first;
- ``crossfade``: no code space at all, (1 - alpha) * reconstruction + alpha * series picture in pixels.

Beside them, the scale every path has to climb: the mean feature distance of a photo to its own reconstruction
(alpha 0), to a series' picture (alpha 1) and to the other photos. A pair's curve can only grow steadily when the
rise from the first to the second is large against the spread of one step.

    .venv/bin/python benchmarks/style_paths.py --out benchmarks/results/style_paths
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from timeartist.evaluation.code_space import grows_monotonically
from timeartist.evaluation.heldout import evenly_spaced, imagenet_folder, load_images, ltsf_windows
from timeartist.evaluation.image_metrics import efficientnet_features
from timeartist.pipelines.pipeline import TimeArtistPipeline

logger = logging.getLogger("style_paths")
ALPHAS = np.linspace(0.0, 1.0, 6)


def styled(visual, path: str, q_image: torch.Tensor, q_series: torch.Tensor, alpha: float) -> torch.Tensor:
    """Codes (B, D, 1, N) of B images and B series -> the pictures (B, 3, S, S) of ``path`` at ``alpha``."""
    blend = alpha * q_series + (1 - alpha) * q_image
    if path == "blend":
        codes = blend
    elif path == "renormalised":
        codes = F.normalize(blend, dim=1)
    elif path == "requantised":
        nearest = torch.einsum("bdn,kd->bnk", F.normalize(blend, dim=1)[:, :, 0], visual.quantize.codebook).argmax(-1)
        codes = visual._tokens_to_codes(nearest)
    elif path == "replaced":
        order = (q_image * q_series).sum(1)[:, 0].argsort(dim=1, descending=True)  # (B, N), most similar first
        take = torch.zeros(order.shape, dtype=torch.bool).scatter_(1, order[:, : round(alpha * order.shape[1])], True)
        codes = torch.where(take[:, None, None], q_series, q_image)
    elif path == "crossfade":
        return ((1 - alpha) * visual._decode_codes(q_image) + alpha * visual._decode_codes(q_series)).clamp(0, 1)
    else:
        raise ValueError(f"unknown path {path!r}")
    return visual._decode_codes(codes).clamp(0, 1)


@torch.no_grad()
def reference_distances(pipe, photos: torch.Tensor, series: np.ndarray, network) -> dict[str, float]:
    """Mean feature distances of photos (P, 3, S, S) to their reconstructions, to the pictures of series (Q, L)
    and to each other (pairs of distinct photos)."""
    visual = pipe.visual
    photo = efficientnet_features(photos, network).double()
    reconstruction = efficientnet_features(visual.decode_tokens(visual.encode(photos)[1]).clamp(0, 1), network).double()
    pictures = efficientnet_features(visual.decode_tokens(pipe.temporal.encode(torch.from_numpy(series).float())[1]).clamp(0, 1), network).double()
    between = torch.cdist(photo, photo)
    return {"photo_to_reconstruction": float((photo - reconstruction).norm(dim=1).mean()),
            "photo_to_series_picture": float(torch.cdist(photo, pictures).mean()),
            "photo_to_other_photos": float(between.sum() / (len(photo) * (len(photo) - 1)))}  # fmt: skip


@torch.no_grad()
def path_distances(pipe, path: str, photos: torch.Tensor, series: np.ndarray, network) -> np.ndarray:
    """Feature distances (P, Q, A) of ``path``'s pictures to the photos, as ``code_space.style_distances``."""
    visual = pipe.visual
    q_series = visual._tokens_to_codes(pipe.temporal.encode(torch.from_numpy(series).float())[1])
    photo_features = efficientnet_features(photos, network)
    out = np.zeros((len(photos), len(series), len(ALPHAS)))
    for p in range(len(photos)):
        q_image = visual._tokens_to_codes(visual.encode(photos[p : p + 1])[1]).expand_as(q_series)
        pictures = torch.stack([styled(visual, path, q_image, q_series, float(a)) for a in ALPHAS], dim=1)
        features = efficientnet_features(pictures.flatten(0, 1), network).reshape(len(series), len(ALPHAS), -1)
        out[p] = (features - photo_features[p]).norm(dim=-1).double().numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="pipeline folder (default: the bundled model)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--paths", default="blend,renormalised,requantised,replaced,crossfade")
    parser.add_argument("--out", default=None, help="folder for style_paths.json / .md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    train = imagenet_folder(args.data_root, pipe.visual.image_size, "train")
    photos = load_images(train, evenly_spaced(len(train), 20))
    length = pipe.temporal.seq_len
    series = np.concatenate([ltsf_windows("exchange_rate", args.data_root, "train", length, 97), ltsf_windows("illness", args.data_root, "train", length, 7)])
    series = series[evenly_spaced(len(series), 5)]
    network = pipe.classifier_network()
    scale = reference_distances(pipe, photos, series, network)
    logger.info("reference distances: %s", scale)
    results = {}
    for path in args.paths.split(","):
        curves = path_distances(pipe, path, photos, series, network).reshape(-1, len(ALPHAS))
        steps = np.diff(curves, axis=1)
        results[path] = {"monotone_share": float(np.mean([grows_monotonically(c) for c in curves])),
                         "mean_curve": curves.mean(0).round(3).tolist(), "step_mean": steps.mean(0).round(3).tolist(),
                         "step_std": steps.std(0).round(3).tolist()}  # fmt: skip
        logger.info("%s: %s", path, results[path])
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "style_paths.json").write_text(json.dumps({"alphas": ALPHAS.tolist(), "pairs": len(photos) * len(series), "reference_distances": scale, "paths": results}, indent=2))
        lines = ["# Style-transfer paths on training photos x training series\n", f"{len(photos)} photos x {len(series)} series, alphas {ALPHAS.round(1).tolist()}\n",
                 "| path | pairs monotone | mean distance over alpha | step mean | step std |", "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {k} | {r['monotone_share']:.0%} | {r['mean_curve']} | {r['step_mean']} | {r['step_std']} |" for k, r in results.items()]
        lines += ["", "Mean feature distance of a photo to: " + ", ".join(f"{k.removeprefix('photo_to_').replace('_', ' ')} {v:.2f}" for k, v in scale.items())]
        (out / "style_paths.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
