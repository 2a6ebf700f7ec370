"""Tokenizer benchmark (``timeartist bench tokenizer``): what the shared code space carries, on held-out data.

Every size is read from the pipeline: image size S, series length L, N tokens per image or window, K codes; the
tokens spend B = N * log2(K) bits (``references``). Held-out data (``heldout``): the held-out split of the ImageNet
samples (never trained on) and strided, z-scored windows of LTSF test splits. Parts of the results frame, in the
order of the report:

1. ``image``: held-out photos (centre crops) encoded and decoded: PSNR and SSIM (mean over photos) and FED
   (EfficientNet-Lite0 features, not Inception FID) of the reconstructions to the originals, next to an equal-bit
   block average and the mean colour; ``psnr_gain_vs_block_average`` = tokenizer PSNR - block-average PSNR.
2. ``codebook``: usage, entropy and perplexity of the one codebook over at least ``tokens_per_code`` x K tokens of
   random views (crops over scales, flips; seeded) of the held-out photos, of the held-out series windows, and of
   both together.
3. ``series``: the series tokenizer against an equal-bit DCT code (chosen on train windows) on the test windows of
   ``datasets``: MSE, MAE, bits, and ``mse_ratio_to_dct``.
4. ``round trip``: series -> image -> series on the held-out windows through ``pipe.series_to_image`` and
   ``pipe.image_to_series``, aligned (the aligners) and unaligned (the shared codebook), z-scored MSE; the series
   tokenizer's own round trip beside them.
5. ``distinct``: mean pairwise EfficientNet-Lite0 feature distance of the pictures made from held-out series
   windows, and ``ratio_to_photos``: that divided by the same of as many real photos (ImageNet samples).
6. ``style``: feature distance of ``pipe.style_transfer(photo, series, alpha)`` to the photo over an alpha grid,
   mean over held-out photos x held-out series per alpha; ``mean_monotone``: 1 when that mean curve grows
   monotonically (``code_space.grows_monotonically``), else 0; ``monotone_share``: the share of (photo, series)
   pairs whose own curve does.
7. ``generation`` (pipelines with a generator): ``generation.generation_fed`` and ``fed_ratio_to_reconstructions``.
8. ``speed``: items per second of ``series_to_image`` and of image encode + decode at one batch, with the torch
   threads the process has (``speed.tokenizer_throughput``).
9. ``assets``: megabytes of the model folder (when ``model_dir`` is given).

With ``out_dir``: ``results.{json,csv,md}`` (the markdown opens with a summary of the headline numbers beside
the design's requirements and, with ``previous``, an earlier run's values), ``reconstructions.png`` (held-out
photos over their reconstructions and the block average), ``series_<dataset>.png``, ``round_trip.png``,
``series_images.png``, ``style_strip.png`` and ``generated.png`` (training photos, their reconstructions and images
generated for their classes). ``timeartist bench tokenizer`` (``add_arguments`` / ``run``) runs it on the bundled model.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from timeartist import __version__
from timeartist.data import ltsf_path
from timeartist.evaluation.code_space import (
    codebook_use, encode_ids, grows_monotonically, monotone_share, round_trip_series, round_trip_tokens, style_distances,
)  # fmt: skip
from timeartist.evaluation.generation import GENERATED, RECONSTRUCTIONS, generation_fed
from timeartist.evaluation.heldout import (
    evenly_spaced, heldout_windows, imagenet_folder, load_images, ltsf_windows, random_views, views_for,
)  # fmt: skip
from timeartist.evaluation.image_metrics import (
    FED_LABEL, efficientnet_features, fed_of_features, inception_fid, mean_pairwise_distance, psnr, ssim,
)  # fmt: skip
from timeartist.evaluation.references import MEAN_COLOUR, block_average_code, choose_dct_code
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names
from timeartist.evaluation.report import write_results
from timeartist.evaluation.speed import tokenizer_throughput
from timeartist.hub import DEFAULT_MODEL_DIR
from timeartist.viz import save_image_grid, save_series_plot

logger = logging.getLogger(__name__)

HELDOUT_PHOTOS = "held-out ImageNet"
HELDOUT_SERIES = "held-out series"
MB = 2**20
TRAIN_OVERLAP = 8  # train windows for the DCT code every L / 8 steps


class StepTimer:
    """Logs the start and the duration of each step of a run; ``seconds`` maps step names to durations."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        logger.info("%s ...", name)
        began = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - began, 1)
        logger.info("%s: done in %.1f s", name, self.seconds[name])


@dataclass(frozen=True)
class BenchCounts:
    """How much data each part reads (``FULL`` or ``QUICK``)."""

    tokens_per_code: float = 20.0  # codebook use over at least this many tokens per code
    heldout_photos: int | None = None  # held-out photos for the round trip and FED (None: all)
    windows_per_dataset: int | None = None  # held-out series windows per dataset (None: all at the chosen stride)
    train_windows: int = 2048  # train windows that choose the DCT code
    distinct: int = 100  # series windows, and real photos, of the distinct-pictures ratio
    style_photos: int = 20
    style_series: int = 5
    alphas: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    generation_draws: int = 3
    speed_batch: int = 64
    speed_seconds: float = 2.0


FULL = BenchCounts()
QUICK = replace(FULL, tokens_per_code=2.0, heldout_photos=4, windows_per_dataset=32, train_windows=256, distinct=6,
                style_photos=2, style_series=2, alphas=(0.0, 0.5, 1.0), generation_draws=1, speed_seconds=0.05)  # fmt: skip

# The summary: (what, part, data, method, metric, requirement); data None: one line per data the part has.
HEADLINES = (
    ("held-out photos: PSNR of the round trip (dB)", "image", None, "tokenizer", "psnr", ">= 22, target >= 25"),
    ("held-out photos: PSNR gain over the equal-bit block average (dB)", "image", None, "tokenizer", "psnr_gain_vs_block_average", ">= 2"),
    ("held-out photos: SSIM", "image", None, "tokenizer", "ssim", "reported"),
    ("held-out photos: FED of reconstructions to originals", "image", None, "tokenizer", "fed", "reported"),
    ("share of the codebook used", "codebook", "held-out images", "tokens", "usage", ">= 0.90, target >= 0.97"),
    ("share of the codebook used", "codebook", "held-out series", "tokens", "usage", ">= 0.90, target >= 0.97"),
    ("series tokenizer MSE / equal-bit DCT MSE", "series", None, "tokenizer", "mse_ratio_to_dct", "< 1, target <= 0.5"),
    ("aligned round trip series -> image -> series (z-scored MSE)", "round trip", None, "aligned", "mse", "<= 0.35, target <= 0.2"),
    ("distinct pictures: feature spread / that of real photos", "distinct", None, "aligned images", "ratio_to_photos", ">= 0.5, target >= 0.8"),
    ("style transfer: mean distance over the pairs grows with alpha (1 = yes)", "style", None, "style_transfer", "mean_monotone", "1 (yes)"),
    ("style transfer: share of pairs monotone in alpha", "style", None, "style_transfer", "monotone_share", "strict reading: 1 (every pair)"),
    ("generated images: FED / FED of reconstructions", "generation", None, GENERATED, "fed_ratio_to_reconstructions", "<= 1.2, target <= 1.05"),
    ("series -> image (series/s)", "speed", None, "series_to_image", "items_per_second", ">= 200"),
    ("images encode+decode (images/s)", "speed", None, "images encode+decode", "items_per_second", ">= 50"),
    ("model folder (MB)", "assets", None, "model folder", "megabytes", "<= 25"),
)  # fmt: skip
PART_TITLES = {
    "image": "1. Held-out ImageNet photos: round trip at equal bits",
    "codebook": "2. Codebook use (one codebook)",
    "series": "3. Series tokenizer vs DCT at equal bits (z-scored test windows)",
    "round trip": "4. Round trip series -> image -> series (z-scored MSE)",
    "distinct": "5. Distinct series give distinct pictures (mean pairwise feature distance)",
    "style": "6. Style transfer: feature distance to the photo by alpha",
    "generation": "7. Generated images: FED to the held-out photos (EfficientNet-Lite0 features, not Inception FID; mean over draws)",
    "speed": "8. Speed (items per second)",
    "assets": "9. Bundled assets",
}


def _row(part: str, data: str, method: str, metric: str, value: float, n: int) -> dict:
    return {"part": part, "data": data, "method": method, "metric": metric, "value": float(value), "n": int(n)}


def _image_part(pipe, photos: torch.Tensor, budget: float, network, batch_size: int, inception_weights) -> tuple[list[dict], dict]:
    """Part 1: rows and the images shown (originals, reconstructions, block averages)."""
    reconstructions, _ = round_trip_tokens(pipe.visual, photos, batch_size)
    block = block_average_code(budget, pipe.visual.config.num_latent_tokens)
    outputs = {"tokenizer": (reconstructions.clamp(0, 1), budget), block.name: (block.reconstruct(photos), block.bits),
               MEAN_COLOUR.name: (MEAN_COLOUR.reconstruct(photos), MEAN_COLOUR.bits)}  # fmt: skip
    originals = efficientnet_features(photos, network)
    rows, scores = [], {}
    for method, (images, bits) in outputs.items():
        scores[method] = {"bits": bits, "psnr": psnr(images, photos).mean(), "ssim": ssim(images, photos).mean(),
                          "fed": fed_of_features(efficientnet_features(images, network), originals)}  # fmt: skip
        if method == "tokenizer" and inception_weights is not None:
            scores[method]["inception_fid"] = inception_fid(photos, images, inception_weights, device=pipe.device)
        rows += [_row("image", HELDOUT_PHOTOS, method, metric, value, len(photos)) for metric, value in scores[method].items()]
        logger.info("held-out photos, %s: PSNR %.2f dB, SSIM %.3f, FED %.1f", method, scores[method]["psnr"], scores[method]["ssim"], scores[method]["fed"])
    gain = scores["tokenizer"]["psnr"] - scores[block.name]["psnr"]
    rows.append(_row("image", HELDOUT_PHOTOS, "tokenizer", "psnr_gain_vs_block_average", gain, len(photos)))
    return rows, {"original": photos, "tokenizer": outputs["tokenizer"][0], "block average": outputs[block.name][0]}


def dct_reference(name: str, data_root, length: int, budget: float, train_windows: int = FULL.train_windows):
    """The equal-bit DCT code of part 3 for LTSF set ``name``: chosen on up to ``train_windows`` of its train windows
    of ``length`` steps (every length / ``TRAIN_OVERLAP`` steps). Returns (code, number of train windows read)."""
    train = ltsf_windows(name, data_root, "train", length, max(1, length // TRAIN_OVERLAP), train_windows)
    return choose_dct_code(train, budget)[0], len(train)


def _series_part(pipe, name: str, test: np.ndarray, data_root, budget: float, counts: BenchCounts, recon: np.ndarray) -> tuple[list[dict], dict, dict]:
    """Part 3 for one dataset: rows, the chosen DCT code's description and the lines of an example window."""
    code, train_windows = dct_reference(name, data_root, pipe.temporal.seq_len, budget, counts.train_windows)
    outputs = {"tokenizer": (recon, budget), code.name: (code.reconstruct(test), code.bits)}
    rows, mse = [], {}
    for method, (out, bits) in outputs.items():
        error = out - test
        mse[method] = float(np.mean(error**2))
        for metric, value in (("mse", mse[method]), ("mae", np.mean(np.abs(error))), ("bits", bits)):
            rows.append(_row("series", name, method, metric, value, error.size))
        logger.info("%s: %d test windows, %s MSE %.4f", name, len(test), method, mse[method])
    rows.append(_row("series", name, "tokenizer", "mse_ratio_to_dct", mse["tokenizer"] / mse[code.name], test.size))
    example = {"original": test[0], **{method: out[0] for method, (out, _) in outputs.items()}}
    return rows, {"name": code.name, "bits": code.bits, "train_windows": train_windows}, example


def _round_trip_part(pipe, windows: np.ndarray, recon: np.ndarray, batch_size: int) -> tuple[list[dict], dict, dict]:
    """Part 4: rows, the lines of an example window and the images made from the windows per route."""
    outputs = {"series tokenizer": recon}
    images = {}
    routes = (True, False) if pipe.align_t2v is not None and pipe.align_v2t is not None else (False,)
    if len(routes) == 1:
        logger.warning("the pipeline has no aligners: only the unaligned round trip is measured")
    for aligned in routes:
        route = "aligned" if aligned else "unaligned"
        logger.info("round trip series -> image -> series (%s) of %d held-out windows", route, len(windows))
        images[route], outputs[route] = round_trip_series(pipe, windows, aligned, batch_size)
    rows = []
    for method, out in outputs.items():
        mse = float(np.mean((np.asarray(out, dtype=np.float64) - windows) ** 2))
        rows.append(_row("round trip", HELDOUT_SERIES, method, "mse", mse, len(windows)))
        logger.info("round trip, %s: z-scored MSE %.4f", method, mse)
    return rows, {"original": windows[0], **{k: np.asarray(v)[0] for k, v in outputs.items()}}, images


def _distinct_part(series_images: dict[str, np.ndarray], photos: torch.Tensor, network) -> list[dict]:
    """Part 5: spread of the pictures made from series per route, and of real photos, and their ratio."""
    reference = mean_pairwise_distance(efficientnet_features(photos, network))
    rows = [_row("distinct", f"{len(photos)} ImageNet samples", "real photos", "mean_pairwise_distance", reference, len(photos))]
    for route, images in series_images.items():
        spread = mean_pairwise_distance(efficientnet_features(torch.from_numpy(images), network))
        data = f"{len(images)} held-out series windows"
        rows += [_row("distinct", data, f"{route} images", "mean_pairwise_distance", spread, len(images)),
                 _row("distinct", data, f"{route} images", "ratio_to_photos", spread / reference, len(images))]  # fmt: skip
        logger.info("distinct pictures (%s): spread %.2f, real photos %.2f, ratio %.3f", route, spread, reference, spread / reference)
    return rows


def _style_part(pipe, photos: torch.Tensor, series: np.ndarray, alphas: Sequence[float], network) -> tuple[list[dict], torch.Tensor]:
    """Part 6: rows and the example strip (the photo, then the styled images over the alphas)."""
    distances, example = style_distances(pipe, photos, series, alphas, network)
    data, pairs = f"{len(photos)} held-out photos x {len(series)} held-out series", len(photos) * len(series)
    rows = [_row("style", data, "style_transfer", f"distance@alpha={a:g}", d, pairs) for a, d in zip(alphas, distances.mean(axis=(0, 1)))]
    share, mean_grows = monotone_share(distances), float(grows_monotonically(distances.mean(axis=(0, 1))))
    rows += [_row("style", data, "style_transfer", "mean_monotone", mean_grows, pairs), _row("style", data, "style_transfer", "monotone_share", share, pairs)]
    logger.info("style transfer: mean distance %s with alpha; %.0f%% of %d (photo, series) pairs monotone", "grows" if mean_grows else "does not grow", 100 * share, pairs)
    return rows, torch.cat([photos[:1], example])


def _generation_part(pipe, photos: torch.Tensor, data_root, counts: BenchCounts, seed: int, steps: int, guidance: float, network, batch_size: int):
    """Part 7: rows and the first draw's images per set."""
    train = imagenet_folder(data_root, pipe.visual.image_size, "train")
    draws, samples, names = generation_fed(pipe, efficientnet_features(photos, network), train, counts.generation_draws, seed, steps, guidance, network, batch_size)
    table = pd.DataFrame(draws).groupby("images", sort=False)["fed"].agg(["mean", "std"])
    rows = []
    for name, stats in table.iterrows():
        rows += [_row("generation", HELDOUT_PHOTOS, name, "fed", stats["mean"], len(photos)),
                 _row("generation", HELDOUT_PHOTOS, name, "fed_std", stats["std"] if counts.generation_draws > 1 else 0.0, len(photos))]  # fmt: skip
    ratio = table.loc[GENERATED, "mean"] / table.loc[RECONSTRUCTIONS, "mean"]
    rows.append(_row("generation", HELDOUT_PHOTOS, GENERATED, "fed_ratio_to_reconstructions", ratio, len(photos)))
    logger.info("generated images: FED %.1f vs %.1f for reconstructions (ratio %.3f)", table.loc[GENERATED, "mean"], table.loc[RECONSTRUCTIONS, "mean"], ratio)
    return rows, (samples, names)


def folder_megabytes(path: str | Path) -> float:
    """Total size in MB (2**20 bytes) of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / MB


def run_tokenizer_bench(
    data_root=None,
    pipe=None,
    out_dir: str | Path | None = None,
    datasets: Sequence[str] = ("ETTh1", "ETTh2"),
    quick: bool = False,
    inception_weights: str | Path | None = None,
    batch_size: int = 64,
    heldout_datasets: Sequence[str] = ("ETTh1", "ETTh2", "ETTm1"),
    model_dir: str | Path | None = None,
    seed: int = 0,
    guidance: float = 4.0,
    steps: int = 8,
    previous: str | Path | None = None,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the tokenizer benchmark of ``pipe`` (a ``TimeArtistPipeline``); return the long results frame.

    Columns: part, data, method, metric, value, n (photos, windows, values or tokens measured); the parts are
    described in the module docstring. ``datasets``: LTSF sets of the series-vs-DCT part; ``heldout_datasets``: LTSF
    sets whose test windows are the held-out series of parts 2 and 4-6. ``quick``: ``QUICK`` counts (seconds, for
    tests), else ``FULL``. ``inception_weights``: path of the TorchScript ``inception-2015-12-05.pt`` for an
    optional Inception FID of the photo round trip. ``model_dir``: the pipeline's folder, for part 9. ``seed``: the
    random views and the generation draws. ``guidance`` / ``steps``: as ``pipe.generate_images``. ``previous``: an
    earlier run's ``results.json`` (or ``tokenizer.json``, its name before), whose values the summary shows beside the
    new ones. ``command``: the command line, shown first in the results. With ``out_dir``: the files of the module docstring. Settings in
    ``frame.attrs["meta"]``.
    """
    if pipe is None:
        raise ValueError("run_tokenizer_bench needs a TimeArtistPipeline (pipe=TimeArtistPipeline.from_pretrained(...))")
    if not datasets or not heldout_datasets:
        raise ValueError("need at least one LTSF dataset for the series parts, e.g. ('ETTh1', 'ETTh2')")
    for name in (*datasets, *heldout_datasets):
        ltsf_path(name, data_root)  # unknown names and a missing root fail before any work, listing what exists
    if inception_weights is not None and not Path(inception_weights).is_file():
        raise FileNotFoundError(f"Inception FID weights not found: expected the TorchScript inception-2015-12-05.pt at {inception_weights}")
    previous_rows = _read_previous(previous) if previous is not None else None
    began = time.perf_counter()
    counts = QUICK if quick else FULL
    temporal, visual, quantizer = pipe.temporal, pipe.visual, pipe.temporal.quantize
    length, size, tokens, codes = temporal.seq_len, visual.image_size, temporal.num_latent_tokens, quantizer.codebook_size
    budget = tokens * math.log2(codes)
    network = pipe.classifier_network()
    logger.info("tokenizer bench: series %d steps, images %d px, %d tokens over %d codes (%.0f bits)", length, size, tokens, codes, budget)

    timer = StepTimer()
    with timer.step("held-out data"):
        heldout = imagenet_folder(data_root, size, "heldout")
        photo_index = evenly_spaced(len(heldout), counts.heldout_photos or len(heldout))
        photos, photo_names = load_images(heldout, photo_index), [heldout.files[i].stem.split("_", 1)[-1] for i in photo_index]
        wanted = views_for(counts.tokens_per_code, codes, tokens)
        windows, stride = heldout_windows(heldout_datasets, data_root, length, wanted)
        windows.update({name: ltsf_windows(name, data_root, "test", length, stride) for name in datasets if name not in windows})
        if counts.windows_per_dataset is not None:
            windows = {name: w[evenly_spaced(len(w), counts.windows_per_dataset)] for name, w in windows.items()}
        pooled = np.concatenate([windows[name] for name in heldout_datasets])
    with timer.step("series tokenizer round trips"):
        series_recon, series_ids = {}, {}
        for name, w in windows.items():
            recon, ids = round_trip_tokens(temporal, torch.from_numpy(w).float(), batch_size)
            series_recon[name], series_ids[name] = recon.double().numpy(), ids

    with timer.step("1. photo round trip at equal bits"):
        rows, shown = _image_part(pipe, photos, budget, network, batch_size, inception_weights)

    with timer.step("2. codebook use"):
        views = random_views(heldout.files, size, wanted, seed)
        image_ids = encode_ids(visual, views, batch_size)
        held_series_ids = torch.cat([series_ids[name] for name in heldout_datasets])
        both = torch.cat([image_ids.flatten(), held_series_ids.flatten()])
        for data, ids in (("held-out images", image_ids), ("held-out series", held_series_ids), ("images + series", both)):
            use = codebook_use(ids, quantizer)
            rows += [_row("codebook", data, "tokens", metric, value, ids.numel()) for metric, value in use.items()]
            logger.info("codebook use, %s: %.1f%% of %d codes over %d tokens", data, 100 * use["usage"], codes, ids.numel())

    with timer.step("3. series tokenizer vs DCT"):
        dct_codes, examples = {}, {}
        for name in datasets:
            part, dct_codes[name], examples[name] = _series_part(pipe, name, windows[name], data_root, budget, counts, series_recon[name])
            rows += part

    with timer.step("4. round trip series -> image -> series"):
        pooled_recon = np.concatenate([series_recon[name] for name in heldout_datasets])
        part, round_trip_example, series_images = _round_trip_part(pipe, pooled, pooled_recon, batch_size)
        rows += part

    with timer.step("5. distinct pictures"):
        picked = evenly_spaced(len(pooled), counts.distinct)
        everyone = imagenet_folder(data_root, size, "all")
        real = load_images(everyone, evenly_spaced(len(everyone), counts.distinct))
        series_images = {route: images[picked] for route, images in series_images.items()}
        rows += _distinct_part(series_images, real, network)

    with timer.step("6. style transfer"):
        style_photos = photos[evenly_spaced(len(photos), counts.style_photos)]
        style_series = pooled[evenly_spaced(len(pooled), counts.style_series)]
        part, strip = _style_part(pipe, style_photos, style_series, counts.alphas, network)
        rows += part

    generated = None
    if pipe.generator is not None:
        with timer.step("7. generated images"):
            part, generated = _generation_part(pipe, photos, data_root, counts, seed, steps, guidance, network, batch_size)
            rows += part
    else:
        logger.info("the pipeline has no token generator: no generated-image rows")

    with timer.step("8. speed"):
        rates = tokenizer_throughput(pipe, pooled[: counts.speed_batch], views[: counts.speed_batch], counts.speed_seconds)
        rows += [_row("speed", f"batch {counts.speed_batch}", op, "items_per_second", rate, counts.speed_batch) for op, rate in rates.items()]
    if model_dir is not None:
        rows.append(_row("assets", Path(model_dir).name, "model folder", "megabytes", folder_megabytes(model_dir), 1))

    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "timeartist": __version__,
        "model": str(model_dir) if model_dir is not None else "in memory",
        "quick": quick,
        "counts": asdict(counts),
        "code space": f"{tokens} tokens x log2({codes}) = {budget:g} bits per image or window; images {size} px, series {length} steps",
        "held-out photos": f"{len(photos)} of the {len(heldout)} held-out ImageNet samples (centre crops), never trained on",
        "held-out series": f"z-scored test windows of {', '.join(heldout_datasets)} every {stride} steps: {len(pooled)} windows",
        "codebook views": f"{len(views)} random views of the held-out photos (squares of 35-100% of the shorter edge, flips; seed {seed})",
        "dct_codes": dct_codes,
        "fed": FED_LABEL,
        "generation": {"steps": steps, "guidance": guidance, "draws": counts.generation_draws, "seed": seed} if generated is not None else "no generator",
        "inception_fid": str(inception_weights) if inception_weights is not None else "not run (no weights path given)",
        "torch_threads": torch.get_num_threads(),
        "device": str(pipe.device),
        "seconds": time.perf_counter() - began,
        "seconds by step": timer.seconds,
    }  # fmt: skip
    if out_dir is not None:
        figures = {"shown": shown, "photo_names": photo_names, "series": examples, "round_trip": round_trip_example, "series_images": series_images, "strip": strip,
                   "alphas": counts.alphas, "generated": generated}  # fmt: skip
        _write_report(frame, Path(out_dir), previous_rows, figures, command)
    logger.info("tokenizer bench done in %.0f s", frame.attrs["meta"]["seconds"])
    return frame


# ---------------------------------------------------------------------------------------------- report
KEY = ["part", "data", "method", "metric"]


def _read_previous(path: str | Path) -> pd.DataFrame:
    """The rows of an earlier run's ``results.json`` (``tokenizer.json`` in folders written before that name)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--previous {path}: file not found; expected the results.json of an earlier tokenizer bench run")
    try:
        rows = pd.DataFrame(json.loads(path.read_text())["rows"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"--previous {path} is not a results.json written by the tokenizer bench ({error})") from None
    if not set(KEY) | {"value"} <= set(rows.columns):
        raise ValueError(f"--previous {path} has no {KEY + ['value']} columns; expected the results.json of a tokenizer bench run")
    return rows


def summary_table(frame: pd.DataFrame, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``HEADLINES`` found in ``frame``: what, data, value, required (and previous: the value of the same row
    of an earlier run, NaN where it had none)."""
    lines = []
    for what, part, data, method, metric, required in HEADLINES:
        found = frame[(frame["part"] == part) & (frame["method"] == method) & (frame["metric"] == metric)]
        found = found if data is None else found[found["data"] == data]
        lines += [{"what": what, **row[KEY].to_dict(), "value": row["value"], "required": required} for _, row in found.iterrows()]
    table = pd.DataFrame(lines, columns=["what", *KEY, "value", "required"])
    if previous is not None:
        table = table.merge(previous[[*KEY, "value"]].rename(columns={"value": "previous"}), on=KEY, how="left")
    return table.drop(columns=["part", "method", "metric"])


def _write_report(frame: pd.DataFrame, out_dir: Path, previous: pd.DataFrame | None, figures: dict, command: str | None) -> dict[str, Path]:
    summary = summary_table(frame, previous)
    tables = {"Summary": summary.fillna({"previous": "not measured"}) if previous is not None else summary}
    for part, title in PART_TITLES.items():
        rows = frame[frame["part"] == part]
        if len(rows):
            tables[title] = rows.pivot_table(index=["data", "method"], columns="metric", values="value", sort=False).fillna("")
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "Tokenizer benchmark", command)

    shown = figures["shown"]
    count = min(8, len(shown["original"]))
    grid = torch.cat([images[:count] for images in shown.values()])
    titles = [*(name[:16] for name in figures["photo_names"][:count]), *(name for name in list(shown)[1:] for _ in range(count))]
    paths["reconstructions"] = save_image_grid(grid, out_dir / "reconstructions.png", titles=titles, ncols=count)
    for name, lines in figures["series"].items():
        paths[f"series_{name}"] = save_series_plot(lines, out_dir / f"series_{name}.png", title=f"{name}: test window 0 (z-scored)")
    paths["round_trip"] = save_series_plot(figures["round_trip"], out_dir / "round_trip.png", title="series -> image -> series, held-out window 0")
    made = {route: torch.from_numpy(images[:8]) for route, images in figures["series_images"].items()}
    paths["series_images"] = save_image_grid(torch.cat(list(made.values())), out_dir / "series_images.png",
                                             titles=[f"{route} {i}" for route, images in made.items() for i in range(len(images))], ncols=8)  # fmt: skip
    strip_titles = ["photo", *(f"alpha={a:g}" for a in figures["alphas"])]
    paths["style_strip"] = save_image_grid(figures["strip"], out_dir / "style_strip.png", titles=strip_titles, ncols=len(strip_titles))
    if figures["generated"] is not None:
        sets, names = figures["generated"]
        count = min(8, len(names))
        grid = torch.cat([torch.as_tensor(images[:count]) for images in sets.values()])
        titles = [*(n[:16] for n in names[:count]), *["reconstruction"] * count, *(f"generated: {n[:10]}" for n in names[:count])]
        paths["generated"] = save_image_grid(grid, out_dir / "generated.png", titles=titles, ncols=count)
    return paths


# ---------------------------------------------------------------------------------------------- timeartist bench tokenizer
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", default="ETTh1,ETTh2", help="LTSF sets of the series-vs-DCT part (comma-separated)")
    parser.add_argument("--heldout-datasets", default="ETTh1,ETTh2,ETTm1", help="LTSF sets whose test windows are the held-out series")
    parser.add_argument("--inception-weights", help="TorchScript Inception file (inception-2015-12-05.pt) for an opt-in real FID")
    parser.add_argument("--batch-size", type=int, default=256, help="images or series per model call")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random views and the generation draws")
    parser.add_argument("--guidance", type=float, default=4.0, help="guidance of the generated images (as `generate`)")
    parser.add_argument("--steps", type=int, default=8, help="decoding steps of the generated images")
    parser.add_argument("--previous", help="an earlier run's results.json (or tokenizer.json), shown beside the new values in the summary")
    parser.add_argument("--quick", action="store_true", help="small counts of every part (seconds)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    check_out(args.out)
    return run_tokenizer_bench(
        data_root=args.data_root, pipe=load_pipeline(args), out_dir=args.out, datasets=names(args.datasets),
        heldout_datasets=names(args.heldout_datasets), quick=args.quick, inception_weights=args.inception_weights,
        batch_size=args.batch_size, model_dir=args.model or DEFAULT_MODEL_DIR, seed=args.seed, guidance=args.guidance,
        steps=args.steps, previous=args.previous, command=args.command_line,
    )  # fmt: skip
