"""Zero-shot forecasting by outpainting a periodically rendered context (VisionTS style).

``forecast_with_outpainter`` takes contexts (L,), (B, L) or (B, L, C) (channels forecast independently), fills
NaNs, finds each series' period (given, or ``detect_period``), renders every context as an image
(``rendering``), lets any ``Outpainter`` fill the right part, reads the forecast back and undoes the per-series
normalisation.

Layouts (``layout=``): "native" folds one period per pixel column (column-patch outpainters such as
``MAEOutpainter``); the context is cropped to the most recent periods that fit on the canvas next to the horizon.
A horizon of up to half the canvas (``width // 2`` periods; 32 periods for the bundled model) is one outpainting;
a longer one is rolled out: each pass outpaints half a canvas, appends it to the context and goes on from there,
so the fold stays the period and the context keeps its columns (benchmarks/long_horizon.py measures this against
seasonal naive at horizons 2,000 and 10,000). "visionts" squeezes the whole context and the whole horizon onto the
canvas with ``align_const`` (pretrained 224x224 MAEs; a horizon that does not fit is a ValueError). "auto" picks
native when the outpainter's patches span the full canvas height, else visionts.

NaN handling: NaNs inside a context are filled by linear interpolation between the observed neighbours, leading
NaNs take the first observed value and trailing NaNs the last one. A series with fewer than two observed values,
or with infinite values, raises ``SeriesError`` (a ValueError that blames the data of particular series, not the
call's arguments; ``TimeArtistPipeline.forecast_df(errors="collect")`` reports such series instead of failing); a
forecast with NaN or inf values (from finite input, so a damaged model) raises ``NonFiniteOutputError``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from timeartist.errors import check_finite_output
from timeartist.models.outpainting import Outpainter
from timeartist.pipelines.periodicity import detect_period, shared_period
from timeartist.pipelines.rendering import ALIGN_CONST, NORM_CONST, RenderLayout, normalise, plan_layout, read_back, render

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "native", "visionts")
# trend_ensemble="auto" adds the detrended view for contexts whose line explains at least this share of their
# variance; chosen on validation series only (benchmarks/trend_validation.py), as the bundled model's default.
TREND_MIN_R2 = 0.8


class SeriesError(ValueError):
    """The data of particular series cannot be used (too short, too few observed values, infinite, constant,
    no inferable time step). ``reason`` says why without naming a series; ``rows`` are the failing series (row
    indices of the batch, or ids; ``None``: every row, e.g. a context too short for all of them)."""

    def __init__(self, reason: str, rows: list | None = None):
        self.reason, self.rows = reason, rows
        super().__init__(f"series {rows[:5]}: {reason}" if rows else reason)


def fill_nans(x: np.ndarray) -> np.ndarray:
    """Rows (B, L) with NaNs interpolated inside and extended flat at both ends; see the module docstring."""
    x = np.array(x, dtype=np.float64)
    infinite = np.isinf(x).any(axis=-1)
    if infinite.any():
        raise SeriesError("infinite values", np.flatnonzero(infinite).tolist())
    counts = (~np.isnan(x)).sum(axis=-1)
    if (counts < 2).any():
        rows = np.flatnonzero(counts < 2).tolist()
        raise SeriesError(f"{int(counts[rows[0]])} observed values; at least 2 are needed to forecast", rows)
    steps = np.arange(x.shape[-1])
    for row in np.flatnonzero(counts < x.shape[-1]):
        observed = ~np.isnan(x[row])
        x[row] = np.interp(steps, steps[observed], x[row, observed])
    return x


def as_rows(context) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """Context (L,), (B, L) or (B, L, C), numpy or torch -> rows (N, L) float64, the leading shape, was torch."""
    is_torch = isinstance(context, torch.Tensor)
    x = context.detach().cpu().double().numpy() if is_torch else np.asarray(context, dtype=np.float64)
    if x.ndim == 1:
        return x[None], (), is_torch
    if x.ndim == 2:
        return x, (x.shape[0],), is_torch
    if x.ndim == 3:
        batch, length, channels = x.shape
        return x.transpose(0, 2, 1).reshape(batch * channels, length), (batch, channels), is_torch
    raise ValueError(f"context must have shape (L,), (B, L) or (B, L, C), got {x.shape}")


def from_rows(rows: np.ndarray, lead: tuple[int, ...], like, is_torch: bool):
    """Inverse of ``as_rows`` for forecasts (N, H) -> (H,), (B, H) or (B, H, C), as numpy or torch."""
    horizon = rows.shape[-1]
    if len(lead) == 0:
        out = rows[0]
    elif len(lead) == 1:
        out = rows
    else:
        out = rows.reshape(lead[0], lead[1], horizon).transpose(0, 2, 1)
    if is_torch:
        dtype = like.dtype if like.is_floating_point() else torch.float32
        return torch.as_tensor(np.ascontiguousarray(out), dtype=dtype, device=like.device)
    return out.astype(np.asarray(like).dtype if np.issubdtype(np.asarray(like).dtype, np.floating) else np.float32)


def _native_plan(length: int, horizon: int, period: int, outpainter: Outpainter) -> tuple[int, int]:
    """(steps outpainted per pass, context steps to keep) for the native layout on this outpainter's canvas: one
    period per pixel column, and the future on at most half of the canvas (longer horizons are rolled out)."""
    width, pw = outpainter.image_size[1], outpainter.patch_size[1]
    step = min(horizon, period * max(1, width // 2))
    context_cols = (width - math.ceil(step / period)) // pw * pw
    return step, min(length, context_cols * period)


def check_combination_options(trend_ensemble=False, trend_min_r2: float = TREND_MIN_R2, seasonal_blend: float = 0.0, blend_periods: int = 28) -> None:
    """Raise a ValueError for trend and seasonal-blend options ``forecast_with_outpainter`` cannot use (also run
    by ``timeartist export`` before it stores them as forecast defaults)."""
    if trend_ensemble not in (True, False, "auto"):
        raise ValueError(f"trend_ensemble must be True, False or 'auto', got {trend_ensemble!r}")
    if not 0 <= trend_min_r2 <= 1:
        raise ValueError(f"trend_min_r2 must be a share of variance in [0, 1], got {trend_min_r2!r}")
    if not 0 <= seasonal_blend <= 1 or int(blend_periods) != blend_periods or blend_periods < 1:
        raise ValueError(f"seasonal_blend must be in [0, 1] and blend_periods a positive integer, got {seasonal_blend!r}, {blend_periods!r}")


def forecast_with_outpainter(
    context,
    horizon: int,
    outpainter: Outpainter,
    period: int | None = None,
    *,
    candidates: tuple[int, ...] | None = None,
    channels_share_period: bool = True,
    layout: str = "auto",
    align_const: float = ALIGN_CONST,
    norm_const: float = NORM_CONST,
    max_context: int | None = None,
    context_periods: int | None = None,
    flip_ensemble: bool = False,
    trend_ensemble: bool | str = False,
    trend_min_r2: float = TREND_MIN_R2,
    seasonal_blend: float = 0.0,
    blend_periods: int = 28,
    bf16: bool | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool | None = None,
    on_outpaint: Callable[[RenderLayout, torch.Tensor, torch.Tensor], None] | None = None,
):
    """Forecast ``horizon`` steps after each context by outpainting its rendering.

    context: (L,), (B, L) or (B, L, C), numpy or torch, any L >= max(2, period); channels are independent.
    period: the seasonal period in steps for every series; ``None`` detects it per series (``detect_period`` over
    ``candidates`` when given); for a context (B, L, C), ``channels_share_period`` gives the C channels of each series
    the period most of them show (``shared_period``: they share one clock), else each channel keeps its own.
    max_context: use at most this many most recent steps; context_periods: at most this
    many most recent periods of each series' own period (both may apply). flip_ensemble: average the
    forecast of the context and the negated forecast of the negated context (test-time augmentation for
    outpainters trained with random sign flips, such as ``MAEOutpainter``; twice the cost). trend_ensemble: average
    with the forecast of the context minus its least-squares line, the line continued (so that a short trending
    series is not pulled toward its recent level; twice the cost); ``"auto"``: only for the series whose line
    explains at least ``trend_min_r2`` of their context's variance. seasonal_blend: weight of the mean of the last
    ``blend_periods`` periods in a combination with the outpainter's forecast, for the series whose context holds that
    many periods (period > 1; shorter contexts are left alone). bf16: run the outpainter under bfloat16
    autocast (``None``: where the hardware computes in bfloat16 natively, ``bf16_native``; the bundled outpainter
    was trained under it, and on ETT validation it changes the MSE by about 1e-5 relative at 2.8x the speed). progress: tqdm bar over
    batches (``None``: only on a terminal). on_outpaint: called as ``on_outpaint(layout, canvases, filled)`` for every
    outpainter call, with the rendered canvases (b, 3, H, W) of the batch's (normalised) contexts and what the
    outpainter made of them, in call order: per pass the plain view first, then the sign-flipped and detrended views
    when those ensembles apply (``timeartist serve`` shows the first one, the picture the outpainter saw; the layout
    tells the period and where the context ends). Returns (H,), (B, H) or (B, H, C) in the input's type and scale.
    """
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if period is not None and (int(period) != period or period < 1):
        raise ValueError(f"period must be a positive integer or None, got {period!r}")
    if max_context is not None and (int(max_context) != max_context or max_context < 2):
        raise ValueError(f"max_context must be an integer >= 2 or None, got {max_context!r}")
    if context_periods is not None and (int(context_periods) != context_periods or context_periods < 1):
        raise ValueError(f"context_periods must be a positive integer or None, got {context_periods!r}")
    check_combination_options(trend_ensemble, trend_min_r2, seasonal_blend, blend_periods)
    rows, lead, is_torch = as_rows(context)
    length = rows.shape[-1]
    if length < max(2, period or 1):
        raise SeriesError(f"context has {length} steps; at least max(2, period={period or 1}) are needed")
    rows = fill_nans(rows)
    if max_context is not None:
        rows = rows[:, -max_context:]
    if period is not None:
        periods = np.full(len(rows), period)
    else:
        periods = np.atleast_1d(detect_period(rows, candidates))
        if channels_share_period and len(lead) == 2:
            periods = np.repeat(shared_period(periods.reshape(lead)), lead[1])
    if layout == "auto":
        layout = "native" if outpainter.patch_size[0] == outpainter.image_size[0] else "visionts"
    if device is None:
        parameters = getattr(outpainter, "parameters", None)
        device = next(iter(parameters()), torch.empty(0)).device if parameters else torch.device("cpu")

    jobs = []  # (row indices, context steps kept, layout)
    for p in np.unique(periods):
        index = np.flatnonzero(periods == p)
        available = rows.shape[-1] if context_periods is None else min(rows.shape[-1], int(context_periods) * int(p))
        if layout == "native":
            step, keep = _native_plan(available, int(horizon), int(p), outpainter)
            plan = plan_layout(keep, step, int(p), outpainter.image_size, outpainter.patch_size, None)
        else:
            keep = available
            plan = plan_layout(keep, int(horizon), int(p), outpainter.image_size, outpainter.patch_size, align_const)
        jobs.extend((index[i : i + batch_size], keep, plan) for i in range(0, len(index), batch_size))
    logger.debug("forecasting %d series in %d batches (%s layout)", len(rows), len(jobs), layout)

    bf16 = bf16_native(torch.device(device)) if bf16 is None else bool(bf16)
    forecast = np.empty((len(rows), int(horizon)))
    for index, keep, plan in tqdm(jobs, desc="forecast", disable=(None if progress is None else not progress)):
        views = partial(
            _outpaint_views, plan=plan, outpainter=outpainter, norm_const=norm_const, device=device, flip=flip_ensemble, bf16=bf16, on_outpaint=on_outpaint,
        )  # fmt: skip
        history = rows[index, -keep:]
        while history.shape[1] < keep + horizon:  # one pass, or a roll-out of plan.horizon steps per pass
            batch = history[:, -keep:]
            step = views(batch)
            if trend_ensemble:
                fitted, extended = linear_trend(batch, plan.horizon)
                trending = trend_r2(batch, fitted) >= (trend_min_r2 if trend_ensemble == "auto" else -np.inf)
                if trending.any():
                    detrended = views(batch[trending] - fitted[trending])
                    step[trending] = (step[trending] + detrended + extended[trending]) / 2
            if seasonal_blend and plan.period > 1 and batch.shape[1] >= blend_periods * plan.period:
                step = (1 - seasonal_blend) * step + seasonal_blend * seasonal_mean(batch, plan.horizon, plan.period, int(blend_periods))
            history = np.concatenate([history, step], axis=1)
        forecast[index] = history[:, keep : keep + horizon]
    return from_rows(check_finite_output(forecast, "forecast"), lead, context, is_torch)


@dataclass
class OutpainterForecaster:
    """An outpainter as a benchmark forecaster: ``(context (B, L), horizon, period) -> (B, horizon)`` (the
    ``timeartist.evaluation`` Forecaster protocol)."""

    outpainter: Outpainter
    name: str = "outpainter"
    max_context: int | None = None  # most recent steps used (None: what fits the canvas)
    flip_ensemble: bool = False
    batch_size: int = 512

    @property
    def context_length(self) -> int | None:
        """Context steps read (what the benchmark report shows); None: as many as fit the canvas."""
        return self.max_context

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray:
        return forecast_with_outpainter(
            context, horizon, self.outpainter, period=period, max_context=self.max_context,
            flip_ensemble=self.flip_ensemble, batch_size=self.batch_size, progress=False,
        )


def linear_trend(rows: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares lines through contexts (B, L) -> (their values (B, L), their continuation (B, horizon))."""
    length = rows.shape[1]
    t = np.arange(length + horizon, dtype=np.float64) - (length - 1) / 2  # centred on the context
    mean = rows.mean(1, keepdims=True)
    slope = (rows - mean) @ t[:length] / (t[:length] @ t[:length])
    line = mean + slope[:, None] * t
    return line[:, :length], line[:, length:]


def seasonal_mean(rows: np.ndarray, horizon: int, period: int, periods: int) -> np.ndarray:
    """Contexts (B, L), L >= periods * period -> the mean of their last ``periods`` periods, repeated (B, horizon).
    The forecast of ``evaluation.baselines.SeasonalMean``, without its input checks (the rows are already filled
    and finite) and without importing the benchmark package into the forecasting path."""
    profile = rows[:, rows.shape[1] - periods * period :].reshape(len(rows), periods, period).mean(axis=1)
    return np.tile(profile, (1, -(-horizon // period)))[:, :horizon]


def trend_r2(rows: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Share of each context's variance (B,) that its least-squares line ``fitted`` (B, L) explains; 0 if flat."""
    total = rows.var(axis=1)
    return np.where(total > 0, 1 - (rows - fitted).var(axis=1) / np.where(total > 0, total, 1), 0.0)


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (CPU: AVX512-BF16 or AMX through oneDNN;
    CUDA: compute capability 8 or later); elsewhere bfloat16 autocast is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    try:  # a private oneDNN query (PyTorch 2.x); without it, assume emulation
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _outpaint_views(rows: np.ndarray, plan: RenderLayout, outpainter: Outpainter, norm_const: float, device, flip: bool, bf16: bool, on_outpaint=None) -> np.ndarray:
    """One pass's forecast (B, horizon), averaged with the negated forecast of the negated context if ``flip``."""
    outpaint = partial(_outpaint_batch, plan=plan, outpainter=outpainter, norm_const=norm_const, device=device, bf16=bf16, on_outpaint=on_outpaint)
    step = outpaint(rows)
    return (step - outpaint(-rows)) / 2 if flip else step


def _outpaint_batch(rows: np.ndarray, plan: RenderLayout, outpainter: Outpainter, norm_const: float, device, bf16: bool, on_outpaint=None) -> np.ndarray:
    """Contexts (B, L) float64 -> forecasts (B, horizon) float64 for one layout."""
    x, mean, scale = normalise(torch.from_numpy(rows), norm_const)
    images = render(x.float(), plan).to(device)
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        filled = outpainter.outpaint(images, plan.visible_cols).float()
    if on_outpaint is not None:
        on_outpaint(plan, images.cpu(), filled.cpu())
    series = read_back(filled.cpu(), plan)[:, plan.context_len :].double()
    return (series * scale + mean).numpy()
