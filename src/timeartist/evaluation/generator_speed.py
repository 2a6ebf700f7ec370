"""Generation speed of ``TokenGenerator`` on CPU: images per second against the number of decoding steps.

The generator of a run config (default: the tiny CPU config, 8 tokens x 64 codes, 4 blocks of width 128) and the image
tokenizer of its ``base`` model config are built with random weights (speed does not depend on the weights), then for
each step count a batch is drawn class-conditionally, without guidance (one forward pass per step) and with guidance
(cond + uncond as one double batch per step), and decoded to images. Reported: token sequences per second, and images
per second including the decode; median of ``--repeats`` timed runs after one warm-up run, with the torch threads of the
process (``OMP_NUM_THREADS``; one is best on a shared machine, where two OpenMP threads wait on each other). Results: one
row per (steps, guidance) and ``generator_speed.png``. ``--config configs/stage1/generator_b64.yaml --batch 4
--step-counts 8 --repeats 1 --no-decode`` times TiTok-B-64's size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from timeartist.evaluation.common import add_common_arguments, check_out, positive_ints  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.models import VisionModel, VisionModelConfig  # noqa: E402
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig  # noqa: E402
from timeartist.training.config import load_run_config  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plot_speed(frame: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for guidance, part in frame.groupby("guidance"):
        ax.plot(part["steps"], part["token_seqs_per_s"], marker="o", label=f"token sequences, guidance {guidance:g}")
        if part["images_per_s"].notna().any():
            ax.plot(part["steps"], part["images_per_s"], marker="s", linestyle="--", label=f"images with decode, guidance {guidance:g}")
    ax.set(xlabel="decoding steps", ylabel="per second", yscale="log", title=frame.attrs["meta"]["generator"])
    ax.set_xticks(sorted(frame["steps"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/tiny/generator.yaml", help="generator run config")
    parser.add_argument("--batch", type=int, default=64, help="images per call")
    parser.add_argument("--step-counts", help="comma-separated decoding step counts (default 1,2,4,8,12,16 up to the token count)")
    parser.add_argument("--guidance", type=float, default=3.0, help="guidance of the guided rows")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up run")
    parser.add_argument("--no-decode", action="store_true", help="time token generation only")
    add_common_arguments(parser, model=False, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    cfg = load_run_config(args.config)
    step_counts = positive_ints(args.step_counts, "--step-counts") if args.step_counts else None
    check_out(args.out)
    torch.manual_seed(0)
    generator = TokenGenerator(TokenGeneratorConfig.from_seed(cfg)).eval()
    tokenizer = None if args.no_decode else VisionModel(VisionModelConfig.from_seed(cfg)).eval()
    n = generator.config.image_seq_len
    classes = torch.arange(args.batch) % generator.config.condition_num_classes
    rows = []
    with torch.inference_mode():
        for steps in step_counts or [s for s in (1, 2, 4, 8, 12, 16) if s <= n]:
            for guidance in (0.0, args.guidance):
                sample = lambda: generator.generate(  # noqa: E731
                    classes, steps=steps, guidance=guidance, generator=torch.Generator().manual_seed(0)
                )
                images = np.nan
                if tokenizer is not None:
                    images = args.batch / timed(lambda: tokenizer.decode_tokens(sample()).clamp(0, 1), args.repeats)
                rows.append({"steps": steps, "guidance": guidance, "token_seqs_per_s": args.batch / timed(sample, args.repeats), "images_per_s": images})
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "generator": f"TokenGenerator {generator.num_parameters() / 1e6:.2f} M parameters, {n} tokens x {generator.config.codebook_size} codes",
        "config": args.config, "batch": args.batch, "repeats": args.repeats, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
    }  # fmt: skip
    write_results(frame, args.out, frame.attrs["meta"], {"Per second": frame}, "Token generator speed", args.command_line)
    plot_speed(frame, Path(args.out) / "generator_speed.png")
    return frame
