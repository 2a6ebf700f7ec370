"""Parameter counts and CPU throughput of tokenizer encode + decode, tiny and paper-size (b64) configs.

For each config: build the series tokenizer (TimeArtist), the image tokenizer (VisionModel) and one alignment
direction (AdapterAlignment) with random weights, count their parameters (each tokenizer including the shared
quantizer), then time ``decode(encode(x))`` (tokenizers) or ``forward(ids)`` (alignment) under ``torch.no_grad``
on a fixed batch (one untimed warm-up call, then ``--repeats`` timed calls) with ``--threads`` intra-op threads.
Prints a Markdown table.

    .venv/bin/python benchmarks/throughput.py                         # tiny and b64, batch 64, 2 threads
    .venv/bin/python benchmarks/throughput.py --configs tiny --repeats 5
    .venv/bin/python benchmarks/throughput.py --configs b64 --image-batch 8   # the b64 image decoder is slow on CPU

b64 uses configs/stage1/timeartist_b64_512.yaml for series and TiTok-B-64's layout (VisionModelConfig defaults) for
images and configs/stage2/timeartist_b64_512_align.yaml for alignment; tiny uses configs/tiny/timeartist_tiny.yaml
and configs/tiny/timeartist_tiny_align.yaml.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from timeartist.models import AdapterAlignment, TimeArtist, VisionModel, VisionModelConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def build(name: str) -> tuple[TimeArtist, VisionModel, AdapterAlignment]:
    if name == "tiny":
        config = OmegaConf.load(CONFIGS / "tiny" / "timeartist_tiny.yaml")
        series = TimeArtist(config)
        vision = VisionModel(config, quantizer=series.quantize)
        return series, vision, AdapterAlignment(OmegaConf.load(CONFIGS / "tiny" / "timeartist_tiny_align.yaml"))
    if name == "b64":
        series = TimeArtist(OmegaConf.load(CONFIGS / "stage1" / "timeartist_b64_512.yaml"))
        vision = VisionModel(VisionModelConfig(), quantizer=series.quantize)
        return series, vision, AdapterAlignment(OmegaConf.load(CONFIGS / "stage2" / "timeartist_b64_512_align.yaml"))
    raise ValueError(f"unknown config {name!r}; expected 'tiny' or 'b64'")


@torch.no_grad()
def items_per_second(run, x: torch.Tensor, repeats: int) -> float:
    """x (B, ...) -> B * repeats / seconds spent in ``run(x)`` after one warm-up call."""
    run(x)
    start = time.perf_counter()
    for _ in range(repeats):
        run(x)
    return x.shape[0] * repeats / (time.perf_counter() - start)


def round_trip(model):
    return lambda x: model.decode(model.encode(x)[0])


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
        series, vision, align = (m.eval() for m in build(name))
        x = torch.randn(args.batch, series.seq_len, generator=gen)
        images = torch.rand(args.image_batch, 3, vision.image_size, vision.image_size, generator=gen)
        ids = torch.randint(0, align.codebook_size, (args.batch, align.num_latent_tokens), generator=gen)
        for label, model, run, batch in (
            ("series (TimeArtist) encode+decode", series, round_trip(series), x),
            ("images (VisionModel) encode+decode", vision, round_trip(vision), images),
            ("alignment (AdapterAlignment) ids->logits", align, align, ids),
        ):
            params = sum(p.numel() for p in model.parameters())
            rows.append((name, label, params, batch.shape[0], items_per_second(run, batch, args.repeats)))

    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} timed repeats, "
          f"1-min load average at the end {load:.1f} on {os.cpu_count()} cores\n")
    print("| config | model | parameters | batch | items/s |")
    print("|---|---|---:|---:|---:|")
    for name, model, params, batch, rate in rows:
        print(f"| {name} | {model} | {params:,} | {batch} | {rate:.1f} |")


if __name__ == "__main__":
    main()
