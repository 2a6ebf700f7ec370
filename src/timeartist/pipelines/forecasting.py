"""Zero-shot forecasting by outpainting a periodically rendered context (VisionTS style).

``forecast_with_outpainter`` takes contexts (L,), (B, L) or (B, L, C) (channels forecast independently), fills
NaNs, finds each series' period (given, or ``detect_period``), renders every context as an image
(``rendering``), lets any ``Outpainter`` fill the right part, reads the forecast back and undoes the per-series
normalisation.

Layouts (``layout=``): "native" folds one period per pixel column (column-patch outpainters such as
``MAEOutpainter``); the context is cropped to the most recent periods that fit on the canvas next to the horizon.
A horizon of up to half the canvas (``width // 2`` periods; 32 periods for the bundled model) is one outpainting;
a longer one is rolled out: each pass outpaints half a canvas, appends it to the context and goes on from there,
so the fold stays the period and the context keeps its columns (``timeartist bench long-horizon`` measures this against
seasonal naive at horizons 2,000 and 10,000). "visionts" squeezes the whole context and the whole horizon onto the
canvas with ``align_const`` (pretrained 224x224 MAEs; a horizon that does not fit is a ValueError). "auto" picks
native when the outpainter's patches span the full canvas height, else visionts.

NaN handling: NaNs inside a context are filled by linear interpolation between the observed neighbours, leading
NaNs take the first observed value and trailing NaNs the last one. A series with fewer than two observed values,
or with infinite values, raises ``SeriesError`` (a ValueError that blames the data of particular series, not the
call's arguments; ``TimeArtistPipeline.forecast_df(errors="collect")`` reports such series instead of failing); a
forecast with NaN or inf values (from finite input, so a damaged model) raises ``NonFiniteOutputError``.

Short contexts: a series with 2 or 3 observed values (``SHORT_CONTEXT``) shows neither a season nor a trend one could
tell from noise, so it is forecast as its last observed value (naive), with a logged warning, instead of by the
model. Naive is the safer of the two simple rules here: a drift fitted through 2-3 points extrapolates a slope that
is mostly noise, and its error grows with the horizon. Like every forecast here it is scale-free.

Magnitudes: every context is first divided by the power of two nearest above its largest magnitude (exact in
floating point, so forecasts are unchanged and stay scale-free), which keeps sums of squares from overflowing at
1e300 or underflowing at 1e-200. A forecast beyond the range of the output dtype is a ``SeriesError`` saying so. A
large offset is forecast as long as float64 keeps the spread (``rendering.REL_EPS``: a spread of at least 1e-12 of the
level); a smaller spread is forecast as the constant mean, with a warning naming the cause where it is more than
rounding noise.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from functools import partial
from statistics import NormalDist

import numpy as np
import torch
from einops import rearrange
from tqdm.auto import tqdm

from timeartist.errors import DataError, check_finite_output
from timeartist.models.outpainting import Outpainter
from timeartist.pipelines.backtest import LONG_SEASONAL, backtest_origins, choose_periods, season_pvalue, seasonal_mean, simple_forecasts
from timeartist.pipelines.periodicity import detect_period, shared_period
from timeartist.pipelines.rendering import ALIGN_CONST, NORM_CONST, REL_EPS, ROUNDING, RenderLayout, is_flat, normalise, plan_layout, read_back, render

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "native", "visionts")
SHORT_CONTEXT = 3  # contexts with at most this many observed values are forecast naively (module docstring)
# trend_ensemble="auto" adds the detrended view for contexts whose line explains at least this share of their
# variance; chosen on validation series only (``timeartist validate trend``), as the bundled model's default.
TREND_MIN_R2 = 0.8
LEVEL_SPREAD = 3.0
# check_on_backtest's challengers: the simple rules but the seasonal mean, which the forecast already blends in
# (seasonal_blend) and which, as a challenger, cost +0.02 MSE on ETT validation by replacing better forecasts
CHALLENGERS = ("naive", "drift", "mean", "seasonal_naive")
# A challenger that beats the outpainter on every backtest origin, but by less than the fallback margin, is averaged
# with it (validation: the suite's seed 1 geometric mean 1.039 -> 1.003, M1/M3 histories 0.868 -> 0.838, ETT detected
# 0.7524 -> 0.7454, ETT with the period given 0.7232 -> 0.7250)
BLEND_MARGIN = 1.0
# Contexts of at least LONG_SEASONAL periods of a season that pays (``check_on_backtest``) are left to the outpainter: on
# the ETT validation windows (120 periods) every challenger rule cost ETTh2 0.005-0.013 MSE, while the rules are for
# short and odd series
# check_on_backtest: a season "pays" (only seasonal naive may challenge) where it also passes an F test at this level; a
# line plus noise shows spurious short periods in which seasonal naive ties naive, which kept drift from challenging
# (the suite's seed 1: linear trend 1.177 -> 1.102; M1/M3 histories 0.8389 -> 0.8381; ETT validation unchanged)
SEASON_ALPHA = 1e-3
BACKTESTS = 2  # check_on_backtest: origins the outpainter forecasts from ...
RULE_BACKTESTS = 6  # ... and the simple rules (numpy: cheap), which picks each row's challenger more reliably


class SeriesError(DataError):
    """The data of particular series cannot be used (too short, too few observed values, infinite, constant,
    no inferable time step). ``reason`` says why without naming a series; ``rows`` are the failing series (row
    indices of the batch, or ids; ``None``: every row, e.g. a context too short for all of them)."""

    def __init__(self, reason: str, rows: list | None = None):
        super().__init__(reason, rows, kind="series")


def fill_nans(x: np.ndarray) -> np.ndarray:
    """Rows (B, L) with NaNs interpolated inside and extended flat at both ends; see the module docstring."""
    x = np.array(x, dtype=np.float64)
    infinite = np.isinf(x).any(axis=-1)
    if infinite.any():
        raise SeriesError("infinite values", np.flatnonzero(infinite).tolist())
    counts = (~np.isnan(x)).sum(axis=-1)
    if (counts < 2).any():
        rows = np.flatnonzero(counts < 2).tolist()
        found = " or ".join(str(c) for c in sorted(set(counts[rows].tolist())))
        raise SeriesError(f"{found} observed value{'' if found == '1' else 's'}; at least 2 are needed", rows)
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


def to_unit_range(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (N, L) -> (rows / 2**e, e (N, 1)) with e the binary exponent of each row's largest magnitude, so that the
    rows lie in [-1, 1]; exact in floating point (``np.ldexp(scaled, e)`` gives the rows back)."""
    _, exponent = np.frexp(np.abs(rows).max(axis=-1, keepdims=True))
    return np.ldexp(rows, -exponent), exponent


@dataclass
class Contexts:
    """Contexts read for forecasting (``read_contexts``): ``rows`` (N, L) NaN-filled and scaled by ``to_unit_range``
    (``exponent`` (N, 1)), ``short`` (N,): the rows forecast naively, and the input's leading shape and type."""

    rows: np.ndarray
    exponent: np.ndarray
    short: np.ndarray
    lead: tuple[int, ...]
    is_torch: bool


def read_contexts(context) -> Contexts:
    """Context (L,), (B, L) or (B, L, C) -> ``Contexts``; logs a warning for the rows forecast naively (at most
    ``SHORT_CONTEXT`` observed values) and for the rows whose spread float64 cannot hold next to their level."""
    rows, lead, is_torch = as_rows(context)
    short = (~np.isnan(rows)).sum(axis=-1) <= SHORT_CONTEXT
    rows, exponent = to_unit_range(fill_nans(rows))
    if short.any():
        logger.warning(
            "forecast: %d of %d series with %d or fewer observed values (rows %s) are forecast as their last observed value "
            "(naive): too few to show a season or a trend", short.sum(), len(rows), SHORT_CONTEXT, np.flatnonzero(short)[:5].tolist(),
        )  # fmt: skip
    mean, std = rows.mean(axis=-1), rows.std(axis=-1)
    lost = is_flat(std, mean) & (std > ROUNDING * np.abs(mean))
    if lost.any():
        logger.warning(
            "forecast: series %s vary by less than %g of their level, fewer digits than float64 keeps for a forecast; "
            "forecast as their mean (subtract the level before storing them in floating point to keep the spread)",
            np.flatnonzero(lost)[:5].tolist(), REL_EPS,
        )  # fmt: skip
    return Contexts(rows, exponent, short, lead, is_torch)


def to_input_scale(forecast: np.ndarray, contexts: Contexts, like):
    """Forecasts (N, H) or quantiles (N, H, Q) of ``contexts.rows`` -> the input's layout, type and scale, the short rows naive. A value
    beyond the output dtype's range is a ``SeriesError`` naming the rows (never an inf returned)."""
    forecast = np.array(check_finite_output(forecast, "forecast"))
    tail = (1,) * (forecast.ndim - 2)  # quantile levels, if any
    forecast[contexts.short] = contexts.rows[contexts.short, -1:].reshape(-1, 1, *tail)
    with np.errstate(over="ignore"):  # an overflow is reported below
        forecast = np.ldexp(forecast, contexts.exponent.reshape(-1, 1, *tail))
    dtype = _output_dtype(like, contexts.is_torch)
    limit = float((torch.finfo if contexts.is_torch else np.finfo)(dtype).max)
    beyond = np.flatnonzero((np.abs(forecast) > limit).reshape(len(forecast), -1).any(axis=-1))
    if beyond.size:
        raise SeriesError(f"the forecast exceeds the largest {str(dtype).removeprefix('torch.')} ({limit:.3g}); rescale the series", beyond.tolist())
    return from_rows(forecast, contexts.lead, like, contexts.is_torch)


def _output_dtype(like, is_torch: bool):
    """The dtype forecasts come back in: the input's floating dtype, else float32."""
    if is_torch:
        return like.dtype if like.is_floating_point() else torch.float32
    dtype = np.asarray(like).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


def from_rows(rows: np.ndarray, lead: tuple[int, ...], like, is_torch: bool):
    """Inverse of ``as_rows`` for forecasts (N, H, *tail) -> (H, *tail), (B, H, *tail) or (B, H, C, *tail), as numpy or
    torch (tail: e.g. the quantile levels)."""
    if len(lead) == 0:
        out = rows[0]
    elif len(lead) == 1:
        out = rows
    else:
        out = np.swapaxes(rows.reshape(lead[0], lead[1], *rows.shape[1:]), 1, 2)
    if is_torch:
        return torch.as_tensor(np.ascontiguousarray(out), dtype=_output_dtype(like, True), device=like.device)
    return out.astype(_output_dtype(like, False))


def _native_plan(length: int, horizon: int, period: int, outpainter: Outpainter) -> tuple[int, int]:
    """(steps outpainted per pass, context steps to keep) for the native layout on this outpainter's canvas: one
    period per pixel column, and the future on at most half of the canvas (longer horizons are rolled out)."""
    width, pw = outpainter.image_size[1], outpainter.patch_size[1]
    step = min(horizon, period * max(1, width // 2))
    context_cols = (width - math.ceil(step / period)) // pw * pw
    return step, min(length, context_cols * period)


def check_combination_options(
    trend_ensemble=False, trend_min_r2: float = TREND_MIN_R2, seasonal_blend: float = 0.0, blend_periods: int = 28,
    choose_period: bool = False, restore_detail: int | None = None, fallback: float | None = None,
    level_gate: float | None = None, calibrate: float | None = None,
) -> None:  # fmt: skip
    """Raise a ValueError for combination, period and backtest options ``forecast_with_outpainter`` cannot use (also
    run by ``timeartist export`` before it stores them as forecast defaults)."""
    if trend_ensemble not in (True, False, "auto"):
        raise ValueError(f"trend_ensemble must be True, False or 'auto', got {trend_ensemble!r}")
    if not 0 <= trend_min_r2 <= 1:
        raise ValueError(f"trend_min_r2 must be a share of variance in [0, 1], got {trend_min_r2!r}")
    if not 0 <= seasonal_blend <= 1 or int(blend_periods) != blend_periods or blend_periods < 1:
        raise ValueError(f"seasonal_blend must be in [0, 1] and blend_periods a positive integer, got {seasonal_blend!r}, {blend_periods!r}")
    if choose_period not in (True, False):
        raise ValueError(f"choose_period must be True or False, got {choose_period!r}")
    if restore_detail is not None and (isinstance(restore_detail, bool) or int(restore_detail) != restore_detail or restore_detail < 1):
        raise ValueError(f"restore_detail must be a positive number of periods or None, got {restore_detail!r}")
    if fallback is not None and not 0 < fallback <= 1:
        raise ValueError(f"fallback must be an error ratio in (0, 1] or None, got {fallback!r}")
    if level_gate is not None and not level_gate > 0:
        raise ValueError(f"level_gate must be a positive number of typical changes or None, got {level_gate!r}")
    if calibrate is not None and not 0 <= calibrate <= 1:
        raise ValueError(f"calibrate must be in [0, 1] or None, got {calibrate!r}")


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
    choose_period: bool = False,
    restore_detail: int | None = None,
    fallback: float | None = None,
    level_gate: float | None = None,
    calibrate: float | None = None,
    quantile_levels: Sequence[float] | None = None,
    bf16: bool | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool | None = None,
    on_outpaint: Callable[[RenderLayout, torch.Tensor, torch.Tensor], None] | None = None,
):
    """Forecast ``horizon`` steps after each context by outpainting its rendering.

    context: (L,), (B, L) or (B, L, C), numpy or torch, any L >= 2 (and >= period when L > 3); channels are
    independent; contexts with 2 or 3 observed values are forecast naively (module docstring), any magnitude.
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
    many periods (period > 1; shorter contexts are left alone). choose_period: with ``period=None``, let backtests on
    each context choose between the detected period and its longer calendar season (``backtest.choose_periods``).
    restore_detail: periods averaged to forecast what a
    period longer than the canvas height loses on the canvas (``_outpaint_batch``; ``None``: off). level_gate: continue
    a level that jumped near the end of the context (``continue_level``; ``None``: off). fallback: an error ratio in
    (0, 1]; a simple rule (naive, drift, mean, seasonal naive) that beats the outpainter by that factor on each of
    the context's own backtests replaces it, one that beats it by less is averaged with it (``check_on_backtest``;
    ``None``: off). calibrate: with quantile levels,
    scale the spread of the quantiles by the factor that fits the context's backtests, to this power in [0, 1]
    (``None``: the head's spread as trained).
    quantile_levels: also return quantile forecasts at these levels (needs an outpainter with a quantile head; levels
    off its grid follow ``interpolate_levels``): the return value is then ``(quantiles, point)``, quantiles of shape
    (H, Q), (B, H, Q) or (B, H, C, Q), increasing along Q. bf16: run the outpainter under bfloat16
    autocast (``None``: where the hardware computes in bfloat16 natively, ``bf16_native``; the bundled outpainter
    was trained under it, and on ETT validation it changes the MSE by about 1e-5 relative at 2.8x the speed). progress: tqdm bar over
    batches (``None``: only on a terminal). on_outpaint: called as ``on_outpaint(layout, canvases, filled)`` for every
    outpainter call of the forecast itself (not of its backtests), with the rendered canvases (b, 3, H, W) of the
    batch's (normalised) contexts and what the outpainter made of them, in call order: per pass the plain view first,
    then the sign-flipped and detrended views when those ensembles apply (``timeartist serve`` shows the first one,
    the picture the outpainter saw; the layout tells the period and where the context ends). Returns (H,), (B, H) or
    (B, H, C) in the input's type and scale.
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
    check_combination_options(trend_ensemble, trend_min_r2, seasonal_blend, blend_periods, choose_period, restore_detail, fallback, level_gate, calibrate)
    if quantile_levels is not None:
        quantile_levels = check_quantile_levels(quantile_levels)
    levels = outpainter_levels(outpainter) if quantile_levels is not None else ()
    contexts = read_contexts(context)
    rows, lead = contexts.rows, contexts.lead
    active = np.flatnonzero(~contexts.short)  # the short rows are forecast naively: no period needed
    if active.size and rows.shape[-1] < (period or 1):
        raise SeriesError(f"context has {rows.shape[-1]} steps; at least period={period} are needed")
    if max_context is not None:
        rows = rows[:, -max_context:]
    if layout == "auto":
        layout = "native" if outpainter.patch_size[0] == outpainter.image_size[0] else "visionts"
    if device is None:
        parameters = getattr(outpainter, "parameters", None)
        device = next(iter(parameters()), torch.empty(0)).device if parameters else torch.device("cpu")
    run = _Outpainting(
        outpainter, layout, align_const, norm_const, context_periods, flip_ensemble, trend_ensemble, trend_min_r2,
        seasonal_blend, int(blend_periods), restore_detail, level_gate, levels,
        bf16_native(torch.device(device)) if bf16 is None else bool(bf16), device, batch_size, progress, on_outpaint,
    )  # fmt: skip
    forecast = np.zeros((len(rows), int(horizon), 1 + len(levels)))  # the short rows' zeros become their naive forecast
    if active.size:
        if period is not None:
            periods = np.full(active.size, period)
        else:
            periods = np.atleast_1d(detect_period(rows[active], candidates))
            if choose_period:
                periods = choose_periods(rows[active], int(horizon), periods)
            if channels_share_period and len(lead) == 2:  # the channels of one series share its clock
                every = np.ones(len(rows), dtype=int)
                every[active] = periods
                periods = np.repeat(shared_period(every.reshape(lead)), lead[1])[active]
        forecast[active] = run(rows[active], int(horizon), periods)
        if fallback is not None or (levels and calibrate is not None):
            forecast[active] = check_on_backtest(rows[active], int(horizon), periods, forecast[active], run, fallback, calibrate)
    point = to_input_scale(forecast[..., 0], contexts, context)
    if quantile_levels is None:
        return point
    return to_input_scale(interpolate_levels(forecast[..., 1:], levels, quantile_levels), contexts, context), point


@dataclass
class _Outpainting:
    """``forecast_with_outpainter``'s options, bound once: ``run(rows (N, L), horizon, periods (N,))`` -> forecasts
    (N, horizon, 1 + Q), the point then the outpainter's quantile levels (Q = 0 without ``levels``)."""

    outpainter: Outpainter
    layout: str
    align_const: float
    norm_const: float
    context_periods: int | None
    flip_ensemble: bool
    trend_ensemble: bool | str
    trend_min_r2: float
    seasonal_blend: float
    blend_periods: int
    restore_detail: int | None
    level_gate: float | None
    levels: tuple[float, ...]
    bf16: bool
    device: torch.device | str
    batch_size: int
    progress: bool | None
    on_outpaint: Callable | None = None

    def __call__(self, rows: np.ndarray, horizon: int, periods: np.ndarray) -> np.ndarray:
        outpainter = self.outpainter
        jobs = []  # (row indices, context steps kept, layout)
        for p in np.unique(periods):
            index = np.flatnonzero(periods == p)
            available = rows.shape[-1] if self.context_periods is None else min(rows.shape[-1], int(self.context_periods) * int(p))
            if self.layout == "native":
                step, keep = _native_plan(available, horizon, int(p), outpainter)
                plan = plan_layout(keep, step, int(p), outpainter.image_size, outpainter.patch_size, None)
            else:
                keep = available
                plan = plan_layout(keep, horizon, int(p), outpainter.image_size, outpainter.patch_size, self.align_const)
            jobs.extend((index[i : i + self.batch_size], keep, plan) for i in range(0, len(index), self.batch_size))
        logger.debug("forecasting %d series in %d batches (%s layout)", len(rows), len(jobs), self.layout)
        forecast = np.empty((len(rows), horizon, 1 + len(self.levels)))
        for index, keep, plan in tqdm(jobs, desc="forecast", disable=(None if self.progress is None else not self.progress)):
            forecast[index] = self._roll_out(rows[index, -keep:], keep, horizon, plan)
        return forecast if self.level_gate is None else continue_level(rows, forecast, periods, self.level_gate)

    def _roll_out(self, history: np.ndarray, keep: int, horizon: int, plan: RenderLayout) -> np.ndarray:
        """One pass, or a roll-out of ``plan.horizon`` steps per pass, for contexts (b, keep) -> (b, horizon, 1 + Q)."""
        views = partial(
            _outpaint_views, plan=plan, outpainter=self.outpainter, norm_const=self.norm_const, device=self.device,
            flip=self.flip_ensemble, bf16=self.bf16, quantiles=bool(self.levels), detail_periods=self.restore_detail,
            on_outpaint=self.on_outpaint,
        )  # fmt: skip
        paths, done = [], 0  # per pass: (b, step, 1 + Q)
        while done < horizon:
            batch = history[:, -keep:]
            step = views(batch)
            if self.trend_ensemble:
                fitted, extended = linear_trend(batch, plan.horizon)
                trending = trend_r2(batch, fitted) >= (self.trend_min_r2 if self.trend_ensemble == "auto" else -np.inf)
                if trending.any():
                    detrended = views(batch[trending] - fitted[trending])
                    step[trending] = (step[trending] + detrended + extended[trending, :, None]) / 2
            if self.seasonal_blend and plan.period > 1 and batch.shape[1] >= self.blend_periods * plan.period:
                blended = seasonal_mean(batch, plan.horizon, plan.period, self.blend_periods)
                step = step + (self.seasonal_blend * (blended - step[..., 0]))[..., None]  # every level moves with the point
            if paths and self.levels:  # a rolled-out pass starts from a point forecast: add the spread reached so far
                step[..., 1:] += paths[-1][:, -1:, 1:] - paths[-1][:, -1:, :1]
            paths.append(step)
            history = np.concatenate([history, step[..., 0]], axis=1)
            done += step.shape[1]
        return np.concatenate(paths, axis=1)[:, :horizon]


def continue_level(rows: np.ndarray, forecast: np.ndarray, periods: np.ndarray, gate: float, blocks: int = 28) -> np.ndarray:
    """Level continuity: contexts (N, L), forecasts (N, H, 1 + Q), periods (N,) -> the forecasts moved, every level
    alike, by the gap between the mean of the context's last period and the mean of the forecast's first period, for
    the rows where that gap exceeds ``gate`` times the typical change between consecutive period means of the context
    (1.4826 times their median absolute change, which one earlier jump does not inflate)
    (the last ``blocks`` periods before the last one; a period of 1 counts blocks of 8 steps). A level that jumped
    near the end of the context and stayed is then continued instead of averaged away; a forecast whose start is
    within the context's usual variation is left alone."""
    out = forecast.copy()
    for p in np.unique(periods):
        index = np.flatnonzero(periods == p)
        width = int(p) if p > 1 else 8
        count = min(blocks + 1, rows.shape[1] // width)
        if count < 4 or forecast.shape[1] < width:
            continue
        means = rows[index, rows.shape[1] - count * width :].reshape(len(index), count, width).mean(axis=2)
        earlier = means[:, :-1]
        usual = 1.4826 * np.median(np.abs(np.diff(earlier, axis=1)), axis=1)  # robust to one earlier jump
        spread = 1.4826 * np.median(np.abs(earlier - np.median(earlier, axis=1, keepdims=True)), axis=1)
        gap = means[:, -1] - forecast[index, :width, 0].mean(axis=1)
        moved = (np.abs(gap) > gate * usual) & (np.abs(gap) > LEVEL_SPREAD * spread)
        out[index[moved]] += gap[moved, None, None]
    return out


def check_on_backtest(
    rows: np.ndarray, horizon: int, periods: np.ndarray, forecast: np.ndarray, run: _Outpainting, margin: float | None,
    calibrate: float | None,
) -> np.ndarray:  # fmt: skip
    """The outpainter checked on each context's own recent past (``backtest``): contexts (N, L), their periods (N,),
    the outpainter's forecasts (N, H, 1 + Q) -> the same, adjusted by how it forecasts the stretches of min(H, L // 3)
    steps after ``BACKTESTS`` origins of the context (the last first; each from the context before it, without the
    flip view, which halves the cost).

    ``calibrate`` (quantile forecasts): the spread around the point is scaled by c ** calibrate, where c (0.25 ... 4)
    minimises the pinball loss of the backtests' quantiles scaled by c; 0 keeps the model's spread.

    ``margin`` (None: off): the simple rules (``simple_forecasts`` at the row's period) forecast the stretches after
    ``RULE_BACKTESTS`` origins; the rule (of ``CHALLENGERS``; only seasonal naive where it beats naive there and the season
    passes ``season_pvalue`` at ``SEASON_ALPHA``) with the lowest mean error is each row's challenger, and
    where its error is below ``margin`` times the outpainter's on every one of the outpainter's origins, its forecast
    replaces the point, with the spread around it scaled by the mean ratio of the two errors; where it is below
    ``BLEND_MARGIN`` times on every origin but not below ``margin``, the point is the average of the two and the
    quantiles move with it."""
    length = rows.shape[1]
    stretch = min(horizon, length // 3)
    origins = backtest_origins(length, stretch, history=max(2, length // 3), count=BACKTESTS) if stretch >= 1 else []
    if not origins:
        return forecast
    quick = dataclasses.replace(run, flip_ensemble=False, progress=False, on_outpaint=None)
    backtests = [quick(rows[:, :o], stretch, np.where(periods <= o, periods, 1)) for o in origins]  # (N, S, 1 + Q) each
    targets = [rows[:, o : o + stretch] for o in origins]
    out = forecast.copy()
    if calibrate is not None and out.shape[-1] > 1:
        scale = spread_scale(np.concatenate(backtests, axis=1), np.concatenate(targets, axis=1), run.levels) ** calibrate
        out[..., 1:] = out[..., :1] + (out[..., 1:] - out[..., :1]) * scale[:, None, None]
    if margin is None:
        return out
    own_errors = [np.abs(b[..., 0] - t).mean(axis=1) for b, t in zip(backtests, targets)]  # (N,) per origin
    rule_origins = backtest_origins(length, stretch, history=2, count=RULE_BACKTESTS)  # origins[k] == rule_origins[k]
    for p in np.unique(periods):
        index = np.flatnonzero(periods == p)
        errors = {}  # rule -> {origin number: (N_p,) error}, only where the rule applies (its period fits)
        for k, start in enumerate(rule_origins):
            for name, values in simple_forecasts(rows[index, :start], stretch, int(p) if p <= start else 1).items():
                errors.setdefault(name, {})[k] = np.abs(values - rows[index, start : start + stretch]).mean(axis=1)
        full = simple_forecasts(rows[index], horizon, int(p))
        names = [name for name in CHALLENGERS if name in full and name in errors]
        # the challenger: the rule with the lowest error over all its origins; it wins where it beats the outpainter by
        # the margin on every one of the outpainter's origins where it applies (a structural advantage, not one lucky
        # stretch), and its error ratio is the mean over those origins
        mean_errors = np.stack([np.mean(list(errors[name].values()), axis=0) for name in names])
        # a context whose season pays on its own past (seasonal naive beats naive over the rule origins) is challenged by
        # seasonal naive only: naive, drift or the mean replaced daily cycles by flat lines on ETTh2 (validation, period
        # given: ETTh2 0.4170 -> 0.4112, ETTh1 1.1214 -> 1.1196, ETTm1 0.6365 -> 0.6384; the suite 1.003 -> 1.011)
        seasonal = np.zeros(len(index), dtype=bool)
        if "seasonal_naive" in names:
            seasonal = mean_errors[names.index("seasonal_naive")] < mean_errors[names.index("naive")]
            seasonal &= season_pvalue(rows[index], int(p)) <= SEASON_ALPHA
            mean_errors[:, seasonal] = np.where(np.array(names)[:, None] == "seasonal_naive", mean_errors[:, seasonal], np.inf)
        exempt = seasonal & (length // p >= LONG_SEASONAL)
        best = mean_errors.argmin(axis=0)
        tiny = np.finfo(np.float64).tiny
        ratios, every = [], []
        for name in names:
            shared = [k for k in range(len(origins)) if k in errors[name]]
            per_origin = np.stack([errors[name][k] / np.maximum(own_errors[k][index], tiny) for k in shared]) if shared else np.full((1, len(index)), np.inf)
            ratios.append(per_origin.mean(axis=0))
            every.append(per_origin.max(axis=0))
        ratios, every = np.stack(ratios), np.stack(every)
        ratio = ratios[best, np.arange(len(index))]
        wins = (every[best, np.arange(len(index))] < margin) & ~exempt
        closer = (every[best, np.arange(len(index))] < BLEND_MARGIN) & ~wins & ~exempt
        for j, name in enumerate(names):
            chosen = wins & (best == j)
            if chosen.any():
                rows_j, point = index[chosen], full[name][chosen]
                spread = out[rows_j, :, 1:] - out[rows_j, :, :1]
                out[rows_j, :, 1:] = point[..., None] + spread * ratio[chosen, None, None]
                out[rows_j, :, 0] = point
            mixed = closer & (best == j)
            if mixed.any():
                rows_j = index[mixed]
                shift = (full[name][mixed] - out[rows_j, :, 0]) / 2
                out[rows_j] += shift[..., None]
    return out


SPREAD_SCALES = np.exp(np.linspace(np.log(0.25), np.log(4.0), 25))


def spread_scale(backtest: np.ndarray, target: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Backtest forecasts (N, S, 1 + Q) at ``levels`` and what came (N, S) -> the factor (N,) among ``SPREAD_SCALES``
    by which scaling the quantiles' distances from the point minimises the mean pinball loss."""
    tau = np.asarray(levels)
    point, spread = backtest[..., :1], backtest[..., 1:] - backtest[..., :1]
    losses = []
    for c in SPREAD_SCALES:
        error = target[..., None] - (point + c * spread)
        losses.append(np.maximum(tau * error, (tau - 1) * error).mean(axis=(1, 2)))
    return SPREAD_SCALES[np.argmin(np.stack(losses), axis=0)]

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


def _outpaint_views(
    rows: np.ndarray, plan: RenderLayout, outpainter: Outpainter, norm_const: float, device, flip: bool, bf16: bool,
    quantiles: bool, detail_periods: int | None, on_outpaint: Callable | None = None,
) -> np.ndarray:  # fmt: skip
    """One pass's forecast (B, horizon, 1 + Q): the point, then the outpainter's quantile levels (Q = 0 without
    ``quantiles``). With ``flip``, averaged with the negated forecast of the negated context, whose level q is the
    negation of its level 1 - q (the model's levels are symmetric about 0.5)."""
    run = partial(
        _outpaint_batch, plan=plan, outpainter=outpainter, norm_const=norm_const, device=device, bf16=bf16, quantiles=quantiles,
        detail_periods=detail_periods, on_outpaint=on_outpaint,
    )  # fmt: skip
    step = run(rows)
    if not flip:
        return step
    mirrored = -run(-rows)
    return (step + np.concatenate([mirrored[..., :1], mirrored[..., :0:-1]], axis=-1)) / 2


def _outpaint_batch(
    rows: np.ndarray, plan: RenderLayout, outpainter: Outpainter, norm_const: float, device, bf16: bool, quantiles: bool,
    detail_periods: int | None, on_outpaint: Callable | None = None,
) -> np.ndarray:  # fmt: skip
    """Contexts (B, L) float64 -> forecasts (B, horizon, 1 + Q) float64 for one layout (see ``_outpaint_views``).

    Detail restoration (native layout, ``detail_periods``): the canvas has H rows, so a period longer than H loses
    what varies within fewer than P / H steps (a period of 168 on 24 rows: one pixel per 7 steps). That lost part,
    the context minus its own render / read-back, is forecast as its mean over the last ``detail_periods`` periods
    and added to every level, so a long period keeps its full resolution (zero for periods up to H)."""
    x, mean, scale = normalise(torch.from_numpy(rows), norm_const)
    images = render(x.float(), plan).to(device)
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        if quantiles:
            filled, levels = outpainter.outpaint_quantiles(images, plan.visible_cols, read_columns(plan))
            canvases = torch.cat([filled[:, None], levels], dim=1)  # (B, 1 + Q, C, H, W)
        else:
            canvases = outpainter.outpaint(images, plan.visible_cols)[:, None]
    if on_outpaint is not None:
        on_outpaint(plan, images.cpu(), canvases[:, 0].float().cpu())
    count = canvases.shape[1]
    series = read_back(rearrange(canvases.float().cpu(), "b q c h w -> (b q) c h w"), plan)[:, plan.context_len :]
    series = rearrange(series.double(), "(b q) t -> b t q", q=count).numpy()
    if plan.native and detail_periods and plan.period > plan.image_size[0]:
        periods = min(int(detail_periods), plan.context_len // plan.period)
        lost = (x - read_back(images.float().cpu(), plan)[:, : plan.context_len].double()).numpy()
        series = series + seasonal_mean(lost, plan.horizon, plan.period, periods)[..., None]
    return series * scale.numpy()[..., None] + mean.numpy()[..., None]


def read_columns(plan: RenderLayout) -> int | None:
    """Patch columns after the visible ones that a native layout reads back (one pixel column per period); None
    (all) for the squeezed layout."""
    if not plan.native:
        return None
    columns = math.ceil((plan.pad_left + plan.context_len + plan.horizon) / plan.period)
    return max(1, math.ceil(columns / plan.patch_size[1]) - plan.visible_cols)


def outpainter_levels(outpainter: Outpainter) -> tuple[float, ...]:
    """The quantile levels an outpainter predicts (``MAEOutpainter`` with a quantile head), else a ValueError."""
    levels = tuple(getattr(getattr(outpainter, "config", None), "quantile_levels", ()) or ())
    if not levels or not hasattr(outpainter, "outpaint_quantiles"):
        raise ValueError(f"{type(outpainter).__name__} has no quantile head; quantile forecasts need an MAEOutpainter trained with quantile_levels")
    if not np.allclose(levels, [1 - q for q in reversed(levels)]):
        raise ValueError(f"the outpainter's quantile levels {levels} are not symmetric about 0.5")
    return levels


def check_quantile_levels(levels) -> tuple[float, ...]:
    """Quantile levels as a tuple of floats, strictly increasing inside (0, 1), else a one-line ValueError."""
    try:
        values = tuple(float(q) for q in levels)
    except (TypeError, ValueError):
        raise ValueError(f"quantile_levels must be a sequence of numbers in (0, 1), got {levels!r}") from None
    if not values:
        raise ValueError("quantile_levels is empty; give at least one level in (0, 1)")
    if not all(0 < q < 1 for q in values):
        raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {list(values)}")
    if any(a >= b for a, b in zip(values, values[1:])):
        raise ValueError(f"quantile levels must be sorted and distinct, got {list(values)}")
    return values


def interpolate_levels(quantiles: np.ndarray, levels: Sequence[float], wanted: Sequence[float]) -> np.ndarray:
    """Quantiles (..., Q) at the model's ``levels`` -> (..., len(wanted)) at any levels in (0, 1).

    The rule (levels off the model's grid): linear interpolation in normal scores z = Phi^-1(q) between the two
    neighbouring levels; beyond the outermost levels, the distance from the median level grows in proportion to z,
    as a normal tail fitted to that outer level and the median would (monotone, never clamped)."""
    normal = NormalDist()  # the standard library's: scipy.stats costs half a second to import
    z, zw = np.array([normal.inv_cdf(q) for q in levels]), np.array([normal.inv_cdf(q) for q in wanted])
    rows = quantiles.reshape(-1, len(levels))

    def at(scores: np.ndarray) -> np.ndarray:  # np.interp on every row at once: the z grid is shared
        if len(z) == 1:
            return np.repeat(rows, len(scores), axis=1)
        right = np.clip(np.searchsorted(z, scores, side="right"), 1, len(z) - 1)
        weight = np.clip((scores - z[right - 1]) / (z[right] - z[right - 1]), 0.0, 1.0)
        return rows[:, right - 1] * (1 - weight) + rows[:, right] * weight

    inner, median = at(zw), at(np.zeros(1))
    low, high = zw < z[0], zw > z[-1]
    if z[0] != 0:  # a lone median level has no tail to scale
        inner[:, low] = median + (rows[:, :1] - median) * (zw[low] / z[0])
    if z[-1] != 0:
        inner[:, high] = median + (rows[:, -1:] - median) * (zw[high] / z[-1])
    return inner.reshape(*quantiles.shape[:-1], len(wanted))
