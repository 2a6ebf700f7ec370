"""Generated images against the tokenizer's own reconstructions, by FED (EfficientNet-Lite0), not Inception FID.

A generator in the shared code space renders through the image tokenizer's decoder, so the tokenizer's
reconstructions of real photos bound what it can reach. Each draw d (seed + d) picks n labelled training photos
(centre crops at the tokenizer size), and compares with the held-out photos (n of them, never trained on):

- "generated": ``pipe.generate_images`` conditioned on the classes of the n drawn photos (so both sets have the same
  classes), seeded;
- "tokenizer reconstructions": the n drawn photos encoded and decoded;
- "training photos": the n drawn photos themselves (the distance of the training distribution to the held-out one).

All sets have n images, since FED is biased upward for small sets and compares only at equal n. The ratio
FED(generated) / FED(reconstructions), over the means of the draws, is the headline: 1 means the generator is as
good as its decoder lets it be.
"""

from __future__ import annotations

import logging

import torch
from tqdm.auto import tqdm

from timeartist.data import ImageFolderDataset
from timeartist.evaluation.code_space import round_trip_tokens
from timeartist.evaluation.heldout import load_images
from timeartist.evaluation.image_metrics import efficientnet_features, fed_of_features
from timeartist.models.imagenet_classes import imagenet_classes

logger = logging.getLogger(__name__)

GENERATED, RECONSTRUCTIONS, TRAINING = "generated", "tokenizer reconstructions (training photos)", "training photos"


def generation_fed(
    pipe, heldout_features: torch.Tensor, train: ImageFolderDataset, draws: int, seed: int, steps: int, guidance: float,
    network, batch_size: int = 64,
) -> tuple[list[dict], dict[str, torch.Tensor], list[str]]:  # fmt: skip
    """FED to the held-out photos (features (n, D)) of each set of the module docstring, per draw.

    ``train``: labelled training photos (centre crops; labels from its ``labels.csv``); only photos of classes the
    generator knows are drawn. Returns rows ``{"draw",
    "images", "fed", "n"}``, the first draw's images per set (n, 3, S, S) and their class names (n,).
    """
    from timeartist.training.classify import check_generator_fits  # training helpers: imported only for this row
    from timeartist.training.generator import folder_labels

    if pipe.generator is None:
        raise ValueError("this pipeline has no token generator to compare")
    n = len(heldout_features)
    labels = folder_labels(train)
    known = pipe.generator.config.condition_num_classes
    labelled = torch.nonzero((labels >= 0) & (labels < known)).flatten()
    if n < 2 or len(labelled) < n:
        raise ValueError(f"generated-image FED needs at least 2 held-out photos and as many training photos of classes the "
                         f"generator knows (< {known}), got {n} and {len(labelled)} under {train.root}")  # fmt: skip
    check_generator_fits(pipe.generator, pipe.visual, labels[labelled].tolist())
    rows, samples, names = [], {}, []
    for draw in tqdm(range(draws), desc="generation draws", disable=None):
        rng = torch.Generator().manual_seed(seed + draw)
        picked = labelled[torch.randperm(len(labelled), generator=rng)[:n]]
        photos = load_images(train, picked.tolist())
        reconstructions = round_trip_tokens(pipe.visual, photos, batch_size)[0].clamp(0, 1)
        generated = pipe.generate_images(labels[picked], steps=steps, guidance=guidance, seed=seed + draw)
        sets = {TRAINING: photos, RECONSTRUCTIONS: reconstructions, GENERATED: generated}
        for name, images in sets.items():
            fed = fed_of_features(efficientnet_features(images, network), heldout_features)
            rows.append({"draw": draw, "images": name, "fed": fed, "n": n})
            logger.info("draw %d: FED of %s to the held-out photos %.1f (n = %d)", draw, name, fed, n)
        if not samples:
            samples, names = sets, [imagenet_classes().names[int(c)] for c in labels[picked]]
    return rows, samples, names
