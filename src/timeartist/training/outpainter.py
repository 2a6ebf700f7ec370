"""Train ``MAEOutpainter`` to continue folded series: the forecasting half of zero-shot outpainting.

Every training image is a window of a real or synthetic series rendered exactly as the forecaster renders a
context (``timeartist.pipelines.rendering``, native layout: one period per pixel column), except that the columns
after the context hold the true future. The model sees the left ``visible_cols`` columns of a batch and is scored
(mean squared error, in the rendered scale) on the masked columns that have ground truth, at most
``max_future_cols`` of them, which bounds the horizons it is trained for. The normalised future is clipped to
``+-target_clip`` so a nearly flat context cannot blow up a batch.

Series sources (``load_sources``), never ETTh1 / ETTh2 so those stay zero-shot: the train split of ETTm1
(period 96; the default mixture), exchange_rate (no season: folded by random blocks; a random walk, which taught
the model to chase recent swings) and illness (period 52; too short to fill a canvas, and a batch's context is
capped by its shortest window); plus seeded synthetic
series (``synthetic_series``: it returns its period, which the fold needs, and is cheap at the ~10k-step windows
a canvas holds). Augmentations: random sign, and random mixtures of two channels of one file.

Item ``i`` of ``SeriesWindows`` depends only on (seed, i), and each batch's visible width only on its items, so the
engine's resume gives the same run. Every ``eval_every`` steps the EMA model forecasts the validation split of
``validation.datasets`` (strided windows, all channels, the LTSF scaling) and is saved to
``<output_dir>/evals/step_XXXXXXXX`` next to a line of ``evals/val.jsonl``, for checkpoint selection on validation.

Run config (seed layout, see ``configs/tiny/outpainter.yaml``): ``model`` (``OutpainterConfig``), ``dataset.params``
(``OutpainterDataConfig``), ``validation`` (``datasets``, ``horizons``, ``stride``, ``context``), and the engine
keys of ``timeartist.training.config``; ``training.bf16_autocast`` runs the CPU forward in bfloat16.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from scipy.signal import lfilter
from torch import Tensor
from torch.utils.data import Dataset

from timeartist.data import LTSFDataset
from timeartist.hub import config_from_dict
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.pipelines.forecasting import forecast_with_outpainter
from timeartist.pipelines.rendering import NORM_CONST, normalise, plan_layout, render
from timeartist.training.config import load_run_config, trainer_config
from timeartist.training.engine import Trainer, TrainingTask

logger = logging.getLogger(__name__)

# Files and fold periods of the real sources (0: no season, fold by a random block); none is evaluated zero-shot.
REAL_SOURCES = {"ETTm1": (96,), "exchange_rate": (0,), "illness": (52,)}
SYNTHETIC_PERIODS = (7, 12, 24, 24, 48, 52, 96)
# Seasonal periods of the validation files, as the benchmark uses them.
VAL_PERIODS = {"etth1": 24, "etth2": 24, "ettm1": 96, "ettm2": 96}


@dataclass
class OutpainterDataConfig:
    """The training-image mixture."""

    data_root: str | None = None
    real_weights: dict[str, float] = field(default_factory=lambda: {"ETTm1": 1.0})
    synthetic_prob: float = 0.3
    mix_prob: float = 0.3  # mix two channels of one file
    flip_prob: float = 0.3
    max_future_cols: int = 32
    long_context_prob: float = 0.0  # share of batches whose context fills the canvas up to the future
    norm_const: float = NORM_CONST
    target_clip: float = 5.0  # bound on the normalised future (12.5 context stds at norm_const 0.4)


@dataclass
class SeriesSource:
    """One scaled 1-D series and the periods it may be folded by (0 = a random block length, no season)."""

    name: str
    values: np.ndarray
    periods: tuple[int, ...]


def load_sources(data_root: str | None = None, names: Sequence[str] = tuple(REAL_SOURCES)) -> dict[str, list[SeriesSource]]:
    """Train-split channels of each named LTSF file, scaled with the train statistics (``LTSFDataset``)."""
    unknown = sorted(set(names) - set(REAL_SOURCES))
    if unknown:
        raise ValueError(f"unknown outpainter training sources {unknown}; known: {sorted(REAL_SOURCES)}")
    sources = {}
    for name in names:
        ds = LTSFDataset(name, split="train", seq_len=1, pred_len=1, data_root=data_root)
        start, end = ds.borders.train
        sources[name] = [
            SeriesSource(f"{name}/{channel}", ds.series[c, start:end].astype(np.float32), REAL_SOURCES[name])
            for c, channel in enumerate(ds.channels)
        ]
    return sources


def synthetic_series(rng: np.random.Generator, length: int, period: int) -> np.ndarray:
    """A seeded seasonal series (length,): harmonics with a drifting amplitude, a slower second season, a
    mean-reverting level with rare shifts, AR(1) noise; additive or multiplicative."""
    t = np.arange(length)
    cycles = t / period
    harmonics = rng.integers(1, 5)
    profile = sum(
        rng.normal() / k ** rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * k * cycles + rng.uniform(0, 2 * np.pi))
        for k in range(1, harmonics + 1)
    )
    drift = np.exp(np.cumsum(rng.normal(0, rng.uniform(0, 0.05), length // period + 2)))[cycles.astype(int)]
    season = profile * drift
    if rng.random() < 0.5:  # weekly-like season over several periods
        slow = rng.integers(2, 8)
        season += rng.uniform(0, 0.5) * np.sin(2 * np.pi * cycles / slow + rng.uniform(0, 2 * np.pi))
    # Level: an AR(1) over periods, mean-reverting within days to weeks of periods as real loads and temperatures
    # are (a random walk would teach the model to extrapolate every recent swing), plus rare level shifts.
    periods = length // period + 2
    level = lfilter([1.0], [1.0, -rng.uniform(0.5, 0.98)], rng.normal(0, rng.uniform(0.05, 0.5), periods))
    trend = np.interp(cycles, np.arange(periods), level) + rng.normal(0, 0.0005) * t
    shifts = rng.random(length) < rng.uniform(0, 2) / length
    trend += np.cumsum(shifts * rng.normal(0, 1, length))
    phi, sigma = rng.uniform(0, 0.9), rng.uniform(0.02, 0.4)
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0, sigma, length))  # AR(1)
    if rng.random() < 0.3:
        series = np.exp(0.3 * trend) * (1 + 0.3 * season) + noise
    else:
        series = trend + season + noise
    return series.astype(np.float32)


class SeriesWindows(Dataset):
    """Map-style: item ``i`` -> ``(i, window (n * period,) float32, period)`` with n <= canvas width in periods.

    Windows are as long as the canvas allows; a source shorter than that gives a shorter window."""

    def __init__(self, config: OutpainterDataConfig, model: OutpainterConfig, sources: dict[str, list[SeriesSource]], size: int, seed: int):
        self.config, self.columns, self.sources, self.size, self.seed = config, model.image_size[1], sources, size, seed
        weights = {k: w for k, w in config.real_weights.items() if k in sources and w > 0}
        self.names = list(weights)
        self.p = np.array(list(weights.values())) / sum(weights.values()) if weights else None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[int, np.ndarray, int]:
        cfg = self.config
        rng = np.random.default_rng([self.seed, index])
        if not self.names or rng.random() < cfg.synthetic_prob:
            period = int(rng.choice([*SYNTHETIC_PERIODS, int(rng.integers(4, 129))]))
            values = synthetic_series(rng, self.columns * period, period)
        else:
            channels = self.sources[self.names[rng.choice(len(self.names), p=self.p)]]
            first = channels[rng.integers(len(channels))]
            # No season: fold by a random block short enough that the window still fills the canvas.
            period = int(rng.choice(first.periods)) or int(rng.integers(4, max(5, len(first.values) // self.columns + 1)))
            length = min(self.columns * period, len(first.values) // period * period)
            start = rng.integers(0, len(first.values) - length + 1)
            values = first.values[start : start + length]
            if rng.random() < cfg.mix_prob:
                other = channels[rng.integers(len(channels))].values[start : start + length]
                values = rng.uniform(0.3, 1) * values + rng.normal(0, 0.7) * other
        if rng.random() < cfg.flip_prob:
            values = -values
        return index, np.asarray(values, dtype=np.float32), period


class RenderBatch:
    """Collate windows into ``(images (B, 3, H, W), visible_cols, loss_mask (B, W) bool over pixel columns)``.

    One visible width per batch (the encoder sees the same number of tokens for every image), drawn from a
    generator seeded by the batch's item indices and capped so every window has at least one future column."""

    def __init__(self, config: OutpainterDataConfig, model: OutpainterConfig, seed: int):
        self.config, self.model, self.seed = config, model, seed

    def __call__(self, items: list[tuple[int, np.ndarray, int]]) -> tuple[Tensor, int, Tensor]:
        cfg = self.config
        height, width = self.model.image_size
        pw = self.model.patch_size[1]
        rng = np.random.default_rng([self.seed, *sorted(i for i, _, _ in items)[:4]])
        columns = min(len(values) // period for _, values, period in items)
        max_future = max(1, min(cfg.max_future_cols, columns - pw))
        if rng.random() < cfg.long_context_prob:
            visible_px = columns - rng.integers(1, max_future + 1)
        else:
            visible_px = rng.integers(pw, columns)
        visible_cols = max(1, int(visible_px) // pw)
        context_cols = visible_cols * pw
        images, masks = [], []
        for _, values, period in items:
            future_cols = min(len(values) // period - context_cols, cfg.max_future_cols)
            context = torch.from_numpy(values[: context_cols * period])[None]
            future = torch.from_numpy(values[context_cols * period : (context_cols + future_cols) * period])[None]
            context, mean, scale = normalise(context, cfg.norm_const)
            future = ((future - mean) / scale).clamp(-cfg.target_clip, cfg.target_clip)
            layout = plan_layout(context.shape[-1], future.shape[-1], period, (height, width), self.model.patch_size, None)
            images.append(render(context, layout, future=future))
            mask = torch.zeros(width, dtype=torch.bool)
            mask[context_cols : context_cols + future_cols] = True
            masks.append(mask)
        return torch.cat(images), visible_cols, torch.stack(masks)


def masked_column_loss(prediction: Tensor, target: Tensor, loss_mask: Tensor) -> Tensor:
    """Mean squared error over the pixel columns where ``loss_mask`` (B, W) is set; images (B, C, H, W)."""
    error = (prediction.float() - target).square().mean(dim=(1, 2))  # (B, W)
    return (error * loss_mask).sum() / loss_mask.sum().clamp(min=1)


@dataclass
class ValidationConfig:
    """Forecast validation during training (never a test split)."""

    datasets: tuple[str, ...] = ("ETTh1", "ETTh2")
    horizons: tuple[int, ...] = (96, 192, 336, 720)
    stride: int = 64
    context: int = 2880
    data_root: str | None = None


class OutpainterTask(TrainingTask):
    """The outpainting objective for the engine; ``evaluate`` forecasts validation windows with the EMA weights."""

    def __init__(self, model: MAEOutpainter, validation: ValidationConfig, output_dir: str | Path, bf16: bool = True):
        super().__init__()
        self.model, self.validation, self.bf16 = model, validation, bf16
        self.output_dir = Path(output_dir)
        self.step = 0

    def training_step(self, batch) -> tuple[Tensor, dict[str, float]]:
        images, visible_cols, loss_mask = batch
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.bf16 and images.device.type == "cpu"):
            prediction = self.model(images, visible_cols)
        return masked_column_loss(prediction, images, loss_mask), {"visible_cols": float(visible_cols)}

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
    results = {}
    for name in val.datasets:
        for horizon in val.horizons:
            rows, targets, period = windows[name, horizon]
            pred = forecast_with_outpainter(rows, horizon, model, period=period, progress=False, **forecast_options)
            results[f"{name}_mse_{horizon}"] = float(np.mean((pred - targets) ** 2))
        results[f"{name}_mse"] = float(np.mean([results[f"{name}_mse_{h}"] for h in val.horizons]))
    if val.datasets:
        results["mse"] = float(np.mean([results[f"{n}_mse"] for n in val.datasets]))
    return results


def best_evaluated_checkpoint(run_dir: str | os.PathLike) -> tuple[Path, dict]:
    """The ``evals/step_XXXXXXXX`` folder of a run with the lowest validation ``mse`` in ``evals/val.jsonl``, and
    that line. Ties keep the earlier step."""
    log = Path(run_dir) / "evals" / "val.jsonl"
    if not log.is_file():
        raise FileNotFoundError(f"expected an outpainter run folder with {log} (written every eval_every steps)")
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "mse" in r]
    if not rows:
        raise ValueError(f"{log} holds no validation mse; the run's validation.datasets was empty")
    best = min(rows, key=lambda r: (r["mse"], r["step"]))
    folder = log.parent / f"step_{best['step']:08d}"
    if not folder.is_dir():
        raise FileNotFoundError(f"{log} names step {best['step']} but {folder} is missing")
    return folder, best


def select_forecast_defaults(
    model: MAEOutpainter,
    val: ValidationConfig,
    context_periods: Sequence[int] = (5, 7, 10, 14, 20, 30),
    flip_ensemble: Sequence[bool] = (False, True),
) -> tuple[dict, dict[tuple[int, bool], float]]:
    """The forecast defaults ``{"context_periods": k, "flip_ensemble": f}`` with the lowest validation ``mse`` (never
    test data), and the score of every pair. Ties keep the shorter context and no flip (the cheaper forecast)."""
    if not context_periods or min(context_periods) < 1 or not flip_ensemble:
        raise ValueError(f"expected positive context_periods candidates and flip options, got {tuple(context_periods)} and {tuple(flip_ensemble)}")
    scores, windows = {}, validation_windows(val)
    for k in sorted(set(int(c) for c in context_periods)):
        for flip in sorted(set(bool(f) for f in flip_ensemble)):
            scores[k, flip] = validation_mse(model, val, windows, context_periods=k, flip_ensemble=flip)["mse"]
            logger.info("context_periods=%d flip_ensemble=%s: validation mse %.4f", k, flip, scores[k, flip])
    k, flip = min(scores, key=lambda kf: (scores[kf], kf[1], kf[0]))
    return {"context_periods": k, "flip_ensemble": flip}, scores


def build_outpainter_task(cfg: DictConfig) -> tuple[OutpainterTask, SeriesWindows, RenderBatch]:
    """Task, dataset and collate function of a run config."""
    model_config = config_from_dict(OutpainterConfig, OmegaConf.to_container(cfg.model, resolve=True))
    data_config = config_from_dict(OutpainterDataConfig, OmegaConf.to_container(OmegaConf.select(cfg, "dataset.params", default={}) or {}))
    validation = config_from_dict(ValidationConfig, OmegaConf.to_container(OmegaConf.select(cfg, "validation", default={}) or {}))
    if validation.data_root is None:
        validation.data_root = data_config.data_root
    settings = trainer_config(cfg)
    names = [n for n, w in data_config.real_weights.items() if w > 0]
    sources = load_sources(data_config.data_root, names)
    size = settings.max_train_steps * settings.per_gpu_batch_size * settings.gradient_accumulation_steps
    data = SeriesWindows(data_config, model_config, sources, size=size, seed=settings.seed)
    bf16 = bool(OmegaConf.select(cfg, "training.bf16_autocast", default=True))
    task = OutpainterTask(MAEOutpainter(model_config), validation, settings.output_dir, bf16=bf16)
    logger.info("MAEOutpainter with %d parameters", task.model.num_parameters())
    return task, data, RenderBatch(data_config, model_config, seed=settings.seed)


def run_outpainter(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Train the outpainter from a run config (YAML path or DictConfig) with ``key=value`` overrides; returns the
    export folder (a ``MAEOutpainter.from_pretrained`` folder). Resumes a run in the same output_dir."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    torch.manual_seed(settings.seed)  # model initialisation
    task, data, collate = build_outpainter_task(cfg)
    return Trainer(task, settings, data, collate_fn=collate).fit()
