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
rise from the first to the second is large against the spread of one step. Results: one row per path, the reference
distances in the meta data, and ``style_paths.png`` (each path's mean distance over alpha, the steps' spread as bars).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from timeartist.data.paths import ltsf_path  # noqa: E402
from timeartist.evaluation.code_space import grows_monotonically  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names  # noqa: E402
from timeartist.evaluation.heldout import evenly_spaced, imagenet_folder, load_images, ltsf_windows  # noqa: E402
from timeartist.evaluation.image_metrics import efficientnet_features  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)
ALPHAS = np.linspace(0.0, 1.0, 6)
PATHS = ("blend", "renormalised", "requantised", "replaced", "crossfade")
PHOTOS, SERIES = 20, 5


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


def plot_paths(frame: pd.DataFrame, path: Path) -> Path:
    """Each path's mean feature distance to the photo over alpha, with the spread of its steps as error bars."""
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for offset, row in enumerate(frame.itertuples()):
        errors = np.concatenate([[0.0], row.step_std])  # the spread of the step into each alpha
        ax.errorbar(ALPHAS + 0.006 * (offset - 2), row.mean_curve, yerr=errors, marker="o", capsize=2,
                    label=f"{row.path} ({row.monotone_share:.0%} of pairs monotone)")  # fmt: skip
    ax.set(xlabel="alpha (0: the photo's codes, 1: the series' codes)", ylabel="feature distance to the photo",
           title="Style-transfer paths, mean over photo x series pairs")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated paths: {', '.join(PATHS)}")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    paths = names(args.paths)
    if not paths or set(paths) - set(PATHS):
        raise ValueError(f"unknown --paths {sorted(set(paths) - set(PATHS)) or paths}; available: {', '.join(PATHS)}")
    for name in ("exchange_rate", "illness"):
        ltsf_path(name, args.data_root)  # a missing data folder fails before the model loads
    check_out(args.out)
    pipe = load_pipeline(args)
    train = imagenet_folder(args.data_root, pipe.visual.image_size, "train")
    photos = load_images(train, evenly_spaced(len(train), PHOTOS))
    length = pipe.temporal.seq_len
    series = np.concatenate([ltsf_windows("exchange_rate", args.data_root, "train", length, 97), ltsf_windows("illness", args.data_root, "train", length, 7)])
    series = series[evenly_spaced(len(series), SERIES)]
    network = pipe.classifier_network()
    scale = reference_distances(pipe, photos, series, network)
    logger.info("reference distances: %s", scale)
    rows = []
    for path in paths:
        curves = path_distances(pipe, path, photos, series, network).reshape(-1, len(ALPHAS))
        steps = np.diff(curves, axis=1)
        rows.append({"path": path, "monotone_share": float(np.mean([grows_monotonically(c) for c in curves])),
                     "mean_curve": curves.mean(0).round(3).tolist(), "step_mean": steps.mean(0).round(3).tolist(),
                     "step_std": steps.std(0).round(3).tolist()})  # fmt: skip
        logger.info("%s: %s", path, rows[-1])
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {"photos": f"{len(photos)} training ImageNet samples", "series": f"{len(series)} exchange_rate / illness train windows",
                           "pairs": len(photos) * len(series), "alphas": ALPHAS.round(2).tolist(), "reference_distances": scale}  # fmt: skip
    write_results(frame, args.out, frame.attrs["meta"], {"Paths": frame}, "Style-transfer paths on training photos x training series", args.command_line)
    plot_paths(frame, Path(args.out) / "style_paths.png")
    return frame
