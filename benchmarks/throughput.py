"""Parameter counts and CPU throughput of tokenizer encode + decode, tiny and paper-size (b64) configs.

For each config: build the series tokenizer (TimeArtist) and the image tokenizer (VisionModel) with random weights,
count their parameters (each including the shared quantizer), then time ``decode(encode(x))`` under ``torch.no_grad`` on a fixed batch (one untimed
warm-up call, then ``--repeats`` timed calls) with ``--threads`` intra-op threads. Prints a Markdown table.

    .venv/bin/python benchmarks/throughput.py                         # tiny and b64, batch 64, 2 threads
    .venv/bin/python benchmarks/throughput.py --configs tiny --repeats 5
    .venv/bin/python benchmarks/throughput.py --configs b64 --image-batch 8   # the b64 image decoder is slow on CPU

b64 uses configs/stage1/timeartist_b64_512.yaml for series and TiTok-B-64's layout (VisionModelConfig defaults) for
images; tiny uses configs/tiny/timeartist_tiny.yaml for both.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from timeartist.models import TimeArtist, VisionModel, VisionModelConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def build(name: str) -> tuple[TimeArtist, VisionModel]:
    if name == "tiny":
        config = OmegaConf.load(CONFIGS / "tiny" / "timeartist_tiny.yaml")
        series = TimeArtist(config)
        return series, VisionModel(config, quantizer=series.quantize)
    if name == "b64":
        series = TimeArtist(OmegaConf.load(CONFIGS / "stage1" / "timeartist_b64_512.yaml"))
        return series, VisionModel(VisionModelConfig(), quantizer=series.quantize)
    raise ValueError(f"unknown config {name!r}; expected 'tiny' or 'b64'")


@torch.no_grad()
def items_per_second(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """x (B, ...) -> B * repeats / seconds spent in ``decode(encode(x))`` after one warm-up call."""
    model.decode(model.encode(x)[0])
    start = time.perf_counter()
    for _ in range(repeats):
        model.decode(model.encode(x)[0])
    return x.shape[0] * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "b64"], choices=["tiny", "b64"])
    parser.add_argument("--batch", type=int, default=64, help="series batch size")
    parser.add_argument("--image-batch", type=int, default=64, help="image batch size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)

    rows = []
    for name in args.configs:
        series, vision = build(name)
        series.eval(), vision.eval()
        x = torch.randn(args.batch, series.seq_len, generator=gen)
        images = torch.rand(args.image_batch, 3, vision.image_size, vision.image_size, generator=gen)
        rows.append((name, "series (TimeArtist)", sum(p.numel() for p in series.parameters()), args.batch,
                     items_per_second(series, x, args.repeats)))
        rows.append((name, "images (VisionModel)", sum(p.numel() for p in vision.parameters()), args.image_batch,
                     items_per_second(vision, images, args.repeats)))

    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} timed repeats, "
          f"1-min load average at the end {load:.1f} on {os.cpu_count()} cores\n")
    print("| config | model | parameters | batch | encode+decode items/s |")
    print("|---|---|---:|---:|---:|")
    for name, model, params, batch, rate in rows:
        print(f"| {name} | {model} | {params:,} | {batch} | {rate:.1f} |")


if __name__ == "__main__":
    main()
