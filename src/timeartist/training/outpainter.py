"""Train ``MAEOutpainter`` to continue folded series: the forecasting half of zero-shot outpainting.

Every training image is a window of a real or synthetic series rendered exactly as the forecaster renders a
context (``timeartist.pipelines.rendering``, native layout: one period per pixel column), except that the columns
after the context hold the true future. The model sees the left ``visible_cols`` columns of a batch and is scored
(mean squared error, in the rendered scale) on the masked columns that have ground truth, at most
``max_future_cols`` of them, which bounds the horizons it is trained for.

Series sources (``load_sources``), never ETTh1 / ETTh2 so those stay zero-shot: the train split of ETTm1
(period 96), exchange_rate (no season: folded by random blocks) and illness (period 52), plus seeded synthetic
series (``synthetic_series``). Augmentations: random sign, and random mixtures of two channels of one file.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter
from tqdm.auto import tqdm

from timeartist.data import LTSFDataset
from timeartist.hub import atomic_write, config_from_dict
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.pipelines.rendering import NORM_CONST, normalise, plan_layout, render

logger = logging.getLogger(__name__)


@dataclass
class SeriesSource:
    """One scaled 1-D series and the periods it may be folded by (0 = a random block length, no season)."""

    name: str
    values: np.ndarray
    periods: tuple[int, ...]


@dataclass
class OutpainterTrainConfig:
    """A training run: model, data mixture, optimisation and checkpointing."""

    model: OutpainterConfig = field(default_factory=OutpainterConfig)
    out_dir: str = "runs/outpainter"
    data_root: str | None = None
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    end_lr: float = 1e-5
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    seed: int = 0
    max_future_cols: int = 32
    long_context_prob: float = 0.7  # share of batches whose context fills the canvas up to the future
    synthetic_prob: float = 0.35
    real_weights: dict[str, float] = field(default_factory=lambda: {"ETTm1": 0.8, "exchange_rate": 0.1, "illness": 0.1})
    mix_prob: float = 0.3  # mix two channels of one file
    flip_prob: float = 0.3
    bf16: bool = True
    checkpoint_every: int = 250
    norm_const: float = NORM_CONST
    target_clip: float = 5.0  # bound on the normalised future (12.5 context stds at norm_const 0.4)

    @classmethod
    def from_dict(cls, values: dict) -> "OutpainterTrainConfig":
        values = dict(values)
        model = config_from_dict(OutpainterConfig, values.pop("model", {}))
        return config_from_dict(cls, {**values, "model": model})


# Files and fold periods of the real sources; none of them is evaluated zero-shot.
REAL_SOURCES = {"ETTm1": (96,), "exchange_rate": (0,), "illness": (52,)}


def load_sources(data_root: str | None = None, names: tuple[str, ...] = tuple(REAL_SOURCES)) -> dict[str, list[SeriesSource]]:
    """Train-split channels of each named LTSF file, scaled with the train statistics (``LTSFDataset``)."""
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
    """A seeded seasonal series (length,): harmonics with a drifting amplitude, a slower second season, a random
    walk trend with level shifts, AR(1) noise; additive or multiplicative."""
    t = np.arange(length)
    cycles = t / period
    harmonics = rng.integers(1, 5)
    profile = sum(
        rng.normal() / k**rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * k * cycles + rng.uniform(0, 2 * np.pi))
        for k in range(1, harmonics + 1)
    )
    drift = np.exp(np.cumsum(rng.normal(0, rng.uniform(0, 0.05), length // period + 2)))[cycles.astype(int)]
    season = profile * drift
    if rng.random() < 0.5:  # weekly-like season over several periods
        slow = rng.integers(2, 8)
        season += rng.uniform(0, 0.5) * np.sin(2 * np.pi * cycles / slow + rng.uniform(0, 2 * np.pi))
    trend = np.cumsum(rng.normal(rng.normal(0, 0.002), rng.uniform(0, 0.05), length))
    shifts = rng.random(length) < rng.uniform(0, 3) / length
    trend += np.cumsum(shifts * rng.normal(0, 1, length))
    phi, sigma = rng.uniform(0, 0.9), rng.uniform(0.02, 0.4)
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0, sigma, length))  # AR(1)
    if rng.random() < 0.3:
        series = np.exp(0.3 * trend) * (1 + 0.3 * season) + noise
    else:
        series = trend + season + noise
    return series.astype(np.float32)


class RenderedBatches:
    """Draws training batches: ``(images (B, 3, H, W), visible_cols, loss_mask (B, W) bool over pixel columns)``."""

    def __init__(self, config: OutpainterTrainConfig, sources: dict[str, list[SeriesSource]], seed: int):
        self.config, self.sources = config, sources
        self.rng = np.random.default_rng(seed)
        weights = {k: v for k, v in config.real_weights.items() if k in sources}
        total = sum(weights.values())
        self.real_names = list(weights)
        self.real_p = np.array([weights[k] / total for k in self.real_names])

    def _window(self, total_cols: int, min_cols: int) -> tuple[np.ndarray, int]:
        """A series window of ``total_cols`` periods (at least ``min_cols``: a real source too short for that is
        replaced by a synthetic series) and its period."""
        rng, cfg = self.rng, self.config
        first = None
        if self.real_names and rng.random() >= cfg.synthetic_prob:
            channels = self.sources[self.real_names[rng.choice(len(self.real_names), p=self.real_p)]]
            first = channels[rng.integers(len(channels))]
            period = int(rng.choice(first.periods)) or int(rng.integers(4, 65))
            if len(first.values) // period < min_cols:
                first = None
        if first is None:
            period = int(rng.choice([7, 12, 24, 24, 48, 52, 96, int(rng.integers(4, 129))]))
            values = synthetic_series(rng, total_cols * period, period)
        else:
            length = min(total_cols * period, len(first.values) // period * period)
            start = rng.integers(0, len(first.values) - length + 1)
            values = first.values[start : start + length]
            if rng.random() < cfg.mix_prob:
                other = channels[rng.integers(len(channels))].values[start : start + length]
                values = rng.uniform(0.3, 1) * values + rng.normal(0, 0.7) * other
        if rng.random() < cfg.flip_prob:
            values = -values
        return np.asarray(values, dtype=np.float32), period

    def __call__(self) -> tuple[torch.Tensor, int, torch.Tensor]:
        cfg, rng = self.config, self.rng
        height, width = cfg.model.image_size
        pw = cfg.model.patch_size[1]
        max_future = min(cfg.max_future_cols, width - pw)
        if rng.random() < cfg.long_context_prob:
            visible_px = width - rng.integers(1, max_future + 1)
        else:
            visible_px = rng.integers(pw, width - pw + 1)
        visible_cols = max(1, int(visible_px) // pw)
        context_cols = visible_cols * pw
        images, masks = [], []
        for _ in range(cfg.batch_size):
            values, period = self._window(min(width, context_cols + max_future), context_cols + 1)
            future_cols = len(values) // period - context_cols
            context = torch.from_numpy(values[: context_cols * period])[None]
            future = torch.from_numpy(values[context_cols * period : (context_cols + future_cols) * period])[None]
            context, mean, scale = normalise(context, cfg.norm_const)
            layout = plan_layout(context.shape[-1], future.shape[-1], period, (height, width), cfg.model.patch_size, None)
            # A nearly flat context makes the normalised future explode; clipping keeps one window from
            # dominating a batch (the forecaster meets such series too, and the clip is far outside typical values).
            future = ((future - mean) / scale).clamp(-cfg.target_clip, cfg.target_clip)
            images.append(render(context, layout, future=future))
            mask = torch.zeros(width, dtype=torch.bool)
            mask[context_cols : context_cols + future_cols] = True
            masks.append(mask)
        return torch.cat(images), visible_cols, torch.stack(masks)


def masked_column_loss(prediction: torch.Tensor, target: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pixel columns where ``loss_mask`` (B, W) is set; images (B, C, H, W)."""
    error = (prediction.float() - target).square().mean(dim=(1, 2))  # (B, W)
    return (error * loss_mask).sum() / loss_mask.sum().clamp(min=1)


def _lr_factor(step: int, config: OutpainterTrainConfig) -> float:
    """Linear warm-up, then cosine from lr to end_lr."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    floor = config.end_lr / config.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_outpainter(config: OutpainterTrainConfig) -> Path:
    """Train, checkpoint the EMA weights every ``checkpoint_every`` steps under ``out_dir/step_XXXXXX`` (plus
    ``out_dir/state.pt`` to resume), and export the final EMA model to ``out_dir/final``. Returns that folder."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = MAEOutpainter(config.model)
    ema = MAEOutpainter(config.model).requires_grad_(False)
    ema.load_state_dict(model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    step = 0
    state_path = out / "state.pt"
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        logger.info("resumed from %s at step %d", state_path, step)
    # The batch stream is seeded by the step it resumes at, so a resumed run does not replay old batches.
    names = tuple(name for name, weight in config.real_weights.items() if weight > 0)
    batches = RenderedBatches(config, load_sources(config.data_root, names), seed=config.seed * 1_000_003 + step)
    logger.info("MAEOutpainter with %d parameters; training %d steps", model.num_parameters(), config.steps)
    started = time.time()
    bar = tqdm(total=config.steps, initial=step, desc="outpainter", disable=None)
    while step < config.steps:
        images, visible_cols, loss_mask = batches()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            prediction = model(images, visible_cols)
        loss = masked_column_loss(prediction, images, loss_mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        decay = min(config.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1 - decay)
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % 25 == 0:
            logger.info("step %d loss %.5f lr %.2e elapsed %.0fs", step, loss.item(), scheduler.get_last_lr()[0], time.time() - started)
        if step % config.checkpoint_every == 0 or step == config.steps:
            ema.save_pretrained(out / f"step_{step:06d}")
            state = {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "config": dataclasses.asdict(config),
            }
            atomic_write(state_path, lambda tmp: torch.save(state, tmp))
    bar.close()
    logger.info("trained to step %d in %.0fs", step, time.time() - started)
    return ema.save_pretrained(out / "final")
