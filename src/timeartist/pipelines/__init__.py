"""What a user runs: rendering series as images, period detection, zero-shot forecasting by outpainting."""

from timeartist.pipelines.forecasting import OutpainterForecaster, fill_nans, forecast_with_outpainter
from timeartist.pipelines.periodicity import detect_period, period_candidates, shared_period
from timeartist.pipelines.rendering import RenderLayout, normalise, plan_layout, read_back, render

__all__ = [
    "OutpainterForecaster",
    "RenderLayout",
    "detect_period",
    "fill_nans",
    "forecast_with_outpainter",
    "normalise",
    "period_candidates",
    "plan_layout",
    "read_back",
    "render",
    "shared_period",
]
