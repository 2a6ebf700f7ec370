"""Figures and pictures the playground shows.

Figures are built as ``matplotlib.figure.Figure`` objects, not through pyplot: the server draws for several
requests at once, and pyplot's global figure registry is neither thread-safe nor freed unless closed. Matplotlib
(and ``timeartist.viz``, which loads it) is imported at the first drawing, not with this module: it costs the
server's start more than half a second, 7% of the time to its page.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from timeartist.pipelines.rendering import NORM_CONST, RenderLayout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DISPLAY_SCALE = 4  # the tokenizers' pictures are 64 px: shown 4x larger with visible pixels


def forecast_figure(
    history: np.ndarray, history_x: np.ndarray, forecast: np.ndarray, forecast_x: np.ndarray, title: str,
    band: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> Figure:  # fmt: skip
    """The recent history and the forecast after it; ``band`` = (lower, upper, label) shades a quantile band."""
    from timeartist.viz import FORECAST_COLORS, SERIES_COLOR

    figure = _figure(9, 3.4)
    ax = figure.subplots()
    ax.plot(history_x, history, color=SERIES_COLOR, linewidth=1.0, label="history")
    color = FORECAST_COLORS[0]
    if band is not None:
        lower, upper, label = band
        ax.fill_between(forecast_x, lower, upper, color=color, alpha=0.2, linewidth=0, label=label)
    ax.plot(forecast_x, forecast, color=color, linewidth=1.3, label="forecast")
    ax.axvline(forecast_x[0], color="grey", linewidth=0.6, linestyle=":")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    return figure


def canvas_picture(layout: RenderLayout, canvas: np.ndarray, filled: np.ndarray, width: int = 768) -> Image.Image:
    """The outpainter's input canvas (3, H, W) above what it painted, as one picture about ``width`` pixels wide: a
    column per period, a row per phase, blue below the context's mean and red above (the normalised series, std
    ``NORM_CONST``); dotted black columns mark where the context ends and where the part read back as the forecast
    (of this pass) ends. An image, not a figure: it costs milliseconds where a matplotlib figure costs a large part
    of the page's forecast time."""
    from matplotlib import colormaps

    limit = 3 * NORM_CONST
    panels = [colormaps["RdBu_r"](np.clip(np.asarray(image).mean(axis=0) / limit / 2 + 0.5, 0, 1))[..., :3] for image in (canvas, filled)]
    height = panels[0].shape[0]
    gap = np.ones((max(2, height // 8), panels[0].shape[1], 3))
    rgb = np.concatenate([panels[0], gap, panels[1]])
    scale = max(1, width // rgb.shape[1])
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    columns = canvas.shape[-1]
    end = (layout.pad_left + layout.context_len + layout.horizon) / layout.period * columns / layout.canvas_periods
    for edge in (layout.context_width, min(columns, math.ceil(end))):
        rgb[::2, max(0, edge * scale - 1) : edge * scale + 1] = 0  # dotted: every other pixel row
    return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))


def series_figure(values: np.ndarray, title: str) -> Figure:
    from timeartist.viz import SERIES_COLOR

    figure = _figure(6, 2.4)
    ax = figure.subplots()
    ax.plot(np.asarray(values, dtype=float).ravel(), color=SERIES_COLOR, linewidth=1.0)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=8)
    return figure


def table_html(frame) -> str:
    """A DataFrame as an HTML table in a scrolling box (CSS class ``ta-table``), numbers in full precision: the page
    shows what its CSV holds. (Gradio's Dataframe component imports pandas' Styler and with it matplotlib, which
    costs the server's start a second; a plain table does not.)"""
    return f'<div class="ta-table">{frame.to_html(index=False, border=0, float_format=lambda v: repr(float(v)))}</div>'


def warm_up() -> None:
    """Import what the first drawing needs (for a server to run once its page is up, so that no visitor waits)."""
    from matplotlib import colormaps  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    import timeartist.viz  # noqa: F401


def pictures(images) -> list[Image.Image]:
    """Images (B, 3, S, S) in [0, 1] -> PIL images ``DISPLAY_SCALE`` times larger, each pixel a visible block."""
    from timeartist.viz import to_pil

    return [image.resize((image.width * DISPLAY_SCALE, image.height * DISPLAY_SCALE), Image.NEAREST) for image in to_pil(images)]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")
