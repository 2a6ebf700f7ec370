"""Parameter counts and CPU throughput of tokenizer encode + decode and of alignment, tiny and paper-size (b64) configs.

For each config: build the series tokenizer (TimeArtist), the image tokenizer (VisionModel) and one alignment
direction (AdapterAlignment) with random weights (speed does not depend on them), count their parameters (each
tokenizer including the shared quantizer), then time ``decode(encode(x))`` (tokenizers) or ``forward(ids)``
(alignment) under ``torch.no_grad`` on a fixed batch: one untimed warm-up call, then ``--repeats`` timed calls, with
the torch threads of the process (``OMP_NUM_THREADS``).

b64 uses ``stage1/timeartist_b64_512.yaml`` for series, TiTok-B-64's layout (``VisionModelConfig`` defaults) for images
and ``stage2/timeartist_b64_512_align.yaml`` for alignment; tiny uses ``tiny/timeartist_tiny.yaml`` and
``tiny/timeartist_tiny_align.yaml``, all under ``--config-dir``. Results: one row per (config, model), and
``model_speed.png`` (items per second, log scale).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from timeartist.evaluation.common import add_common_arguments, check_out, names  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.models import AdapterAlignment, TimeArtist, VisionModel, VisionModelConfig  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

CONFIGS = ("tiny", "b64")


def build(name: str, config_dir: Path) -> tuple[TimeArtist, VisionModel, AdapterAlignment]:
    if name == "tiny":
        config = OmegaConf.load(config_dir / "tiny" / "timeartist_tiny.yaml")
        series = TimeArtist(config)
        vision = VisionModel(config, quantizer=series.quantize)
        return series, vision, AdapterAlignment(OmegaConf.load(config_dir / "tiny" / "timeartist_tiny_align.yaml"))
    series = TimeArtist(OmegaConf.load(config_dir / "stage1" / "timeartist_b64_512.yaml"))
    vision = VisionModel(VisionModelConfig(), quantizer=series.quantize)
    return series, vision, AdapterAlignment(OmegaConf.load(config_dir / "stage2" / "timeartist_b64_512_align.yaml"))


@torch.no_grad()
def items_per_second(call, x: torch.Tensor, repeats: int) -> float:
    """x (B, ...) -> B * repeats / seconds spent in ``call(x)`` after one warm-up call."""
    call(x)
    start = time.perf_counter()
    for _ in range(repeats):
        call(x)
    return x.shape[0] * repeats / (time.perf_counter() - start)


def round_trip(model):
    return lambda x: model.decode(model.encode(x)[0])


def plot_rates(frame: pd.DataFrame, path: Path) -> Path:
    table = frame.pivot_table(index="model", columns="config", values="items_per_second", sort=False)
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    width = 0.8 / len(table.columns)
    for i, config in enumerate(table.columns):
        bars = ax.bar([j + i * width for j in range(len(table))], table[config], width, label=config)
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(table))], [m.split(" (")[0] for m in table.index], fontsize=8)
    ax.set(yscale="log", ylabel="items per second", title=f"random-weight models, {frame.attrs['meta']['torch_threads']} torch thread(s)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated: {', '.join(CONFIGS)}")
    parser.add_argument("--config-dir", default="configs", help="the repository's configs folder")
    parser.add_argument("--batch", type=int, default=64, help="series (and alignment) batch size")
    parser.add_argument("--image-batch", type=int, default=64, help="image batch size (the b64 image decoder is slow on CPU: try 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up call")
    add_common_arguments(parser, model=False, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    configs, config_dir = names(args.configs), Path(args.config_dir)
    if not configs or set(configs) - set(CONFIGS):
        raise ValueError(f"unknown --configs {configs}; expected some of {', '.join(CONFIGS)}")
    if not (config_dir / "tiny" / "timeartist_tiny.yaml").is_file():
        raise FileNotFoundError(f"--config-dir {config_dir} is not the repository's configs folder (no tiny/timeartist_tiny.yaml)")
    check_out(args.out)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name in configs:
        series, vision, align = (m.eval() for m in build(name, config_dir))
        x = torch.randn(args.batch, series.seq_len, generator=gen)
        images = torch.rand(args.image_batch, 3, vision.image_size, vision.image_size, generator=gen)
        ids = torch.randint(0, align.codebook_size, (args.batch, align.num_latent_tokens), generator=gen)
        for label, model, call, batch in (
            ("series (TimeArtist) encode+decode", series, round_trip(series), x),
            ("images (VisionModel) encode+decode", vision, round_trip(vision), images),
            ("alignment (AdapterAlignment) ids->logits", align, align, ids),
        ):
            rows.append({"config": name, "model": label, "parameters": sum(p.numel() for p in model.parameters()),
                         "batch": batch.shape[0], "items_per_second": items_per_second(call, batch, args.repeats)})  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "repeats": args.repeats,
                           "load_average_1min_at_end": os.getloadavg()[0], "cores": os.cpu_count()}  # fmt: skip
    write_results(frame, args.out, frame.attrs["meta"], {"Parameters and throughput": frame}, "Model speed (random weights)", args.command_line)
    plot_rates(frame, Path(args.out) / "model_speed.png")
    return frame
