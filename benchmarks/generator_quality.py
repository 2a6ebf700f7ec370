"""Generation quality of a ``TokenGenerator``: FED (EfficientNet-Lite0), not Inception FID, against held-out images.

FED is the Frechet distance between Gaussian fits of the 1280-d pooled EfficientNet-Lite0 features of two image
sets (``timeartist.evaluation.image_metrics``). It is not comparable with published (Inception) FID / gFID values.

Image sets, all at the image tokenizer's size S (real images: shorter edge resized to S, centre S x S crop):

- held-out: every image under ``--heldout`` (default: the scikit-image and scikit-learn photos and the five
  ImageNet validation images of ``images/timeartist_assets``, n = 23). The generator never trains on them (it
  trains on ``images/imagenet_samples``), and nothing here is tuned on them. They carry no ImageNet class, so
- generated: images class-conditional on classes drawn (seeded, with replacement) from the generator's training
  classes (``--train-images`` labels.csv), decoded by the image tokenizer;
- reference "tokenizer reconstructions": the held-out images encoded and decoded by the image tokenizer, i.e. what
  the decoder makes of the held-out images themselves (a generator in this code space renders through the same
  decoder);
- reference "training images": a seeded draw of ImageNet sample images, the distance between the training
  distribution itself and the held-out photos.

Rows against held-out images use n = (number of held-out images) per set. Rows against training images use
n = ``--train-n`` per set: the generated images, a disjoint second draw of training images (the value two sets of
one distribution get at that n) and the tokenizer's reconstructions of that second draw (what the decoder alone
costs). FED is biased upward for small sets (strongly so for n far below the
1280 feature dimensions), so compare values only within one n. The draws are repeated ``--repeats`` times (seeds
seed..seed+R-1); mean and standard deviation are reported. Distinct token sequences and codes per set (of real
images: their encodings) show how much of the code space the tokenizer and the generator use.
``generator_quality_samples.png`` shows the first 8 images of each set.

    .venv/bin/python benchmarks/generator_quality.py --generator /work/notes/gen_default/run/export \
        --guidance 1 3 --repeats 5 --out benchmarks/results/generator_quality
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from timeartist.data import ImageFolderDataset  # noqa: E402
from timeartist.evaluation.image_metrics import FED_LABEL, GaussianStats, frechet_distance  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.models.efficientnet import load_efficientnet_lite0  # noqa: E402
from timeartist.models.generator import TokenGenerator  # noqa: E402
from timeartist.training.classify import check_generator_fits  # noqa: E402
from timeartist.training.generator import folder_labels, load_tokenizers  # noqa: E402
from timeartist.training.warmup import data_path  # noqa: E402
from timeartist.viz import save_figure, save_image_grid  # noqa: E402

logger = logging.getLogger("generator_quality")

REPO = Path(__file__).resolve().parents[1]
HELDOUT = ("images/skimage", "images/sklearn", "images/timeartist_assets")
QUICK_IMAGES = 4
STEM = "generator_quality"


def load_folder(folder: ImageFolderDataset, index) -> torch.Tensor:
    """Images (len(index), 3, S, S) of ``folder`` in [0, 1]."""
    return torch.stack([folder[int(i)] for i in index])


def encode_decode(visual, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstructions (B, 3, S, S) in [0, 1], token ids (B, N)) of the image tokenizer."""
    q, ids = visual.encode(images)
    return visual.decode(q).clamp(0, 1), ids.reshape(len(images), -1)


def gaussian(features: torch.Tensor) -> GaussianStats:
    """Mean and covariance of features (B, D)."""
    stats = GaussianStats()
    stats.update(features)
    return stats


def row(images: str, versus: str, a: GaussianStats, b: GaussianStats, ids: torch.Tensor, draw: int) -> dict:
    """One result: FED between two Gaussian fits of n images each, and the distinct token sequences and codes among
    the first set's token ids (n, N)."""
    if a.n != b.n:
        raise ValueError(f"FED is compared only at equal set sizes, got {a.n} and {b.n} images")
    return {
        "images": images, "versus": versus, "n": a.n, "fed": frechet_distance(a.mean, a.cov, b.mean, b.cov),
        "distinct_sequences": len(torch.unique(ids, dim=0)), "codes_used": len(torch.unique(ids)), "draw": draw,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "src/timeartist/assets/default_model"),
                        help="folder with visual/ (pipeline or warm-up export) or a VisionModel folder")  # fmt: skip
    parser.add_argument("--generator", required=True, help="TokenGenerator folder in the model's code space")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_IMAGES} images per set, one draw")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", default=None, help="data folder (default: $TIMEARTIST_DATA or ../shared/data)")
    parser.add_argument("--train-images", default="images/imagenet_samples", help="the generator's training images (labels.csv)")
    parser.add_argument("--heldout", nargs="+", default=list(HELDOUT), help="held-out image folders (never trained on)")
    parser.add_argument("--out", required=True, help="output folder for the CSV/JSON/markdown/PNGs")
    parser.add_argument("--steps", type=int, default=8, help="decoding steps")
    parser.add_argument("--guidance", type=float, nargs="+", default=[3.0], help="guidance values (one row each)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--train-n", type=int, default=200, help="set size of the comparisons with training images")
    parser.add_argument("--repeats", type=int, default=3, help="seeded draws of the generated / training sets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    began = time.perf_counter()

    _, visual = load_tokenizers(args.model, with_series=False)
    visual.eval()
    generator = TokenGenerator.from_pretrained(args.generator).eval()
    size = visual.image_size
    folder = lambda path: ImageFolderDataset(data_path(path, args.data_root), size=size, crop="center", flip=False)  # noqa: E731
    train = folder(args.train_images)
    train_classes = torch.unique(folder_labels(train))
    train_classes = train_classes[train_classes >= 0]
    if len(train_classes) == 0:
        raise ValueError(f"{train.root} has no labelled images (labels.csv or ImageNet subfolders) to draw classes from")
    check_generator_fits(generator, visual, train_classes.tolist())
    heldout_sets = [folder(path) for path in args.heldout]
    heldout = torch.cat([load_folder(f, range(len(f))) for f in heldout_sets])
    repeats = 1 if args.quick else args.repeats
    if args.quick:
        heldout = heldout[:QUICK_IMAGES]
    n = len(heldout)
    m = n if args.quick else max(n, args.train_n)  # size of the sets compared with training images
    if n < 2 or len(train) < 2 * m:
        raise ValueError(
            f"FED needs at least 2 held-out images and two disjoint draws of {m} training images, found {n} under "
            f"{args.heldout} and {len(train)} under {train.root} (lower --train-n)"
        )

    network = load_efficientnet_lite0()
    features = lambda images: torch.cat([network.features(b) for b in images.split(32)])  # noqa: E731
    with torch.inference_mode():
        heldout_stats = gaussian(features(heldout))
        recon, heldout_ids = encode_decode(visual, heldout)
        rows = [row("tokenizer reconstructions (held-out)", "held-out", gaussian(features(recon)), heldout_stats, heldout_ids, 0)]
        grids = {"held-out": heldout, "reconstructions": recon}
        for draw in range(repeats):
            rng = torch.Generator().manual_seed(args.seed + draw)
            order = torch.randperm(len(train), generator=rng)
            real, other = load_folder(train, order[:m]), load_folder(train, order[m : 2 * m])
            real_features, real_ids = features(real), visual.encode(real)[1].reshape(m, -1)
            real_stats = gaussian(real_features)
            grids.setdefault("training", real)
            other_recon, other_ids = encode_decode(visual, other)
            rows += [
                row("training images (ImageNet samples)", "held-out", gaussian(real_features[:n]), heldout_stats, real_ids[:n], draw),
                row("training images (a disjoint draw)", "training images", gaussian(features(other)), real_stats, other_ids, draw),
                row("tokenizer reconstructions (the disjoint draw)", "training images", gaussian(features(other_recon)),
                    real_stats, other_ids, draw),
            ]  # fmt: skip
            classes = train_classes[torch.randint(len(train_classes), (m,), generator=rng)]
            for guidance in args.guidance:
                ids = generator.generate(classes, steps=args.steps, guidance=guidance, temperature=args.temperature, generator=rng)
                images = visual.decode_tokens(ids).clamp(0, 1)
                generated = features(images)
                name = f"generated (guidance {guidance:g}, {args.steps} steps)"
                rows += [
                    row(name, "held-out", gaussian(generated[:n]), heldout_stats, ids[:n], draw),
                    row(name, "training images", gaussian(generated), real_stats, ids, draw),
                ]
                grids.setdefault(f"generated g={guidance:g}", images)
    frame = pd.DataFrame(rows)
    summary = (
        frame.groupby(["images", "versus"], sort=False)
        .agg(n=("n", "first"), fed_mean=("fed", "mean"), fed_std=("fed", "std"), draws=("fed", "size"),
             distinct_sequences=("distinct_sequences", "mean"), codes_used=("codes_used", "mean"))
        .reset_index()
    )  # fmt: skip
    meta = {
        "metric": f"{FED_LABEL}; both sets of a row have n images, compare values only at equal n",
        "model": args.model,
        "generator": args.generator,
        "heldout": [str(f.root.resolve()) for f in heldout_sets],
        "train_images": str(train.root.resolve()),
        "generation": {"steps": args.steps, "guidance": args.guidance, "temperature": args.temperature,
                       "classes": "drawn with replacement from the generator's training classes"},  # fmt: skip
        "repeats": repeats,
        "quick": f"{QUICK_IMAGES} images per set, one draw" if args.quick else False,
        "seconds": time.perf_counter() - began,
    }
    out = Path(args.out)
    write_results(frame, out, STEM, meta, {f"{FED_LABEL} (mean, std over draws)": summary}, "Token generator quality")
    plot(summary, out / f"{STEM}.png")
    save_image_grid(torch.cat([g[:8] for g in grids.values()]), out / f"{STEM}_samples.png",
                    titles=[name for name, g in grids.items() for _ in g[:8]], ncols=8)  # fmt: skip
    logger.info("wrote %s", out)
    return frame


def plot(summary: pd.DataFrame, path: Path) -> Path:
    labels = [f"{r.images}\nvs {r.versus} (n = {r.n})" for r in summary.itertuples()]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 * len(summary) + 1.2))
    ax.barh(np.arange(len(summary)), summary["fed_mean"], xerr=summary["fed_std"].fillna(0), color="tab:blue")
    ax.set_yticks(np.arange(len(summary)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="FED (EfficientNet-Lite0), not Inception FID")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
