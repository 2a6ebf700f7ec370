"""Alignment benchmark (``timeartist bench align``): do the aligners turn series into pictures that belong among photos?

The rows of issue 25 ("Alignment that aligns"), on data no model trained on: the held-out split of the ImageNet
samples (``heldout.imagenet_folder``, centre crops at the tokenizer size S) and held-out series: z-scored windows of
2L steps from the LTSF test splits of ``heldout_datasets`` (``heldout.heldout_windows``, as ``bench tokenizer`` reads
its held-out series), each cut into two adjacent windows A (first L steps) and B (last L), each z-scored again. L is
the series tokenizer's length. Rows 1-4 and 6 read the A windows; row 5 reads A and B. Every picture is compared
through pooled EfficientNet-Lite0 features (``image_metrics.efficientnet_features``); FED is the Frechet distance on
them (not Inception FID), always between sets of the same size n = min(photos, series).

1. ``fed_ratio_aligned``: FED(aligned pictures of n series, n photos) / FED(the n photos' reconstructions through the
   image tokenizer, the n photos); both FEDs are rows too. The reconstructions bound what any picture decoded from
   tokens can reach, so 1 means "as photo-like as the decoder allows".
2. ``fed_ratio_unaligned``: the same for the pictures before alignment (``series_to_image(aligned=False)``).
3. ``changed_token_share``: share of the image tokens that the series -> image aligner makes different from the
   series' own tokens (``series_to_tokens`` aligned against not).
4. ``spread_ratio_aligned``: mean pairwise feature distance of the aligned pictures / that of the photos (collapse
   onto a few pictures gives a small spread); ``spread_ratio_unaligned`` beside it.
5. ``same_series_share_aligned``: the share of series whose picture of A has the picture of its own B as nearest
   neighbour (Euclidean feature distance) among all B pictures; chance is 1 / series.
6. ``round_trip_mse_aligned``: series -> image -> series through both aligners (``code_space.round_trip_series``),
   z-scored MSE against A; ``round_trip_mse_unaligned`` through the shared codebook alone.
7. With ``artist``: the ``artist`` forecast path and ``visionts`` on ETTh1 / ETTh2, every 241st test window
   (``ltsf.run_ltsf(quick=True)``), MSE averaged over the horizons 96-720; the target is to beat visionts.

Figures: ``pictures.png`` (held-out photos, their reconstructions, series pictures before and after alignment),
``pairs.png`` (pictures of A, of its own B and the nearest B) and ``progression.png`` (8 held-out series as rows; the
picture before alignment, then one column per training checkpoint of an align run, or the given model's aligned
picture without a run). Nothing is chosen on the test data: there is no fitting here.
"""

from __future__ import annotations

import argparse
import logging
import operator
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from timeartist import __version__
from timeartist.data import ltsf_path
from timeartist.evaluation.code_space import round_trip_series
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names, positive_ints
from timeartist.evaluation.heldout import evenly_spaced, heldout_windows, imagenet_folder, load_images, zscore_windows
from timeartist.evaluation.image_metrics import FED_LABEL, efficientnet_features, fed_of_features, mean_pairwise_distance
from timeartist.evaluation.report import write_results
from timeartist.hub import DEFAULT_MODEL_DIR
from timeartist.viz import save_image_grid

logger = logging.getLogger(__name__)

ROUTES = {"aligned": True, "unaligned": False}
SHOWN = 8  # series (and photos) drawn in the figures
MAX_PROGRESSION_STEPS = 6  # checkpoints in the progression figure when --steps is not given
ARTIST_DATASETS = ("ETTh1", "ETTh2")
COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Row:
    """One benchmark row: its name, what it measures, and the bound it must (``required``) and should (``target``)
    meet under ``compare`` (None: reported only)."""

    name: str
    what: str
    compare: str = "<="
    required: float | None = None
    target: float | None = None

    def bound(self, value: float | None) -> str:
        return "reported" if value is None else f"{self.compare} {value:g}"

    def meets(self, value: float, bound: float | None) -> bool | None:
        return None if bound is None else bool(np.isfinite(value) and COMPARE[self.compare](value, bound))


ROWS = {row.name: row for row in (
    Row("fed_ratio_aligned", "FED(aligned series pictures, photos) / FED(photo reconstructions, photos)", "<=", 1.25, 1.10),
    Row("fed_aligned", "FED(aligned series pictures, held-out photos)"),
    Row("fed_reconstructions", "FED(reconstructions of the held-out photos, the photos)"),
    Row("fed_ratio_unaligned", "the same ratio for the pictures before alignment"),
    Row("fed_unaligned", "FED(series pictures before alignment, held-out photos)"),
    Row("changed_token_share", "share of tokens the series -> image aligner changes"),
    Row("spread_ratio_aligned", "mean pairwise feature distance of aligned pictures / of the photos", ">=", 0.8, 0.9),
    Row("spread_ratio_unaligned", "the same before alignment", ">="),
    Row("same_series_share_aligned", "share of series whose picture of A has its own B's as nearest neighbour among all B", ">=", 0.06, 0.3),
    Row("same_series_share_unaligned", "the same before alignment", ">="),
    Row("round_trip_mse_aligned", "series -> image -> series through both aligners, z-scored MSE", "<=", 0.35, 0.2),
    Row("round_trip_mse_unaligned", "the same through the shared codebook alone"),
)}  # fmt: skip


def result_row(row: Row, value: float, n: int, target: float | None = None) -> dict:
    """A results-frame row of ``row`` (``target`` overrides its target, for bounds measured in the same run)."""
    target = row.target if target is None else target
    return {"row": row.name, "what": row.what, "value": float(value), "required": row.bound(row.required), "target": row.bound(target),
            "met": row.meets(value, row.required), "target_met": row.meets(value, target), "n": int(n)}  # fmt: skip


# ---------------------------------------------------------------------------------------------- held-out data
def heldout_pairs(datasets: Sequence[str], data_root, length: int, count: int, split: str = "test") -> tuple[np.ndarray, str]:
    """``count`` held-out series as pairs of adjacent windows (count, 2, length), A = [:, 0] and B = [:, 1], each
    z-scored, spread evenly over the ``split`` windows ("test", or "val" to choose a checkpoint) of 2 x ``length``
    steps of ``datasets``; pairs with a constant half are left out. Returns the pairs and where they come from."""
    windows, stride = heldout_windows(datasets, data_root, 2 * length, count, split=split)
    halves, kept = zscore_windows(np.concatenate([windows[name] for name in datasets]).reshape(-1, length))
    both = kept.reshape(-1, 2).all(axis=1)
    if not both.all():
        logger.info("held-out pairs: left out %d with a constant half", int((~both).sum()))
    flat = np.zeros((len(kept), length))
    flat[kept] = halves
    pairs = flat.reshape(-1, 2, length)[both]
    if len(pairs) < 2:
        raise ValueError(f"the {split} splits of {', '.join(datasets)} give {len(pairs)} pairs of {length}-step windows; need at least 2")
    pairs = pairs[evenly_spaced(len(pairs), count)]
    source = (f"{len(pairs)} z-scored {split} windows of {2 * length} steps of {', '.join(datasets)} (stride {stride}), each cut into "
              f"A (first {length}) and B (last {length})")  # fmt: skip
    return pairs, source


def heldout_photos(data_root, size: int, count: int | None) -> tuple[torch.Tensor, list[str], str]:
    """Up to ``count`` (None: all) held-out ImageNet photos (P, 3, size, size), spread evenly over the split, their
    class names, and a description."""
    folder = imagenet_folder(data_root, size, "heldout")
    index = evenly_spaced(len(folder), count or len(folder))
    photos = load_images(folder, index)
    return photos, [folder.files[i].stem.split("_", 1)[-1] for i in index], f"{len(photos)} of the {len(folder)} held-out ImageNet samples (centre crops)"


# ---------------------------------------------------------------------------------------------- the measures
def changed_token_share(pipe, series: np.ndarray, batch_size: int = 64) -> float:
    """Share of the image tokens (over all series x N positions) that the series -> image aligner sets to another
    code than the series' own token; series (B, L)."""
    aligned = pipe.series_to_tokens(series, aligned=True, batch_size=batch_size, progress=False)
    return float(np.mean(aligned != pipe.series_to_tokens(series, aligned=False, batch_size=batch_size, progress=False)))


def fed_ratio(pictures: torch.Tensor, reconstructions: torch.Tensor, photos: torch.Tensor) -> tuple[float, float, float]:
    """Features (n, D) of pictures, of the photos' reconstructions and of the photos (same n each) -> (FED of the
    pictures to the photos, FED of the reconstructions to the photos, their ratio)."""
    if not len(pictures) == len(reconstructions) == len(photos):
        raise ValueError(f"FED compares sets of equal size only, got {len(pictures)}, {len(reconstructions)} and {len(photos)}")
    fed, reference = fed_of_features(pictures, photos), fed_of_features(reconstructions, photos)
    return fed, reference, fed / reference


def nearest_own_share(features_a: torch.Tensor, features_b: torch.Tensor) -> tuple[float, np.ndarray]:
    """Features (n, D) of the pictures of A and of B, row i of both from series i -> (share of i whose nearest B
    picture is B_i, the index (n,) of each A's nearest B)."""
    if features_a.shape != features_b.shape or len(features_a) < 2:
        raise ValueError(f"expected two feature sets (n, D) of the same shape, n >= 2; got {tuple(features_a.shape)} and {tuple(features_b.shape)}")
    nearest = torch.cdist(features_a.double(), features_b.double()).argmin(dim=1).numpy()
    return float(np.mean(nearest == np.arange(len(nearest)))), nearest


def round_trip_mse(pipe, series: np.ndarray, aligned: bool, batch_size: int = 64) -> float:
    """z-scored MSE of series (B, L) against their round trip series -> image -> series."""
    _, back = round_trip_series(pipe, series, aligned, batch_size)
    return float(np.mean((np.asarray(back, dtype=np.float64) - series) ** 2))


def measure_alignment(pipe, photos: torch.Tensor, pairs: np.ndarray, network, batch_size: int = 64) -> tuple[list[dict], dict]:
    """Rows 1-6 of the module docstring for photos (P, 3, S, S) in [0, 1] and series pairs (M, 2, L), z-scored.

    The FED rows compare n = min(P, M) photos, their reconstructions and the pictures of n series, both spread evenly
    over their sets. Returns the result rows (``result_row``) and what the figures show: ``photo_index`` (n,) of the
    photos used, ``photos`` and ``reconstructions`` (n, 3, S, S), and per route ``pictures[route]`` of A and
    ``pictures_b[route]`` of B (M, 3, S, S), ``nearest[route]`` (M,): the B picture nearest to each A picture.
    """
    if pipe.align_t2v is None or pipe.align_v2t is None:
        raise ValueError("bench align needs a pipeline with both aligners (align_t2v/, align_v2t/); load one trained with `timeartist train align`")
    n = min(len(photos), len(pairs))
    if n < 2:
        raise ValueError(f"bench align needs at least 2 photos and 2 series, got {len(photos)} and {len(pairs)}")
    series_a, series_b = pairs[:, 0], pairs[:, 1]
    photo_index, series_index = evenly_spaced(len(photos), n), evenly_spaced(len(pairs), n)
    photos = photos[photo_index]
    reconstructions = torch.as_tensor(pipe.reconstruct_images(photos, batch_size=batch_size, progress=False))
    photo_features, reconstruction_features = efficientnet_features(photos, network), efficientnet_features(reconstructions, network)
    rows = [result_row(ROWS["changed_token_share"], changed_token_share(pipe, series_a, batch_size), len(series_a))]
    shown = {"photo_index": photo_index, "photos": photos, "reconstructions": reconstructions, "pictures": {}, "pictures_b": {}, "nearest": {}}
    for route, aligned in tqdm(ROUTES.items(), desc="before and after alignment", disable=None):
        pictures_a = torch.as_tensor(pipe.series_to_image(series_a, aligned=aligned, batch_size=batch_size, progress=False))
        pictures_b = torch.as_tensor(pipe.series_to_image(series_b, aligned=aligned, batch_size=batch_size, progress=False))
        features_a, features_b = efficientnet_features(pictures_a, network), efficientnet_features(pictures_b, network)
        fed, reference, ratio = fed_ratio(features_a[series_index], reconstruction_features, photo_features)
        spread = mean_pairwise_distance(features_a) / mean_pairwise_distance(photo_features)
        share, nearest = nearest_own_share(features_a, features_b)
        mse = round_trip_mse(pipe, series_a, aligned, batch_size)
        rows += [result_row(ROWS[f"fed_ratio_{route}"], ratio, n), result_row(ROWS[f"fed_{route}"], fed, n),
                 result_row(ROWS[f"spread_ratio_{route}"], spread, len(pairs)), result_row(ROWS[f"same_series_share_{route}"], share, len(pairs)),
                 result_row(ROWS[f"round_trip_mse_{route}"], mse, len(pairs))]  # fmt: skip
        logger.info("%s: FED %.1f (reconstructions %.1f, ratio %.3f), spread ratio %.3f, same-series share %.3f, round trip MSE %.4f",
                    route, fed, reference, ratio, spread, share, mse)  # fmt: skip
        shown["pictures"][route], shown["pictures_b"][route], shown["nearest"][route] = pictures_a, pictures_b, nearest
    rows.append(result_row(ROWS["fed_reconstructions"], reference, n))
    order = list(ROWS)
    return sorted(rows, key=lambda row: order.index(row["row"])), shown


def artist_rows(pipe, data_root, batch_size: int) -> tuple[list[dict], dict]:
    """Row 7: MSE (mean over the horizons) of the ``artist`` path and of ``visionts`` on ``ARTIST_DATASETS``, every
    241st test window (``run_ltsf(quick=True)``), and the LTSF run's meta data."""
    from timeartist.evaluation.ltsf import run_ltsf

    methods = [pipe.forecaster("artist", batch_size=batch_size), pipe.forecaster("visionts", batch_size=batch_size)]
    frame = run_ltsf(data_root=data_root, datasets=ARTIST_DATASETS, methods=methods, quick=True, batch_size=batch_size)
    mse = frame[frame["horizon"] == "avg"].set_index(["dataset", "method"])["mse"]
    rows = []
    for name in ARTIST_DATASETS:
        windows = int(frame[(frame["dataset"] == name) & (frame["method"] == "artist")]["windows"].iloc[0])
        visionts = Row(f"visionts_mse_{name}", f"visionts forecast path, {name} every 241st test window, MSE (mean of horizons 96-720)")
        artist = Row(f"artist_mse_{name}", f"artist forecast path, {name} every 241st test window, MSE (mean of horizons 96-720); target: below visionts", "<")
        rows += [result_row(artist, mse[name, "artist"], windows, target=mse[name, "visionts"]), result_row(visionts, mse[name, "visionts"], windows)]
        logger.info("%s: artist MSE %.3f, visionts %.3f", name, mse[name, "artist"], mse[name, "visionts"])
    return rows, {key: frame.attrs["meta"][key] for key in ("protocol", "horizons", "settings")}


# ---------------------------------------------------------------------------------------------- the progression
def align_run(run_dir: str | Path, steps: Sequence[int] | None = None) -> tuple[list[tuple[int, Path]], object]:
    """The checkpoints of an align training run to draw, as (step, folder): ``steps`` (each must exist) or up to
    ``MAX_PROGRESSION_STEPS`` evenly spaced, first and last included; and the run's config (from its ``run.json``,
    ``training.export.run_config``). A folder that is no align run, or a missing step, is an error naming it."""
    from timeartist.training.engine import list_checkpoints
    from timeartist.training.export import run_config

    run_dir = Path(run_dir)
    found = {int(folder.name.rsplit("-", 1)[1]): folder for folder in list_checkpoints(run_dir)}
    if not found:
        raise FileNotFoundError(f"--run {run_dir} holds no complete checkpoint in checkpoints/; expected an align training run folder")
    available = sorted(found)
    if steps is None:
        steps = [available[i] for i in evenly_spaced(len(available), MAX_PROGRESSION_STEPS)]
    missing = [step for step in steps if step not in found]
    if missing:
        raise ValueError(f"--steps {missing} have no checkpoint in {run_dir}; available: {available}")
    stage, cfg = run_config(found[available[0]])
    if stage != "align":
        raise ValueError(f"--run {run_dir} is a {stage} training run; expected an align run")
    return [(step, found[step]) for step in sorted(set(steps))], cfg


def checkpoint_pipelines(chosen: Sequence[tuple[int, Path]], cfg, device="cpu") -> Iterator[tuple[int, object]]:
    """For each (step, checkpoint folder) of an align run with config ``cfg``: (step, a pipeline of the run's
    tokenizers with that checkpoint's aligners: the EMA weights where the run kept them, else the raw ones). The
    pipeline is the same object each time, with new weights."""
    from timeartist.pipelines.pipeline import TimeArtistPipeline
    from timeartist.training.align import export_task
    from timeartist.training.engine import read_checkpoint_state
    from timeartist.training.export import load_checkpoint_weights

    task = export_task(cfg)
    pipe = TimeArtistPipeline(task.temporal, task.visual, task.t2v, task.v2t, device=device)  # puts the aligners in eval mode
    for step, folder in tqdm(chosen, desc="checkpoints", disable=None):
        state = read_checkpoint_state(folder)
        load_checkpoint_weights(task, state, ema=state["ema"] is not None, source=folder)
        yield step, pipe


def progression(pipe, series: np.ndarray, run_dir: str | Path | None = None, steps: Sequence[int] | None = None,
                batch_size: int = 64) -> tuple[dict[str, torch.Tensor], dict[str, float]]:  # fmt: skip
    """Pictures of ``series`` (R, L) by column: "before alignment", then one column per checkpoint of the align run
    ``run_dir`` ("step <k>", ``align_run`` chooses them; the run's own tokenizers), or "after alignment" of ``pipe``
    without a run. Returns {column: (R, 3, S, S)} in that order and each aligned column's changed-token share."""
    if run_dir is None:
        sources = iter([("after alignment", pipe)])
    else:
        chosen, cfg = align_run(run_dir, steps)
        sources = ((f"step {step}", at_step) for step, at_step in checkpoint_pipelines(chosen, cfg, pipe.device))
    columns, shares = {}, {}
    for label, source in sources:
        if not columns:
            columns["before alignment"] = torch.as_tensor(source.series_to_image(series, aligned=False, batch_size=batch_size, progress=False))
        columns[label] = torch.as_tensor(source.series_to_image(series, aligned=True, batch_size=batch_size, progress=False))
        shares[label] = changed_token_share(source, series, batch_size)
    return columns, shares


def progression_grid(columns: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, list[str]]:
    """{column: (R, 3, S, S)} -> the images row by row (R * C, 3, S, S) and their titles (the column names over the
    first row only), for ``viz.save_image_grid(..., ncols=C)``."""
    grid = torch.stack(list(columns.values()), dim=1)  # (R, C, 3, S, S)
    return grid.flatten(0, 1), [*columns, *[""] * ((grid.shape[0] - 1) * grid.shape[1])]


# ---------------------------------------------------------------------------------------------- the run
def run_align_bench(
    pipe,
    data_root=None,
    photos: int | None = None,
    series: int = 100,
    heldout_datasets: Sequence[str] = ("ETTh1", "ETTh2", "ETTm1"),
    split: str = "test",
    run_dir: str | Path | None = None,
    steps: Sequence[int] | None = None,
    artist: bool = False,
    out_dir: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 64,
    model_dir: str | Path | None = None,
    command: str | None = None,
) -> pd.DataFrame:
    """Measure the rows of the module docstring for ``pipe`` and return them as a frame (columns row, what, value,
    required, target, met, target_met, n; settings in ``frame.attrs["meta"]``).

    ``photos``: held-out photos (None: all of them); ``series``: held-out series, i.e. A/B pairs; ``heldout_datasets``:
    the LTSF sets whose ``split`` ("test"; "val" to choose a checkpoint) gives them. ``run_dir`` / ``steps``: the align run (and its checkpoint steps) of the
    progression figure. ``artist``: add row 7 (slow). ``seed``: which series and photos the figures show. With
    ``out_dir``: results.{json,csv,md} and the PNG figures.
    """
    if series < 2 or (photos is not None and photos < 2):
        raise ValueError(f"bench align needs at least 2 photos and 2 series, got photos={photos} and series={series}")
    if not heldout_datasets:
        raise ValueError("need at least one LTSF dataset for the held-out series, e.g. ETTh1,ETTh2,ETTm1")
    for name in (*heldout_datasets, *(ARTIST_DATASETS if artist else ())):
        ltsf_path(name, data_root)  # unknown names and a missing root fail before any work, listing what exists
    if run_dir is not None:
        align_run(run_dir, steps)  # a bad run folder or step fails before any work too
    began = time.perf_counter()
    photo_set, photo_names, photo_source = heldout_photos(data_root, pipe.visual.image_size, photos)
    pairs, series_source = heldout_pairs(heldout_datasets, data_root, pipe.temporal.seq_len, series, split)
    rows, shown = measure_alignment(pipe, photo_set, pairs, pipe.classifier_network(), batch_size)
    ltsf_meta = "not run (--artist)"
    if artist:
        part, ltsf_meta = artist_rows(pipe, data_root, batch_size)
        rows += part
    rng = np.random.default_rng(seed)
    series_shown = np.sort(rng.choice(len(pairs), min(SHOWN, len(pairs)), replace=False))
    photos_shown = np.sort(rng.choice(len(shown["photos"]), min(SHOWN, len(shown["photos"])), replace=False))
    columns, shares = progression(pipe, pairs[series_shown, 0], run_dir, steps, batch_size)

    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "timeartist": __version__,
        "model": model_name(model_dir),
        "held-out photos": photo_source,
        "held-out series": series_source,
        "fed": f"{FED_LABEL}; every FED between sets of n = {len(shown['photos'])} (the smaller of photos and series)",
        "same-series chance level": 1 / len(pairs),
        "series shown": series_shown.tolist(),
        "progression": {"run": str(run_dir) if run_dir is not None else None, "changed_token_share": shares},
        "artist": ltsf_meta,
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - began, 1),
    }  # fmt: skip
    if out_dir is not None:
        photo_titles = [photo_names[i][:16] for i in shown["photo_index"][photos_shown]]
        write_report(frame, Path(out_dir), shown, columns, series_shown, photos_shown, photo_titles, command)
    logger.info("align bench done in %.0f s", frame.attrs["meta"]["seconds"])
    return frame


def model_name(model_dir: str | Path | None) -> str:
    """How the results name the model: its folder, "bundled default model", or "in memory" (no folder given)."""
    if model_dir is None:
        return "in memory"
    return "bundled default model" if Path(model_dir).resolve() == DEFAULT_MODEL_DIR.resolve() else str(model_dir)


def write_report(frame: pd.DataFrame, out_dir: Path, shown: dict, columns: Mapping[str, torch.Tensor], series_shown: np.ndarray,
                 photos_shown: np.ndarray, photo_titles: Sequence[str], command: str | None) -> dict[str, Path]:  # fmt: skip
    """results.{json,csv,md}, pictures.png, pairs.png and progression.png into ``out_dir``; ``series_shown`` and
    ``photos_shown`` index the series pairs and the photos of ``measure_alignment``'s ``shown``."""
    rows = frame.set_index("row")
    for column in ("met", "target_met"):
        rows[column] = [{True: "yes", False: "no"}.get(value, "") for value in frame[column]]
    shares = pd.Series(frame.attrs["meta"]["progression"]["changed_token_share"], name="changed_token_share").rename_axis("column")
    tables = {"Rows": rows, "Progression: share of tokens the series -> image aligner changes (the series drawn)": shares.to_frame()}
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "Alignment benchmark", command)

    count = min(len(photos_shown), len(series_shown))
    photos_shown, series_shown = photos_shown[:count], series_shown[:count]
    pictures = shown["pictures"]
    sets = {"reconstruction": shown["reconstructions"][photos_shown], "before alignment": pictures["unaligned"][series_shown],
            "after alignment": pictures["aligned"][series_shown]}  # fmt: skip
    titles = [*photo_titles[:count], *["reconstruction"] * count, *(f"series {i}: {label.split()[0]}" for label in list(sets)[1:] for i in series_shown)]
    grid = torch.cat([shown["photos"][photos_shown], *sets.values()])
    paths["pictures"] = save_image_grid(grid, out_dir / "pictures.png", titles=titles, ncols=count)

    nearest = shown["nearest"]["aligned"]
    b_pictures = shown["pictures_b"]["aligned"]
    triples = torch.stack([pictures["aligned"][series_shown], b_pictures[series_shown], b_pictures[nearest[series_shown]]], dim=1)
    titles = [title for i in series_shown for title in (f"series {i}: A", "its B", "nearest B: own" if nearest[i] == i else f"nearest B: {nearest[i]}")]
    paths["pairs"] = save_image_grid(triples.flatten(0, 1), out_dir / "pairs.png", titles=titles, ncols=3)

    grid, titles = progression_grid(columns)
    paths["progression"] = save_image_grid(grid, out_dir / "progression.png", titles=titles, ncols=len(columns))
    return paths


# ---------------------------------------------------------------------------------------------- timeartist bench align
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--photos", type=int, help="held-out ImageNet photos (default: all of the held-out split)")
    parser.add_argument("--series", type=int, default=100, help="held-out series, each cut into adjacent windows A and B")
    parser.add_argument("--heldout-datasets", default="ETTh1,ETTh2,ETTm1", help="LTSF sets whose test windows are the held-out series")
    parser.add_argument("--split", default="test", choices=["test", "val"], help="the LTSF split the series windows come from: val to choose an alignment checkpoint, test to report it")
    # dest run_dir: the CLI keeps this module's run() in args.run
    parser.add_argument("--run", dest="run_dir", metavar="DIR", help="an align training run folder (checkpoints/checkpoint-XXXXXXXX): the progression figure draws its checkpoints")
    parser.add_argument("--steps", dest="checkpoint_steps", metavar="STEPS",
                        help=f"with --run: training steps of the checkpoints to draw, e.g. 250,500 (default: up to {MAX_PROGRESSION_STEPS} evenly spaced)")  # fmt: skip
    parser.add_argument("--artist", action="store_true", help="also the artist forecast path against visionts on ETTh1/ETTh2, every 241st window (slow)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the series and photos the figures show")
    parser.add_argument("--batch-size", type=int, default=64, help="series or images per model call")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    if args.series < 2 or (args.photos is not None and args.photos < 2):
        raise ValueError(f"--photos and --series must be at least 2, got {args.photos} and {args.series}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
    if args.checkpoint_steps is not None and args.run_dir is None:
        raise ValueError("--steps chooses checkpoints of --run; give --run too")
    steps = positive_ints(args.checkpoint_steps, "--steps") if args.checkpoint_steps is not None else None
    if args.run_dir is not None:
        align_run(args.run_dir, steps)
    check_out(args.out)
    return run_align_bench(
        load_pipeline(args), data_root=args.data_root, photos=args.photos, series=args.series, heldout_datasets=names(args.heldout_datasets),
        split=args.split, run_dir=args.run_dir, steps=steps, artist=args.artist, out_dir=args.out, seed=args.seed, batch_size=args.batch_size,
        model_dir=args.model or DEFAULT_MODEL_DIR, command=args.command_line,
    )  # fmt: skip
