"""Tokenizer benchmark: how much of a series or an image survives the trip through the shared code space.

Series: z-scored windows of the tokenizer's length L, cut without overlap from the test split of LTSF datasets the
tokenizer was not trained on (scaler fitted on train, as in the LTSF protocol, then each window z-scored as the
pipeline does; windows with no variation are skipped). Each window goes ``temporal.encode -> decode``; MSE and MAE
are measured on the z-scored values, next to an equal-bit DCT code (``DCTCode``) whose settings are chosen on the
train split of the same dataset, never on test.

Images: held-out ``skimage.data`` sample images (not in the training set), each resized so its short side is twice
the tokenizer size and cut into the 2 x 2 central tiles of S x S. Each tile goes ``visual.encode -> decode``;
PSNR and SSIM per tile, averaged, and ``FED (EfficientNet-Lite0 features), not Inception FID`` between the tiles
and their reconstructions; Inception FID only when the user passes the TorchScript weights.

Codebook: usage, entropy and perplexity of the token ids (global and per quantizer head) on the held-out series
windows and on the held-out image tiles.

Equal-bit accounting. A window's tokens are N indices into a codebook of K codes: a fixed-length code spends
B = N * log2(K) bits per window (the default model: 16 * log2(256) = 128 bits for 128 steps). Neither code pays
for the window's mean and standard deviation: both reconstruct the z-scored window. That window has mean 0, so its
DC coefficient (orthonormal DCT-II) is 0 and only the L - 1 AC coefficients carry information. A ``DCTCode`` keeps
k of them, each quantised uniformly to b bits: 2**b cells over [-clip, clip], reconstruction at the cell centres,
values beyond the range clipped; clip is a constant of the code, not sent per window. Two ways to pick the k:

- low-pass: the first k AC coefficients; the decoder knows which, so the code costs k * b bits;
- adaptive: the k largest in magnitude; which ones is sent as the index of the k-subset among the C(L - 1, k)
  possible (enumerative coding), ceil(log2 C(L - 1, k)) bits, so the code costs k * b + ceil(log2 C(L - 1, k)).

For every b in 1..12 each variant takes the largest k whose cost is at most B; clip is one of a few quantiles of
the kept coefficients' magnitudes. The (variant, b, clip) with the lowest MSE on train windows is the baseline.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from scipy.fft import dct, idct

from timeartist.data import LTSFDataset, ltsf_path, to_rgb
from timeartist.evaluation.image_metrics import FED_LABEL, frechet_efficientnet_distance, inception_fid, psnr, ssim
from timeartist.evaluation.report import write_results
from timeartist.modules import codebook_stats
from timeartist.viz import save_image_grid, save_series_plot

logger = logging.getLogger(__name__)

HELDOUT_IMAGES = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field", "coins", "retina", "brick", "grass",
    "gravel", "text", "cell", "immunohistochemistry", "clock", "moon", "page", "colorwheel",
)  # fmt: skip
QUICK_IMAGES = 2
QUICK_WINDOWS = 16
MAX_TRAIN_WINDOWS = 2048  # train windows used to choose the DCT code
VALUE_BITS = tuple(range(1, 13))
CLIP_QUANTILES = (0.5, 0.75, 0.9, 0.97, 0.99, 1.0)
STD_EPS = 1e-8


# ---------------------------------------------------------------------------------------------- DCT baseline
@dataclass(frozen=True)
class DCTCode:
    """An equal-bit transform code for z-scored windows of ``length`` steps (see the module docstring).

    keep: k AC coefficients kept; value_bits: b bits per kept value; clip: quantiser range [-clip, clip];
    adaptive: keep the k largest (and send which) instead of the first k.
    """

    length: int
    keep: int
    value_bits: int
    clip: float
    adaptive: bool

    @property
    def support_bits(self) -> int:
        """Bits naming the kept coefficients: ceil(log2 C(L - 1, k)) when adaptive, else 0."""
        return math.ceil(math.log2(math.comb(self.length - 1, self.keep))) if self.adaptive else 0

    @property
    def bits(self) -> int:
        """Bits per window: k * b + support bits."""
        return self.keep * self.value_bits + self.support_bits

    @property
    def name(self) -> str:
        kind = "top" if self.adaptive else "first"
        return f"dct ({kind} {self.keep} x {self.value_bits} bits, clip {self.clip:.2f})"

    def quantise(self, values: np.ndarray) -> np.ndarray:
        """Uniform b-bit quantiser over [-clip, clip]: values -> cell centres (same shape)."""
        cells = 2**self.value_bits
        step = 2 * self.clip / cells
        index = np.clip(np.floor((values + self.clip) / step), 0, cells - 1)
        return -self.clip + (index + 0.5) * step

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        """Windows (W, L), z-scored -> their reconstructions (W, L) from this code's bits."""
        return idct(self.kept_coefficients(dct(windows, norm="ortho", axis=-1), quantised=True), norm="ortho", axis=-1)

    def kept_coefficients(self, coefficients: np.ndarray, quantised: bool) -> np.ndarray:
        """Coefficients (W, L) -> (W, L) with only the kept AC coefficients (quantised or not), the rest 0."""
        ac = coefficients[:, 1:]
        if self.adaptive:
            picked = np.argpartition(-np.abs(ac), self.keep - 1, axis=1)[:, : self.keep]
        else:
            picked = np.broadcast_to(np.arange(self.keep), (len(ac), self.keep))
        values = np.take_along_axis(ac, picked, axis=1)
        out = np.zeros_like(coefficients)
        np.put_along_axis(out[:, 1:], picked, self.quantise(values) if quantised else values, axis=1)
        return out


def largest_keep(length: int, budget: float, value_bits: int, adaptive: bool) -> int:
    """The largest k whose DCT code costs at most ``budget`` bits (0 when not even one coefficient fits)."""
    best = 0
    for keep in range(1, length):
        if DCTCode(length, keep, value_bits, 1.0, adaptive).bits > budget:
            break
        best = keep
    return best


def choose_dct_code(train_windows: np.ndarray, budget: float) -> tuple[DCTCode, pd.DataFrame]:
    """The equal-bit DCT code with the lowest MSE on ``train_windows`` (W, L), z-scored.

    Returns the code and every candidate's train MSE (variant, keep, value_bits, clip, bits, train_mse).
    """
    length = train_windows.shape[1]
    coefficients = dct(train_windows, norm="ortho", axis=-1)
    candidates = []
    for adaptive in (False, True):
        for value_bits in VALUE_BITS:
            keep = largest_keep(length, budget, value_bits, adaptive)
            if keep == 0:
                continue
            probe = DCTCode(length, keep, value_bits, 1.0, adaptive)
            magnitudes = np.abs(probe.kept_coefficients(coefficients, quantised=False)[:, 1:])
            for q in CLIP_QUANTILES:
                clip = float(np.quantile(magnitudes[magnitudes > 0], q))
                code = DCTCode(length, keep, value_bits, clip, adaptive)
                error = idct(code.kept_coefficients(coefficients, quantised=True), norm="ortho", axis=-1) - train_windows
                candidates.append({"variant": "top" if adaptive else "first", "keep": keep, "value_bits": value_bits,
                                   "clip": clip, "bits": code.bits, "train_mse": float(np.mean(error**2)), "code": code})  # fmt: skip
    if not candidates:
        raise ValueError(f"a budget of {budget:.1f} bits per window does not fit even one DCT coefficient")
    table = pd.DataFrame(candidates)
    best = table.loc[table["train_mse"].idxmin(), "code"]
    return best, table.drop(columns="code")


# ---------------------------------------------------------------------------------------------- held-out data
def zscored_windows(dataset: str, data_root, split: str, length: int, limit: int | None = None) -> np.ndarray:
    """Non-overlapping windows (W, length) of every channel of one split, train-scaled then z-scored per window.

    Windows without variation (std < 1e-8) are dropped; ``limit`` keeps the first ``limit`` windows.
    """
    data = LTSFDataset(ltsf_path(dataset, data_root), split, seq_len=1, pred_len=1)
    start, end = data.borders[split]
    count = (end - start) // length
    if count < 1:
        raise ValueError(f"the {split} split of {dataset} has {end - start} rows, fewer than one window of {length}")
    windows = data.series[:, start : start + count * length].reshape(-1, length).astype(np.float64)  # (C*count, L)
    std = windows.std(axis=1, keepdims=True)
    keep = std[:, 0] >= STD_EPS
    if not keep.all():
        logger.info("%s %s: skipped %d constant windows", dataset, split, int((~keep).sum()))
    windows = (windows[keep] - windows[keep].mean(axis=1, keepdims=True)) / std[keep]
    return windows[:limit]


def heldout_images(size: int, names: Sequence[str] = HELDOUT_IMAGES) -> tuple[torch.Tensor, list[str]]:
    """``skimage.data`` images -> tiles (4 * len(names), 3, size, size) in [0, 1] and their names.

    Each image is resized (bicubic) so its short side is 2 * size, and its 2 x 2 central tiles are kept.
    """
    import skimage.data  # imported here: only this bench needs it, and it is slow to import

    unknown = [n for n in names if n not in HELDOUT_IMAGES]
    if unknown:
        raise ValueError(f"unknown held-out images {unknown}; available: {', '.join(HELDOUT_IMAGES)}")
    tiles, labels = [], []
    for name in names:
        image = to_rgb(Image.fromarray(np.asarray(getattr(skimage.data, name)())))
        scale = 2 * size / min(image.size)
        w, h = max(2 * size, round(image.width * scale)), max(2 * size, round(image.height * scale))
        pixels = np.asarray(image.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
        top, left = (h - 2 * size) // 2, (w - 2 * size) // 2
        square = torch.from_numpy(pixels[top : top + 2 * size, left : left + 2 * size]).permute(2, 0, 1)
        for i in range(2):
            for j in range(2):
                tiles.append(square[:, i * size : (i + 1) * size, j * size : (j + 1) * size])
                labels.append(f"{name} {i}{j}")
    return torch.stack(tiles), labels


# ---------------------------------------------------------------------------------------------- round trips
@torch.no_grad()
def _round_trip(model, x: torch.Tensor, device: torch.device, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.decode(model.encode(x))`` in batches -> (reconstructions, token ids (B, N)), both on the CPU."""
    recs, ids = [], []
    for i in range(0, len(x), batch_size):
        q, idx = model.encode(x[i : i + batch_size].to(device))
        recs.append(model.decode(q).float().cpu())
        ids.append(idx.reshape(len(q), -1).cpu())
    return torch.cat(recs), torch.cat(ids)


def _row(part: str, data: str, method: str, metric: str, value: float, n: int) -> dict:
    return {"part": part, "data": data, "method": method, "metric": metric, "value": float(value), "n": n}


def _codebook_rows(ids: torch.Tensor, quantizer, data: str) -> list[dict]:
    stats = codebook_stats(ids, quantizer.codebook_size, quantizer.head_codebook_sizes if quantizer.heads > 1 else None)
    return [_row("codebook", data, "tokens", key, value, ids.numel()) for key, value in stats.items()]



def run_tokenizer_bench(
    data_root=None,
    pipe=None,
    out_dir: str | Path | None = None,
    datasets: Sequence[str] = ("ETTh1", "ETTh2"),
    quick: bool = False,
    inception_weights: str | Path | None = None,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Run the tokenizer benchmark of ``pipe`` (a ``TimeArtistPipeline``); return a long frame.

    Columns: part (series | image | codebook), data (dataset, "heldout images", ...), method (tokenizer, the DCT
    code's name, tokens), metric (mse, mae, psnr, ssim, fed, inception_fid, bits, usage, entropy, perplexity,
    head{h}_...), value, n (values, tiles or tokens measured). ``quick``: the first 16 windows per dataset and the
    first 2 images (8 tiles). ``inception_weights``: path of the TorchScript ``inception-2015-12-05.pt`` for an
    optional Inception FID. With ``out_dir``: ``tokenizer.{csv,json,md}``, ``reconstructions.png`` and
    ``series_<dataset>.png``. The settings and the chosen DCT codes are in ``frame.attrs["meta"]``.
    """
    if pipe is None:
        raise ValueError("run_tokenizer_bench needs a TimeArtistPipeline (pipe=TimeArtistPipeline.from_pretrained(...))")
    if not datasets:
        raise ValueError("need at least one LTSF dataset for the series part, e.g. ('ETTh1', 'ETTh2')")
    for name in datasets:
        ltsf_path(name, data_root)  # unknown names and a missing root fail before any work, listing what exists
    if inception_weights is not None and not Path(inception_weights).is_file():
        raise FileNotFoundError(f"Inception FID weights not found: expected the TorchScript inception-2015-12-05.pt at {inception_weights}")
    began = time.perf_counter()
    temporal, visual, device = pipe.temporal, pipe.visual, pipe.device
    quantizer = temporal.quantize
    length, tokens = temporal.seq_len, temporal.num_latent_tokens
    budget = tokens * math.log2(quantizer.codebook_size)
    rows, codes, examples, series_ids = [], {}, {}, []
    limit = QUICK_WINDOWS if quick else None
    for name in datasets:
        test = zscored_windows(name, data_root, "test", length, limit)
        train = zscored_windows(name, data_root, "train", length, MAX_TRAIN_WINDOWS // (8 if quick else 1))
        code, _ = choose_dct_code(train, budget)
        codes[name] = {"name": code.name, "bits": code.bits, "train_windows": len(train)}
        rec, ids = _round_trip(temporal, torch.from_numpy(test).float(), device, batch_size)
        series_ids.append(ids)
        outputs = {"tokenizer": (rec.double().numpy(), budget), code.name: (code.reconstruct(test), code.bits)}
        for method, (out, bits) in outputs.items():
            error = out - test
            for metric, value in (("mse", np.mean(error**2)), ("mae", np.mean(np.abs(error))), ("bits", bits)):
                rows.append(_row("series", name, method, metric, value, error.size))
            logger.info("%s: %d test windows, %s MSE %.4f", name, len(test), method, np.mean(error**2))
        examples[name] = {"original": test[0], **{method: out[0] for method, (out, _) in outputs.items()}}
    rows += _codebook_rows(torch.cat(series_ids), quantizer, f"series ({', '.join(datasets)} test)")

    images, labels = heldout_images(visual.config.image_size, HELDOUT_IMAGES[:QUICK_IMAGES] if quick else HELDOUT_IMAGES)
    rec, ids = _round_trip(visual, images, device, batch_size)
    rec = rec.clamp(0, 1)
    image_metrics = {"psnr": psnr(rec, images).mean(), "ssim": ssim(rec, images).mean(),
                     "fed": frechet_efficientnet_distance(images, rec, model=pipe.classifier_network())}  # fmt: skip
    if inception_weights is not None:
        image_metrics["inception_fid"] = inception_fid(images, rec, inception_weights, device=device)
    rows += [_row("image", "heldout images", "tokenizer", k, v, len(images)) for k, v in image_metrics.items()]
    rows += _codebook_rows(ids, quantizer, "heldout images")

    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "quick": quick,
        "series": f"non-overlapping z-scored test windows of {length} steps; DCT code chosen on train windows",
        "token_bits_per_window": budget,
        "tokens_per_window": tokens,
        "codebook_size": quantizer.codebook_size,
        "dct_codes": codes,
        "images": f"{len(images)} tiles of {len(labels) // 4} skimage.data images at {visual.config.image_size} px",
        "fed": FED_LABEL,
        "inception_fid": str(inception_weights) if inception_weights is not None else "not run (no weights path given)",
        "seconds": time.perf_counter() - began,
    }
    if out_dir is not None:
        _write_report(frame, Path(out_dir), images, rec, labels, examples)
    return frame


def _write_report(frame: pd.DataFrame, out_dir: Path, images, rec, labels, examples) -> dict[str, Path]:
    series = frame[frame["part"] == "series"]
    tables = {
        "Series reconstruction (z-scored test windows, equal bits)": series.pivot_table(
            index=["data", "method"], columns="metric", values="value", sort=False
        ),
        "Image reconstruction (held-out tiles)": frame[frame["part"] == "image"][["data", "metric", "value", "n"]],
        "Codebook use": frame[frame["part"] == "codebook"].pivot_table(index="metric", columns="data", values="value", sort=False),
    }
    paths = write_results(frame, out_dir, "tokenizer", frame.attrs["meta"], tables, "Tokenizer benchmark")
    shown = torch.arange(0, len(images), 4)[:8]  # one tile of each of the first 8 images
    grid = torch.cat([images[shown], rec[shown]])
    titles = [*(labels[i] for i in shown), *["reconstruction"] * len(shown)]
    paths["reconstructions"] = save_image_grid(grid, out_dir / "reconstructions.png", titles=titles, ncols=len(shown))
    for name, lines in examples.items():
        paths[f"series_{name}"] = save_series_plot(lines, out_dir / f"series_{name}.png", title=f"{name}: test window 0 (z-scored)")
    return paths
