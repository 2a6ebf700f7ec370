import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from timeartist import viz


def test_to_uint8_clamps_and_orders_channels():
    images = torch.zeros(2, 3, 4, 5)
    images[:, 0] = 2.0  # out of range -> clamped to 255
    images[:, 2] = -1.0
    out = viz.to_uint8(images)
    assert out.shape == (2, 4, 5, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 255).all() and (out[..., 2] == 0).all()


def test_to_uint8_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        viz.to_uint8(np.zeros((1, 1, 4, 4)))


def test_figures_are_pngs(tmp_path):
    images = torch.rand(3, 3, 8, 8)
    grid = viz.save_image_grid(images, tmp_path / "grid.png", titles=["a", "b", "c"])
    pairs = viz.save_pairs_plot(images, [np.sin(np.arange(20))] * 3, tmp_path / "pairs.png")
    fc = viz.save_forecast_plot(np.arange(50.0), {"m": np.ones(10)}, tmp_path / "fc.png", truth=np.zeros(10), history_steps=20)
    one = viz.save_image(images[0], tmp_path / "one.png")
    for path in (grid, pairs, fc, one):
        assert Image.open(path).format == "PNG"
    assert Image.open(one).size == (8, 8)


def _drawn(monkeypatch, module):
    """Figures that ``module.save_figure`` is given, kept open (and still written) for inspection."""
    figures = []

    def keep(fig, path):
        figures.append(fig)
        fig.canvas.draw()
        return path

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def test_forecast_plot_has_dates_axis_labels_and_a_legend_beside_the_data(monkeypatch, tmp_path):
    figures = _drawn(monkeypatch, viz)
    stamps = pd.date_range("2024-03-01", periods=60, freq="h")
    viz.save_forecast_plot(np.sin(np.arange(50.0)), {"m": np.ones(10)}, tmp_path / "fc.png", history_steps=20, times=stamps, ylabel="load (MW)")
    ax = figures[0].axes[0]
    history, forecast = ax.lines[0], ax.lines[1]
    assert pd.Timestamp(history.get_xdata()[0]) == stamps[30] and pd.Timestamp(forecast.get_xdata()[0]) == stamps[50]
    assert ax.get_xlabel() == "time" and ax.get_ylabel() == "load (MW)"
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1  # right of the axes: covers no curve
    viz.save_forecast_plot(np.arange(50.0), {"m": np.ones(10)}, tmp_path / "steps.png")
    assert figures[1].axes[0].get_xlabel() == "step" and figures[1].axes[0].lines[1].get_xdata()[0] == 50
    with pytest.raises(ValueError, match="times must hold the 50 history and 10 forecast stamps, got 59"):
        viz.save_forecast_plot(np.arange(50.0), {"m": np.ones(10)}, tmp_path / "bad.png", times=stamps[:59])


def test_error_by_step_panels_share_colours_and_keep_titles_clear_of_the_row_above(monkeypatch, tmp_path):
    from timeartist.evaluation import report

    figures = _drawn(monkeypatch, report)
    curves = {f"set {i}": {m: np.linspace(0, 1, 96) + k for k, m in enumerate(["a", "b", "c"]) if not (i == 1 and m == "b")} for i in range(5)}
    report.plot_error_by_step(curves, tmp_path / "ebh.png", ylabel="MSE")
    fig = figures[0]
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    colours = {}
    for ax in axes:
        assert ax.get_legend() is None  # one legend for the figure, below the panels
        for line in ax.lines:
            assert colours.setdefault(line.get_label(), line.get_color()) == line.get_color()  # "c" keeps its colour where "b" is missing
    assert len(fig.legends) == 1 and [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "c"]
    above, below = axes[0], axes[3]  # 3 panels a row
    gap = above.xaxis.label.get_window_extent(renderer).y0 - below.title.get_window_extent(renderer).y1
    assert gap > 0.2 * fig.dpi  # a fifth of an inch between a title and the x label above it
