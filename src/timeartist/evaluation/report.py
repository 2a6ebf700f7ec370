"""Benchmark outputs, one layout for every run folder: the results frame as JSON, CSV and markdown, plus PNG plots.

- ``write_results``: ``results.json`` (``{"command": ..., "meta": ..., "rows": [...]}``), ``results.csv`` (the rows)
  and ``results.md`` (the title, the command, the short meta values as a bullet list, then one markdown table per
  heading). Folders committed before this layout hold ``<benchmark>.{json,csv,md}`` with the same content.
- ``plot_error_by_step``: per-step forecast error curves, one panel per dataset, one line per method.
- ``plot_forecast_examples``: context tail, truth and every method's forecast, one panel per dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from timeartist.hub import atomic_write  # noqa: E402
from timeartist.viz import draw_forecast, save_figure  # noqa: E402

logger = logging.getLogger(__name__)

MAX_MD_META = 200  # characters of one meta value shown in the markdown header
RESULTS = "results"  # file stem of every run folder's results


@dataclass
class ForecastExample:
    """One window to draw: ``context (L,)``, ``target (H,)`` and ``forecasts[method] (H,)``."""

    context: np.ndarray
    target: np.ndarray
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    title: str = ""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A pipe table of ``frame`` (index included when it is named), floats formatted with ``floatfmt``, missing
    values (NaN) left empty."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else format(value, floatfmt)
        return str(value)

    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def write_results(
    frame: pd.DataFrame,
    out_dir: str | Path,
    meta: Mapping,
    tables: Mapping[str, pd.DataFrame],
    title: str,
    command: str | None = None,
    floatfmt: str = ".3f",
) -> dict[str, Path]:
    """Write ``frame`` as ``results.csv`` / ``results.json`` and ``tables`` (heading -> frame, floats as ``floatfmt``)
    as ``results.md``; ``command``: the command line that made them, shown first."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"{RESULTS}.{kind}" for kind in ("csv", "json", "md")}
    payload = {"command": command, "meta": dict(meta), "rows": frame.to_dict(orient="records")}
    lines = [f"# {title}", ""] + ([f"`{command}`", ""] if command else [])
    for key, value in meta.items():  # long nested values (search curves, settings) stay in the JSON only
        text = json.dumps(value, default=_json_default)
        lines.append(f"- {key}: {text if len(text) <= MAX_MD_META else f'see {RESULTS}.json'}")
    for heading, table in tables.items():
        lines += ["", f"## {heading}", "", markdown_table(table, floatfmt)]
    atomic_write(paths["csv"], lambda tmp: frame.to_csv(tmp, index=False))
    atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2, default=_json_default) + "\n"))
    atomic_write(paths["md"], lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    logger.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths


def report_panels(count: int, width: float = 5.0, height: float = 3.2):
    cols = min(count, 3)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def figure_legend(fig, axes) -> None:
    """One legend below the panels with every line label of any panel (panels may draw different methods), so
    that no legend hides a curve."""
    labels = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(label, handle)
    fig.legend(labels.values(), labels.keys(), loc="lower center", ncol=min(len(labels), 7), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1), h_pad=2.0)  # a panel's title clear of the x label of the row above


def plot_error_by_step(curves: Mapping[str, Mapping[str, np.ndarray]], path: str | Path, ylabel: str) -> Path:
    """``curves[panel][method] (H,)``: error at each forecast step; one panel per dataset."""
    if not curves:
        raise ValueError("no error curves to plot")
    fig, axes = report_panels(len(curves))
    # one colour per method in every panel (panels may lack a method), so that the figure legend holds for all
    colors = {method: f"C{i % 10}" for i, method in enumerate(dict.fromkeys(m for methods in curves.values() for m in methods))}
    for ax, (panel, methods) in zip(axes, curves.items()):
        for method, values in methods.items():
            ax.plot(np.arange(1, len(values) + 1), values, label=method, linewidth=1.2, color=colors[method])
        ax.set(title=panel, xlabel="forecast step", ylabel=ylabel)
        ax.grid(alpha=0.3)
    figure_legend(fig, axes)
    return save_figure(fig, path)


def plot_bar_panels(labels: Sequence[str], panels: Sequence[tuple[Sequence[float], str, str]], path: str | Path, tick_size: int = 8) -> Path:
    """Bar charts side by side over the same ``labels``, one per panel ``(values, ylabel, title)``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for i, (ax, (values, ylabel, title)) in enumerate(zip(axes[0], panels)):
        ax.bar(list(labels), values, color=f"C{i}")
        ax.set(ylabel=ylabel, title=title)
        ax.tick_params(axis="x", labelsize=tick_size)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_forecast_examples(examples: Mapping[str, ForecastExample], path: str | Path, context_steps: int = 192) -> Path:
    """Draw the last ``context_steps`` of each example's context, its target and every forecast."""
    if not examples:
        raise ValueError("no forecast examples to plot")
    fig, axes = report_panels(len(examples), width=6.0)
    for ax, (panel, example) in zip(axes, examples.items()):
        draw_forecast(ax, example.context, example.forecasts, example.target, example.title or panel, context_steps, legend=False)
        ax.grid(alpha=0.3)
    figure_legend(fig, axes)
    return save_figure(fig, path)


def ordered(values: Sequence, order: Sequence) -> list:
    """``values`` sorted by their position in ``order`` (unknown values last, in input order)."""
    rank = {v: i for i, v in enumerate(order)}
    return sorted(values, key=lambda v: rank.get(v, len(rank)))
