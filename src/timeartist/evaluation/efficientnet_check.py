"""Check the packaged EfficientNet-Lite0 weights in the project's own model definition.

Reports top-1 / top-5 on every image of ``images/imagenet_samples`` under the data root (its ``labels.csv``) and the
classifier's CPU throughput at batch 32 (preprocessing + forward on 256 px inputs, after one warm-up batch, with the
torch threads of the process). These images may come from the ImageNet training split: the accuracy proves the
weights and preprocessing are right, it is not a benchmark of the model. Results: one row, and ``predictions.png``
(the first images with their true and predicted classes).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from timeartist.data import resolve_data_root
from timeartist.evaluation.common import add_common_arguments, check_out
from timeartist.evaluation.report import write_results
from timeartist.models.efficientnet import load_efficientnet_lite0
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.viz import save_image_grid

SAMPLES = Path("images") / "imagenet_samples"
SHOWN = 8


def load_rgb(path: Path) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; grayscale JPEGs are expanded to RGB."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(pixels).permute(2, 0, 1)


@torch.no_grad()
def accuracy(model, folder: Path) -> tuple[dict, list[tuple[torch.Tensor, int, int]]]:
    """Top-1 / top-5 over the folder's labels.csv, and (image, true class, predicted class) of the first images."""
    rows = list(csv.DictReader(open(folder / "labels.csv")))
    top1 = top5 = 0
    shown = []
    for row in tqdm(rows, desc="imagenet_samples", disable=None):
        image, label = load_rgb(folder / row["filename"]), int(row["class_index"])
        ranked = model.logits(image[None])[0].topk(5).indices.tolist()
        top1 += ranked[0] == label
        top5 += label in ranked
        if len(shown) < SHOWN:
            shown.append((F.interpolate(image[None], size=(160, 160), mode="bilinear", antialias=True)[0], label, ranked[0]))
    return {"images": len(rows), "top1": top1 / len(rows), "top5": top5 / len(rows)}, shown


@torch.no_grad()
def throughput(model, batch: int = 32, repeats: int = 5) -> float:
    """Images/s of preprocessing + forward on (batch, 3, 256, 256) inputs, after one warm-up batch."""
    images = torch.rand(batch, 3, 256, 256)
    model.logits(images)
    start = time.perf_counter()
    for _ in range(repeats):
        model.logits(images)
    return batch * repeats / (time.perf_counter() - start)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, model=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    folder = resolve_data_root(args.data_root) / SAMPLES
    if not (folder / "labels.csv").is_file():
        raise FileNotFoundError(f"expected the ImageNet samples with labels.csv under {folder}")
    check_out(args.out)
    model = load_efficientnet_lite0()
    result, shown = accuracy(model, folder)
    frame = pd.DataFrame([{**result, "images_per_s_batch32": throughput(model)}])
    meta = {"images": str(folder), "torch_threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0]}
    write_results(frame, args.out, meta, {"EfficientNet-Lite0 on the ImageNet samples": frame}, "EfficientNet-Lite0 port check", args.command_line)
    names = imagenet_classes().names
    titles = [f"{names[true][:18]}\n-> {names[predicted][:18]}" for _, true, predicted in shown]
    save_image_grid(torch.stack([image for image, _, _ in shown]).clamp(0, 1), Path(args.out) / "predictions.png", titles=titles, ncols=4, size=2.2)
    return frame
