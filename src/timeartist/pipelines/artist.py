"""The paper's forecasting path: series -> image -> outpaint -> image -> series ("Time2Image, Outpaint, Image2Time").

1. Each context is z-scored (``rendering.normalise``, no absolute epsilon) and converted to an image I_c by the pipeline's ``series_to_image`` (tokenizers and,
   when present, the series->image aligner).
2. I_c is squeezed horizontally onto the left ``n_v`` patch columns of the outpainter's canvas, with
   ``n_v = clip(round(G * L / (L + H)), 1, G - 1)`` for G patch columns, so the canvas width stands for L + H steps;
   the outpainter fills the columns to the right.
3. The filled canvas is resized back to the tokenizer's image size and read by ``image_to_series``; the series it
   gives spans L + H steps and is resampled to that length.
4. The decoded context part is fitted to the true context by least squares (scale and offset), the same map is
   applied to the decoded future, and the result is put back in the input's scale. A flat context (``is_flat``)
   is forecast as its constant, one with 2 or 3 observed values as its last value (``forecasting.read_contexts``).

The tokens are global, not spatial, so nothing guarantees that the right part of an image decodes to the end of
a series: this path is here because the paper proposes it, and BENCHMARKS.md reports how it measures next to the
periodic (VisionTS) rendering, which is the default.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from timeartist.pipelines.forecasting import read_contexts, to_input_scale
from timeartist.pipelines.rendering import normalise


def _affine_fit(decoded: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row least-squares (scale, offset) mapping ``decoded`` (B, L) onto ``truth`` (B, L)."""
    d = decoded - decoded.mean(1, keepdims=True)
    scale = (d * (truth - truth.mean(1, keepdims=True))).sum(1, keepdims=True) / np.maximum((d**2).sum(1, keepdims=True), 1e-12)
    offset = truth.mean(1, keepdims=True) - scale * decoded.mean(1, keepdims=True)
    return scale, offset


def forecast_artist(pipe, context, horizon: int, batch_size: int = 64, progress: bool | None = None):
    """Forecast by the Time2Image -> outpaint -> Image2Time path of ``pipe`` (a ``TimeArtistPipeline``).

    context (L,), (B, L) or (B, L, C) -> (H,), (B, H) or (B, H, C) in the input's type and scale; the horizon may be
    at most L (a longer one is a ValueError naming the limit: squeezed onto a few canvas columns, the context no
    longer conveys its shape).
    """
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    contexts = read_contexts(context)  # NaNs filled, scaled to [-1, 1] exactly; short rows forecast naively
    rows = contexts.rows
    length = rows.shape[1]
    if contexts.short.all():
        return to_input_scale(np.zeros((len(rows), int(horizon))), contexts, context)
    if horizon > length:
        raise ValueError(
            f"method='artist' forecasts at most as many steps as the context has (the context keeps at least half of "
            f"the canvas): the longest supported horizon for this {length}-step context is {length}, got {horizon}; "
            "pass a longer context, or use method='visionts', which rolls out long horizons"
        )
    z, mean, std = (t.numpy() for t in normalise(torch.from_numpy(rows), norm_const=1.0))
    live = np.flatnonzero((std[:, 0] > 0) & ~contexts.short)  # flat rows (std 0) are forecast as their constant

    outpainter = pipe.outpainter
    (canvas_h, canvas_w), (_, pw) = outpainter.image_size, outpainter.patch_size
    columns = canvas_w // pw
    visible = int(np.clip(round(columns * length / (length + horizon)), 1, columns - 1))
    size = pipe.visual.config.image_size
    aligned = pipe.align_t2v is not None and pipe.align_v2t is not None

    forecast = np.repeat(mean, int(horizon), axis=1)
    for i in pipe._batches(len(live), batch_size, "forecast (artist)", progress):
        index = live[i : i + batch_size]
        block = z[index]
        images = pipe.series_to_image(torch.from_numpy(block), aligned=aligned, progress=False)  # (b, 3, S, S)
        canvas = torch.zeros(len(block), images.shape[1], canvas_h, canvas_w)
        canvas[..., : visible * pw] = F.interpolate(images, size=(canvas_h, visible * pw), mode="bilinear", align_corners=False, antialias=True)
        filled = outpainter.outpaint(canvas.to(pipe.device), visible)
        filled = F.interpolate(filled.float().cpu(), size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
        decoded = pipe._decode_series(filled, aligned, length + int(horizon), batch_size, progress=False).double().numpy()
        scale, offset = _affine_fit(decoded[:, :length], block)
        forecast[index] = (scale * decoded[:, length:] + offset) * std[index] + mean[index]
    return to_input_scale(forecast, contexts, context)
