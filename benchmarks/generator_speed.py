"""Generation speed of ``TokenGenerator`` on CPU: images per second against the number of decoding steps.

The generator of a run config (default: the tiny CPU config, 8 tokens x 64 codes, 4 blocks of width 128) and
the image tokenizer of its ``base`` model config are built with random weights (speed does not depend on the
weights), then for each step count a batch is drawn class-conditionally, without guidance (one forward pass per
step) and with guidance (cond + uncond as one double batch per step), and decoded to images. Reported: token
sequences per second, and images per second including the decode. Median of ``--repeats`` timed runs after one
warm-up run.

    .venv/bin/python benchmarks/generator_speed.py                      # 1 thread, batch 64
    .venv/bin/python benchmarks/generator_speed.py --threads 2 --batch 16

One thread is the default: on a machine whose cores other jobs also use, two OpenMP threads wait on each other
and this tiny model ran 10-40x slower than on one.
    .venv/bin/python benchmarks/generator_speed.py --config configs/stage1/generator_b64.yaml --batch 4 \
        --steps 8 --repeats 1 --no-decode                                   # TiTok-B-64 size on CPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from timeartist.models import VisionModel, VisionModelConfig
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.training import load_run_config


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rate(per_second: float) -> str:
    """Three significant digits without scientific notation."""
    return f"{per_second:.0f}" if per_second >= 100 else f"{per_second:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/tiny/generator.yaml", help="generator run config")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, nargs="+", default=None, help="step counts (default 1 2 4 8 ... up to N)")
    parser.add_argument("--guidance", type=float, default=3.0, help="guidance of the guided rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-decode", action="store_true", help="time token generation only")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_run_config(args.config)
    generator = TokenGenerator(TokenGeneratorConfig.from_seed(cfg)).eval()
    tokenizer = None if args.no_decode else VisionModel(VisionModelConfig.from_seed(cfg)).eval()
    n = generator.config.image_seq_len
    steps_list = args.steps or [s for s in (1, 2, 4, 8, 12, 16) if s <= n]
    classes = torch.arange(args.batch) % generator.config.condition_num_classes

    print(
        f"TokenGenerator {generator.num_parameters() / 1e6:.2f} M params, {n} tokens x {generator.config.codebook_size} "
        f"codes, batch {args.batch}, {args.threads} thread(s), torch {torch.__version__}"
    )
    header = "| steps | guidance | token seqs/s | images/s (with decode) |"
    print(header + "\n|---:|---:|---:|---:|")
    with torch.inference_mode():
        for steps in steps_list:
            for guidance in (0.0, args.guidance):
                sample = lambda: generator.generate(  # noqa: E731
                    classes, steps=steps, guidance=guidance, generator=torch.Generator().manual_seed(0)
                )
                tokens_s = timed(sample, args.repeats)
                images = "-"
                if tokenizer is not None:
                    full_s = timed(lambda: tokenizer.decode_tokens(sample()).clamp(0, 1), args.repeats)
                    images = rate(args.batch / full_s)
                print(f"| {steps} | {guidance:g} | {rate(args.batch / tokens_s)} | {images} |", flush=True)


if __name__ == "__main__":
    main()
