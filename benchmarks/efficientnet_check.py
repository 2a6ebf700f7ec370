"""Check the packaged EfficientNet-Lite0 weights in the project's own definition.

Reports top-1 / top-5 on every image of ``images/imagenet_samples`` (labels.csv) and the classifier's CPU
throughput at batch 32. These images may come from the ImageNet training split: the accuracy proves the
weights and preprocessing are right, it is not a benchmark of the model.

    python benchmarks/efficientnet_check.py [--data-root PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from timeartist.models.efficientnet import load_efficientnet_lite0

logger = logging.getLogger("efficientnet_check")


def default_data_root() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def load_rgb(path: Path) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; grayscale JPEGs are expanded to RGB."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(pixels).permute(2, 0, 1)


@torch.no_grad()
def accuracy(model, folder: Path) -> dict:
    rows = list(csv.DictReader(open(folder / "labels.csv")))
    top1 = top5 = 0
    for row in tqdm(rows, desc="imagenet_samples", disable=not sys.stderr.isatty()):
        logits = model.logits(load_rgb(folder / row["filename"])[None])
        ranked = logits[0].topk(5).indices.tolist()
        top1 += ranked[0] == int(row["class_index"])
        top5 += int(row["class_index"]) in ranked
    return {"images": len(rows), "top1": top1 / len(rows), "top5": top5 / len(rows)}


@torch.no_grad()
def throughput(model, batch: int = 32, repeats: int = 5) -> float:
    """Images/s of preprocessing + forward on (batch, 3, 256, 256) inputs, after one warm-up batch."""
    images = torch.rand(batch, 3, 256, 256)
    model.logits(images)
    start = time.perf_counter()
    for _ in range(repeats):
        model.logits(images)
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = args.data_root / "images" / "imagenet_samples"
    if not (folder / "labels.csv").is_file():
        raise FileNotFoundError(f"expected the ImageNet samples with labels.csv under {folder}")
    torch.set_num_threads(args.threads)
    model = load_efficientnet_lite0()
    result = accuracy(model, folder)
    result["images_per_s_batch32"] = throughput(model)
    result["threads"] = args.threads
    result["load_average_1min"] = os.getloadavg()[0]  # other processes on the machine slow the throughput down
    logger.info(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
