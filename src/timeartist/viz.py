"""Figures a person would rather look at than read: series plots, image grids, forecasts with their history.

Every function writes a PNG (atomically) and returns its path. Images are float tensors or arrays
(B, 3, H, W) in [0, 1]; series are 1-D arrays. Matplotlib runs on the file-only Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from timeartist.hub import atomic_write  # noqa: E402

SERIES_COLOR = "cornflowerblue"
FORECAST_COLORS = ["firebrick", "darkorange", "seagreen", "purple", "saddlebrown", "deeppink", "teal"]


def to_uint8(images) -> np.ndarray:
    """(B, 3, H, W) or (3, H, W) floats in [0, 1] -> (B, H, W, 3) uint8 (values clamped)."""
    array = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W) or (3, H, W), got shape {array.shape}")
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)


def to_pil(images) -> list[Image.Image]:
    """(B, 3, H, W) floats in [0, 1] -> list of RGB PIL images."""
    return [Image.fromarray(a) for a in to_uint8(images)]


def save_image(image, path: str | Path) -> Path:
    """Write one (3, H, W) image in [0, 1] as PNG."""
    path = Path(path)
    pil = to_pil(image)[0]
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))
    return path


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (atomically, parent folders created) and close it."""
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def save_image_grid(images, path: str | Path, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.6) -> Path:
    """Images (B, 3, H, W) in [0, 1] as a grid with optional per-image titles."""
    pixels = to_uint8(images)
    n = len(pixels)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 * nrows if titles else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(pixels[i], interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=8)
    return save_figure(fig, path)


def save_series_plot(series: Mapping[str, np.ndarray] | np.ndarray, path: str | Path, title: str = "") -> Path:
    """One panel with one line per named series ((L,) arrays); a bare array is drawn alone."""
    lines = {"series": series} if not isinstance(series, Mapping) else series
    fig, ax = plt.subplots(figsize=(6, 2.6))
    for i, (name, values) in enumerate(lines.items()):
        color = SERIES_COLOR if i == 0 else FORECAST_COLORS[(i - 1) % len(FORECAST_COLORS)]
        ax.plot(np.asarray(values, dtype=float).ravel(), linewidth=1.0, color=color, label=name)
    if len(lines) > 1:
        ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def save_pairs_plot(images, series: Sequence[np.ndarray], path: str | Path, titles: Sequence[str] | None = None) -> Path:
    """Rows of (image, series) pairs: the picture a conversion made next to the series it came from or went to."""
    pixels = to_uint8(images)
    if len(pixels) != len(series):
        raise ValueError(f"expected as many series as images, got {len(series)} series for {len(pixels)} images")
    fig, axes = plt.subplots(len(pixels), 2, figsize=(7, 1.9 * len(pixels)), squeeze=False, gridspec_kw={"width_ratios": [1, 2.6]})
    for i, (img, values) in enumerate(zip(pixels, series)):
        axes[i, 0].imshow(img, interpolation="nearest")
        axes[i, 0].axis("off")
        axes[i, 1].plot(np.asarray(values, dtype=float).ravel(), color=SERIES_COLOR, linewidth=1.0)
        axes[i, 1].set_xticks([])
        if titles:
            axes[i, 0].set_title(titles[i], fontsize=8)
    return save_figure(fig, path)


def draw_forecast(
    ax,
    history: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    truth: np.ndarray | None = None,
    title: str = "",
    history_steps: int | None = None,
    legend: bool = True,
    times=None,
    ylabel: str | None = None,
    band: tuple[np.ndarray, np.ndarray] | None = None,
    band_label: str = "80% interval",
) -> None:
    """On ``ax``: the tail of the history, then each named forecast (and the truth when known) over the horizon, and
    ``band`` (low, high), e.g. the 0.1 and 0.9 quantiles, shaded in the first forecast's colour.

    times: the time stamps of the whole history and the horizon (``len(history) + horizon`` datetimes or numbers),
    drawn on the x axis; default: step numbers. ``legend=True`` puts the legend outside the axes, on the right, so
    that it never covers a curve; ``legend=False`` leaves it to the caller (one per figure of many panels)."""
    history = np.asarray(history, dtype=float).ravel()
    curves = {name: np.asarray(values, dtype=float).ravel() for name, values in forecasts.items()}
    truth = None if truth is None else np.asarray(truth, dtype=float).ravel()
    horizon = max([len(v) for v in curves.values()] + [len(truth) if truth is not None else 0])
    dated = times is not None and not np.issubdtype(np.asarray(times).dtype, np.number)
    x = np.arange(len(history) + horizon) if times is None else _time_axis(times, dated)
    if len(x) != len(history) + horizon:
        raise ValueError(f"times must hold the {len(history)} history and {horizon} forecast stamps, got {len(x)}")
    if history_steps is not None and history_steps < len(history):
        x, history = x[len(history) - history_steps :], history[-history_steps:]
    t0 = len(history)
    ax.plot(x[:t0], history, color=SERIES_COLOR, linewidth=1.0, label="history")
    if truth is not None:
        ax.plot(x[t0 : t0 + len(truth)], truth, color="black", linewidth=1.0, label="truth")
    if band is not None:
        low, high = (np.asarray(b, dtype=float).ravel() for b in band)
        ax.fill_between(x[t0 : t0 + len(low)], low, high, color=FORECAST_COLORS[0], alpha=0.2, linewidth=0, label=band_label)
    for i, (name, values) in enumerate(curves.items()):
        ax.plot(x[t0 : t0 + len(values)], values, color=FORECAST_COLORS[i % len(FORECAST_COLORS)], linewidth=1.2, label=name)
    ax.axvline(x[t0 - 1] + (x[t0] - x[t0 - 1]) / 2, color="grey", linewidth=0.6, linestyle=":")
    if dated:
        locator = matplotlib.dates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
    ax.set_xlabel("time" if dated else "step", fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)
    if legend:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    ax.set_title(title, fontsize=9)


def _time_axis(times, dated: bool) -> np.ndarray:
    """Time stamps -> an array matplotlib plots: datetime64 (time zones dropped, wall time kept) or numbers."""
    if not dated:
        return np.asarray(times, dtype=float)
    import pandas as pd

    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    return (stamps.tz_localize(None) if stamps.tz is not None else stamps).to_numpy()


def save_forecast_plot(
    history: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    path: str | Path,
    truth: np.ndarray | None = None,
    title: str = "",
    history_steps: int | None = None,
    times=None,
    ylabel: str | None = None,
    band: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """One panel of ``draw_forecast`` as PNG."""
    fig, ax = plt.subplots(figsize=(8, 3))
    draw_forecast(ax, history, forecasts, truth, title, history_steps, times=times, ylabel=ylabel, band=band)
    return save_figure(fig, path)
