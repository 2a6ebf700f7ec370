"""Where a tokenizer pair loses its reconstruction: the codebook, or the encoder/decoder themselves.

On the warm-up's held-out sets of a run config (series: the validation split of its files + unseen synthetic
series; images: its held-out photos), each tokenizer of a pipeline folder reconstructs the data three ways:

- quantised: the usual encode -> codes -> decode;
- continuous: the decoder reads the l2-normalised continuous latents (no quantisation), an upper bound for the
  codebook at this encoder and decoder;
- trivial references: images as a flat picture of their mean colour and as 8x8 block averages; series as their
  mean (zero for z-scored windows).

If quantised and continuous are close, a better codebook cannot help; the autoencoder is the bottleneck.

    .venv/bin/python benchmarks/tokenizer_bottleneck.py                         # the bundled model
    .venv/bin/python benchmarks/tokenizer_bottleneck.py --model runs/default/align/export
"""

from __future__ import annotations

import argparse
import json
import logging

import torch
import torch.nn.functional as F

from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.training.config import load_run_config
from timeartist.training.warmup import image_data, series_data, spread_items

logger = logging.getLogger("tokenizer_bottleneck")


@torch.no_grad()
def reconstruction_errors(model, x: torch.Tensor) -> dict[str, float]:
    """MSE of the quantised and of the continuous-latent reconstruction of x."""
    q, result = model.quantize_input(x)
    continuous = F.normalize(result["latents"], dim=1) if model.quantize.use_l2_norm else result["latents"]
    return {"quantised": F.mse_loss(model.decode(q), x).item(), "continuous": F.mse_loss(model.decode(continuous), x).item()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default: the bundled model)")
    parser.add_argument("--config", default="configs/default/warmup.yaml", help="run config whose held-out sets are used")
    parser.add_argument("--limit", type=int, default=256, help="at most this many held-out items per modality")
    parser.add_argument("--data-root", help="data folder (default: $TIMEARTIST_DATA, ./dataset, ../shared/data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipe = TimeArtistPipeline.from_pretrained(args.model)
    cfg = load_run_config(args.config, [f"dataset.params.data_root={args.data_root}"] if args.data_root else [])
    series = spread_items(series_data(cfg, heldout=True), args.limit)
    images = spread_items(image_data(cfg, heldout=True), args.limit)
    results = {"series": {**reconstruction_errors(pipe.temporal, series), "mean": series.pow(2).mean().item(), "n": len(series)}}
    if images is not None:
        block = F.interpolate(F.avg_pool2d(images, 8), scale_factor=8, mode="bilinear", align_corners=False)
        results["images"] = {
            **reconstruction_errors(pipe.visual, images),
            "mean_colour": F.mse_loss(images.mean(dim=(2, 3), keepdim=True).expand_as(images), images).item(),
            "block_8x8": F.mse_loss(block, images).item(),
            "n": len(images),
        }
    logger.info(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
