"""Validation evidence for a series tokenizer: its round-trip MSE against the equal-bit DCT code on the ETTh1 / ETTh2
VALIDATION windows, overall and by DCT frequency band, and its codebook use over the ETTh1 / ETTh2 / ETTm1
validation windows. Never reads a test window; ``timeartist bench tokenizer`` reports the same comparison and the
same codebook count on the test windows.

The DCT code is the bench's (``evaluation.tokenizer.dct_reference`` at the tokenizer's bit budget); validation
windows are z-scored, 512 steps, every 29th. The band rows split each method's squared error over the DCT
coefficients 0-7, 8-31, 32-63, 64-127 and 128-511 (per step, summing to the MSE). Codebook use counts the tokens
of pooled validation windows at the stride that gives ``tokens_per_code`` x K tokens, as the bench does. Results:
long rows (part, data, method, metric, value) and ``series_dct_validation.png`` (each method's error by DCT band).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.fft import dct  # noqa: E402

from timeartist.data import ltsf_path  # noqa: E402
from timeartist.evaluation.code_space import codebook_use, encode_ids, round_trip_tokens  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, names  # noqa: E402
from timeartist.evaluation.heldout import heldout_windows, ltsf_windows, views_for  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.evaluation.tokenizer import FULL, dct_reference  # noqa: E402
from timeartist.models import TimeArtist  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)
BANDS = ((0, 8), (8, 32), (32, 64), (64, 128), (128, None))
VAL_STRIDE = 29


def band_errors(reconstruction: np.ndarray, windows: np.ndarray) -> dict[str, float]:
    """Squared error per step of reconstructions (W, L) of windows (W, L), split by DCT band."""
    energy = dct(reconstruction - windows, norm="ortho", axis=-1) ** 2 / windows.shape[-1]
    return {f"{a}-{(b or windows.shape[-1]) - 1}": float(energy[:, a:b].sum(-1).mean()) for a, b in BANDS}


def _row(part: str, data: str, method: str, metric: str, value: float) -> dict:
    return {"part": part, "data": data, "method": method, "metric": metric, "value": float(value)}


def plot_bands(frame: pd.DataFrame, path: Path) -> Path:
    bands = frame[frame["part"] == "bands"]
    datasets = list(dict.fromkeys(bands["data"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.4), squeeze=False)
    for ax, data in zip(axes[0], datasets):
        table = bands[bands["data"] == data].pivot_table(index="metric", columns="method", values="value", sort=False)
        width = 0.8 / len(table.columns)
        for i, method in enumerate(table.columns):
            ax.bar(np.arange(len(table)) + i * width, table[method], width, label="/".join(Path(method).parts[-2:]))  # a folder's last two parts
        ax.set_xticks(np.arange(len(table)) + 0.4 - width / 2, [f"DCT {band}" for band in table.index], fontsize=8)
        ax.set(yscale="log", ylabel="squared error per step", title=f"{data} validation windows")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tokenizers", nargs="+", help="TimeArtist folders (a pipeline's temporal/)")
    parser.add_argument("--datasets", default="ETTh1,ETTh2", help="LTSF sets of the DCT comparison")
    parser.add_argument("--usage-datasets", default="ETTh1,ETTh2,ETTm1", help="LTSF sets pooled for codebook use")
    add_common_arguments(parser, model=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    datasets, usage_datasets = names(args.datasets), names(args.usage_datasets)
    for name in {*datasets, *usage_datasets}:
        ltsf_path(name, args.data_root)  # unknown names and a missing root fail before any work
    models = {path: TimeArtist.from_pretrained(path).eval() for path in args.tokenizers}
    check_out(args.out)
    first = next(iter(models.values()))
    length, budget = first.seq_len, first.num_latent_tokens * math.log2(first.quantize.codebook_size)
    rows = []
    for name in datasets:
        code, _ = dct_reference(name, args.data_root, length, budget)
        val = ltsf_windows(name, args.data_root, "val", length, VAL_STRIDE)
        reconstructions = {code.name: code.reconstruct(val)}
        reconstructions.update({path: round_trip_tokens(model, torch.from_numpy(val).float(), 64)[0].double().numpy() for path, model in models.items()})
        dct_mse = float(np.mean((reconstructions[code.name] - val) ** 2))
        for method, reconstruction in reconstructions.items():
            mse = float(np.mean((reconstruction - val) ** 2))
            rows += [_row("series vs DCT", name, method, "mse", mse), _row("series vs DCT", name, method, "ratio_to_dct", mse / dct_mse),
                     _row("series vs DCT", name, method, "windows", len(val))]  # fmt: skip
            rows += [_row("bands", name, method, band, error) for band, error in band_errors(reconstruction, val).items()]
            logger.info("%s (%d val windows) %s: MSE %.4f (%.3f x DCT)", name, len(val), method, mse, mse / dct_mse)
    wanted = views_for(FULL.tokens_per_code, first.quantize.codebook_size, first.num_latent_tokens)
    windows, _ = heldout_windows(usage_datasets, args.data_root, length, wanted, split="val")
    pooled = torch.from_numpy(np.concatenate(list(windows.values()))).float()
    for path, model in models.items():
        use = codebook_use(encode_ids(model, pooled, 64), model.quantize)
        rows += [_row("codebook", f"{len(pooled)} pooled val windows", path, metric, value) for metric, value in use.items()]
        logger.info("codebook use over %d val windows, %s: %.1f%% (perplexity %.0f)", len(pooled), path, 100 * use["usage"], use["perplexity"])
    frame = pd.DataFrame(rows)
    meta = {"tokenizers": list(args.tokenizers), "bits": budget, "windows": f"z-scored, {length} steps, every {VAL_STRIDE}th validation window",
            "codebook use": f"{', '.join(usage_datasets)} validation windows pooled, {FULL.tokens_per_code:g} tokens per code"}  # fmt: skip
    tables = {title: frame[frame["part"] == part].pivot_table(index=["data", "method"], columns="metric", values="value", sort=False)
              for part, title in (("series vs DCT", "MSE against the equal-bit DCT code"), ("bands", "Squared error per step by DCT band"),
                                  ("codebook", "Codebook use"))}  # fmt: skip
    write_results(frame, args.out, meta, tables, "Series tokenizers against the DCT code on ETT validation windows", args.command_line, floatfmt=".4f")
    plot_bands(frame, Path(args.out) / "series_dct_validation.png")
    return frame
