"""Where a tokenizer pair loses its reconstruction: the codebook, or the encoder/decoder themselves.

On the warm-up's held-out sets of a run config (series: the validation split of its files + unseen synthetic
series; images: its held-out photos), each tokenizer of a pipeline folder reconstructs the data three ways:

- quantised: the usual encode -> codes -> decode;
- continuous: the decoder reads the l2-normalised continuous latents (no quantisation), an upper bound for the
  codebook at this encoder and decoder;
- trivial references: images as a flat picture of their mean colour and as 8x8 block averages; series as their
  mean (zero for z-scored windows).

If quantised and continuous are close, a better codebook cannot help; the autoencoder is the bottleneck. Results:
one row per (data, reconstruction) with its MSE, and ``bottleneck.png`` (the MSEs side by side per data).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.training.config import load_run_config  # noqa: E402
from timeartist.training.warmup import image_data, series_data, spread_items  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)


@torch.no_grad()
def reconstruction_errors(model, x: torch.Tensor) -> dict[str, float]:
    """MSE of the quantised and of the continuous-latent reconstruction of x."""
    q, result = model.quantize_input(x)
    continuous = F.normalize(result["latents"], dim=1) if model.quantize.use_l2_norm else result["latents"]
    return {"quantised": F.mse_loss(model.decode(q), x).item(), "continuous": F.mse_loss(model.decode(continuous), x).item()}


def bottleneck_rows(pipe, series: torch.Tensor, images: torch.Tensor | None) -> list[dict]:
    """Rows (data, reconstruction, mse, n) of the series tokenizer on ``series`` (N, L) and the image tokenizer on
    ``images`` (M, 3, S, S; None: no image rows)."""
    errors = {"series": {**reconstruction_errors(pipe.temporal, series), "mean": series.pow(2).mean().item()}}
    if images is not None:
        block = F.interpolate(F.avg_pool2d(images, 8), scale_factor=8, mode="bilinear", align_corners=False)
        errors["images"] = {
            **reconstruction_errors(pipe.visual, images),
            "mean colour": F.mse_loss(images.mean(dim=(2, 3), keepdim=True).expand_as(images), images).item(),
            "8x8 block average": F.mse_loss(block, images).item(),
        }
    counts = {"series": len(series), "images": 0 if images is None else len(images)}
    return [{"data": data, "reconstruction": method, "mse": mse, "n": counts[data]} for data, by in errors.items() for method, mse in by.items()]


def plot_bottleneck(frame: pd.DataFrame, path: Path) -> Path:
    datas = list(dict.fromkeys(frame["data"]))
    fig, axes = plt.subplots(1, len(datas), figsize=(4.2 * len(datas), 3.2), squeeze=False)
    for ax, data in zip(axes[0], datas):
        part = frame[frame["data"] == data]
        ax.bar(part["reconstruction"], part["mse"], color=["C0", "C1", *["C7"] * (len(part) - 2)])
        ax.set(title=f"held-out {data} (n={part['n'].iloc[0]})", ylabel="MSE")
        ax.tick_params(axis="x", labelsize=8, labelrotation=20)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/default/warmup.yaml", help="run config whose held-out sets are used")
    parser.add_argument("--limit", type=int, default=256, help="at most this many held-out items per modality")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    cfg = load_run_config(args.config, [f"dataset.params.data_root={args.data_root}"] if args.data_root else [])
    check_out(args.out)
    pipe = load_pipeline(args)
    series = spread_items(series_data(cfg, heldout=True), args.limit)
    images = spread_items(image_data(cfg, heldout=True), args.limit)
    frame = pd.DataFrame(bottleneck_rows(pipe, series, images))
    logger.info("\n%s", frame.to_string(index=False))
    meta = {"config": args.config, "held-out sets": "the run config's warm-up evaluation sets", "limit": args.limit}
    table = frame.pivot_table(index="data", columns="reconstruction", values="mse", sort=False)
    write_results(frame, args.out, meta, {"MSE by reconstruction": table}, "Where the reconstruction is lost", args.command_line)
    plot_bottleneck(frame, Path(args.out) / "bottleneck.png")
    return frame
