"""Series drawn as images for a frozen ImageNet network: line plots, Gramian angular fields, recurrence plots.

Every renderer takes z-scored rows ``(B, S)`` (one series per row, already resampled to ``S`` steps) and returns
RGB images ``(B, 3, S, S)`` float32 in [0, 1], pure numpy (no plotting library), so drawing costs a few
milliseconds per hundred series:

- ``line``: the series as a thick antialiased dark line over a white canvas, the area between the curve and the
  series mean filled in a light colour (above the mean blue, below it red), time left to right.
- ``diff``: the same drawing of the first differences (the "velocity" of the series), which shows sharp
  events and local slope that the line plot flattens.
- ``gaf``: Gramian angular fields of the series scaled to [-1, 1]: summation field cos(phi_i + phi_j) in red,
  difference field sin(phi_i - phi_j) in green, and their mean in blue.
- ``recurrence``: unthresholded recurrence plot exp(-|x_i - x_j|) in all three channels (grey).

One view draws a whole multivariate case ``(B, C, S)`` in one image instead of one image per channel:

- ``heatmap``: the case as a picture of channels (rows, top to bottom) by time (columns), z-scored over the
  whole case so the channels keep their relative levels and scales, in a blue-white-red colour scale (+-3 std).

``render_views(cases, views, size)`` resamples and draws several views at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from timeartist.data.archives import resample_to_length

LINE_WIDTH = 0.025  # line thickness as a fraction of the image side
MARGIN = 0.06  # blank border above the highest and below the lowest value, as a fraction of the side
ABOVE = np.array([0.55, 0.70, 1.0])  # fill colour where the series is above its mean
BELOW = np.array([1.0, 0.60, 0.55])  # ... and below it
STD_EPS = 1e-8


def zscore_rows(rows: np.ndarray) -> np.ndarray:
    """Rows (B, L) -> per-row z-scores; a constant row becomes zeros (a flat line)."""
    std = rows.std(axis=1, keepdims=True)
    return (rows - rows.mean(axis=1, keepdims=True)) / np.where(std > STD_EPS, std, 1.0)


def _pixel_rows(rows: np.ndarray) -> np.ndarray:
    """Values (B, S) -> vertical pixel positions (B, S) in [MARGIN*(S-1), (1-MARGIN)*(S-1)], high values on top."""
    size = rows.shape[1]
    low, high = rows.min(1, keepdims=True), rows.max(1, keepdims=True)
    unit = (rows - low) / np.where(high - low > STD_EPS, high - low, 1.0)
    return (1 - MARGIN - unit * (1 - 2 * MARGIN)) * (size - 1)


def line_plot(rows: np.ndarray) -> np.ndarray:
    """Z-scored rows (B, S) -> line plots (B, 3, S, S): dark line, area to the mean filled (blue above, red below)."""
    size = rows.shape[1]
    y = _pixel_rows(rows)  # (B, S)
    zero = _pixel_rows(np.concatenate([rows, np.zeros_like(rows[:, :1])], 1))[:, -1:]  # pixel row of the mean
    # Each column covers the vertical span of the curve over the half steps to its neighbours, so steep parts
    # stay connected; the line is that span widened by half the line width, with a one-pixel soft edge.
    padded = np.concatenate([y[:, :1], y, y[:, -1:]], 1)
    mids = np.stack([(padded[:, :-2] + y) / 2, y, (padded[:, 2:] + y) / 2])
    top, bottom = mids.min(0)[:, None], mids.max(0)[:, None]  # (B, 1, S)
    grid = np.arange(size, dtype=np.float64)[None, :, None]  # (1, S rows, 1)
    distance = np.maximum(np.maximum(top - grid, grid - bottom), 0)
    line = np.clip(LINE_WIDTH * size / 2 + 0.5 - distance, 0, 1)  # (B, S, S)
    above = np.clip(np.minimum(grid - y[:, None] + 0.5, zero[:, :, None] - grid + 0.5), 0, 1)
    below = np.clip(np.minimum(y[:, None] - grid + 0.5, grid - zero[:, :, None] + 0.5), 0, 1)
    image = 1 - above[:, None] * (1 - ABOVE[:, None, None]) - below[:, None] * (1 - BELOW[:, None, None])
    return (image * (1 - line[:, None])).astype(np.float32)


def diff_plot(rows: np.ndarray) -> np.ndarray:
    """Z-scored rows (B, S) -> line plots (B, 3, S, S) of the first differences (resampled back to S steps)."""
    steps = np.diff(rows, axis=1)
    return line_plot(zscore_rows(resample_to_length(steps[:, None], rows.shape[1])[:, 0]))


def gramian_angular_field(rows: np.ndarray) -> np.ndarray:
    """Rows (B, S) -> (B, 3, S, S): summation field (red), difference field (green), their mean (blue)."""
    low, high = rows.min(1, keepdims=True), rows.max(1, keepdims=True)
    cos = np.clip(2 * (rows - low) / np.where(high - low > STD_EPS, high - low, 1.0) - 1, -1, 1)
    sin = np.sqrt(1 - cos**2)
    summation = cos[:, :, None] * cos[:, None] - sin[:, :, None] * sin[:, None]  # cos(phi_i + phi_j)
    difference = sin[:, :, None] * cos[:, None] - cos[:, :, None] * sin[:, None]  # sin(phi_i - phi_j)
    fields = np.stack([summation, difference, (summation + difference) / 2], 1)
    return ((fields + 1) / 2).astype(np.float32)


def recurrence_plot(rows: np.ndarray) -> np.ndarray:
    """Z-scored rows (B, S) -> (B, 3, S, S) grey: exp(-|x_i - x_j|), 1 on the diagonal."""
    image = np.exp(-np.abs(rows[:, :, None] - rows[:, None]))
    return np.repeat(image[:, None], 3, axis=1).astype(np.float32)


def case_heatmap(cases: np.ndarray) -> np.ndarray:
    """Cases (B, C, S) -> (B, 3, S, S): channels as horizontal bands, case-level z-scores coloured blue (low) ->
    white -> red (high), clipped at +-3."""
    batch, channels, size = cases.shape
    flat = cases.reshape(batch, -1)
    unit = np.clip(zscore_rows(flat).reshape(cases.shape) / 3, -1, 1)
    unit = unit[:, np.minimum(np.arange(size) * channels // size, channels - 1)]  # (B, S rows, S)
    red, blue = np.minimum(1 + unit, 1), np.minimum(1 - unit, 1)
    return np.stack([red, 1 - np.abs(unit), blue], 1).astype(np.float32)


RENDERERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "line": line_plot,
    "diff": diff_plot,
    "gaf": gramian_angular_field,
    "recurrence": recurrence_plot,
}
CASE_RENDERERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"heatmap": case_heatmap}


def render_views(cases: np.ndarray, views: Sequence[str], size: int) -> dict[str, np.ndarray]:
    """Cases (B, C, L) (any L >= 2, NaN-free) -> {view: images float32 in [0, 1]}: (B * C, 3, size, size) for the
    one-image-per-channel views (``RENDERERS``; channel-major within a case), (B, 3, size, size) for the
    whole-case views (``CASE_RENDERERS``).

    Cases are linearly resampled to ``size`` steps; each channel is z-scored before drawing it on its own.
    """
    unknown = [v for v in views if v not in RENDERERS and v not in CASE_RENDERERS]
    if unknown:
        raise ValueError(f"unknown views {unknown}; available: {', '.join([*RENDERERS, *CASE_RENDERERS])}")
    cases = resample_to_length(np.asarray(cases, dtype=np.float64), size)
    rows = zscore_rows(cases.reshape(-1, size))
    return {view: CASE_RENDERERS[view](cases) if view in CASE_RENDERERS else RENDERERS[view](rows) for view in views}
