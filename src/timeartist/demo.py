"""``timeartist demo``: everything the library does, on data that ships with its dependencies, as a PNG gallery.

Series come from the datasets bundled in the ``aeon`` wheel (airline passengers, half-hourly solar generation,
GunPoint), so the demo needs no network. Photos: held-out ImageNet samples (``data.images.is_heldout``, never
trained on) when the data folder is there, else ``skimage.data`` photos, which the bundled image tokenizer trained
on (the captions say which). It writes:

- ``round_trip.png``: the photos over their round trips through the image tokens;
- ``image2series.png``: the photos and the series they convert to (after alignment);
- ``series2image.png``: real series and their images before and after alignment;
- ``style_transfer.png``: a photo rendered in the style of a series over an alpha grid;
- ``forecast_<name>.png``: zero-shot forecasts with their history and 80% interval, next to seasonal naive and AutoETS;
- ``classification.png``: GunPoint, the most typical training case of each class as the classifier sees it, and the test accuracy;
- ``generated.png`` (pipelines with a token generator): images drawn for ImageNet classes and, when the generator
  is series-conditioned, several images drawn for one real series;
- ``index.html``: all of them with one-line captions.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from timeartist import viz
from timeartist.data.images import is_heldout, to_image_batch
from timeartist.data.paths import resolve_data_root
from timeartist.hub import atomic_write
from timeartist.evaluation.metrics import inside_interval
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.pipelines.pipeline import TimeArtistPipeline

logger = logging.getLogger(__name__)

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
HELDOUT_PHOTOS = 6
GENERATED_CLASSES = (948, 130, 31, 388, 417, 323)  # Granny Smith, flamingo, tree frog, giant panda, balloon, monarch


def _photos(data_root=None) -> tuple[torch.Tensor, list[str], str]:
    """(photos (B, 3, 256, 256) in [0, 1] by the pipeline's preprocessing rule, titles, where they come from): the
    first held-out ImageNet samples of the data folder, else the scikit-image photos ``PHOTOS``."""
    try:
        folder = resolve_data_root(data_root) / "images" / "imagenet_samples"
        files = [p for p in sorted(folder.glob("*.JPEG")) if is_heldout(p.name)][:HELDOUT_PHOTOS]
    except FileNotFoundError:
        files = []
    if files:
        titles = [p.stem.split("_", 1)[1].replace("_", " ") for p in files]
        return to_image_batch(files, 256), titles, "held-out ImageNet samples (never trained on)"
    import skimage.data

    photos = to_image_batch([getattr(skimage.data, name)() for name in PHOTOS], 256)
    return photos, list(PHOTOS), "scikit-image photos (in the image tokenizer's training set; no data folder found)"


@dataclass
class DemoSeries:
    """A real series bundled with aeon: its values, time stamps, seasonal period and what its values measure."""

    values: np.ndarray
    times: pd.DatetimeIndex
    period: int
    unit: str


def _series() -> dict[str, DemoSeries]:
    """The demo's real series by name: monthly airline passengers and half-hourly solar generation in Great Britain."""
    from aeon.datasets import load_airline, load_solar

    airline, solar = load_airline(return_array=False), load_solar(return_array=False)
    return {
        "airline": DemoSeries(airline.to_numpy(dtype=float), airline.index.to_timestamp(), 12, "passengers (thousands)"),
        "solar": DemoSeries(solar.to_numpy(dtype=float), solar.index, 48, "solar generation (PV_Live estimate)"),
    }


def _baselines(context: np.ndarray, horizon: int, period: int) -> dict[str, np.ndarray]:
    from timeartist.evaluation.baselines import make_baseline

    return {name: make_baseline(name, context_length=None)(context[None], horizon, period)[0] for name in ("seasonal_naive", "auto_ets")}


def _generated(pipe: TimeArtistPipeline, series: np.ndarray, name: str, path: Path, quick: bool) -> tuple[str, str]:
    """Class-conditional draws (classes the generator knows) and, for a series-conditioned generator, draws for
    ``series``; returns the gallery entry."""
    config = pipe.generator.config
    classes = [c for c in GENERATED_CLASSES if c < config.condition_num_classes] or list(range(min(6, config.condition_num_classes)))
    classes = classes[: 3 if quick else None]
    images = [pipe.generate_images(classes, steps=8, guidance=3.0, seed=0)]
    table = imagenet_classes()
    table = table if config.condition_num_classes == len(table.names) else None
    titles = [table.names[c] if table else f"class {c}" for c in classes]
    caption = f"Token generator: images drawn for {len(classes)} ImageNet classes (8 steps, guidance 3)"
    if config.num_series_tokens > 0:
        draws = len(classes)
        images.append(pipe.series_to_image(np.tile(series, (draws, 1)), sample=True, seed=0))
        titles += [f"{name}, draw {i + 1}" for i in range(draws)]
        caption += f", and {draws} images drawn for one {name} series"
    viz.save_image_grid(np.concatenate(images), path, titles=titles, ncols=len(classes))
    return path.name, caption + "; the images are only as detailed as the image tokenizer can decode."


def run_demo(out_dir: str | Path, pipe: TimeArtistPipeline | None = None, quick: bool = False, data_root=None) -> Path:
    """Write the demo gallery into ``out_dir``; returns the path of its ``index.html``.

    quick: fewer examples and a smaller classification subset (for tests); data_root: where to look for held-out
    photos (``timeartist.data.resolve_data_root``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pipe = pipe or TimeArtistPipeline.from_pretrained()
    figures: list[tuple[str, str]] = []
    aligned = pipe.align_t2v is not None

    photos, names, source = _photos(data_root)
    photos, names = photos[: 2 if quick else None], names[: 2 if quick else None]
    round_trip = np.concatenate([to_image_batch(photos, pipe.visual.image_size).numpy(), pipe.reconstruct_images(photos.numpy())])
    viz.save_image_grid(round_trip, out / "round_trip.png", titles=names + [f"{n} (tokens)" for n in names], ncols=len(names))
    tokens = f"{pipe.visual.num_latent_tokens} tokens of {pipe.visual.codebook_size} codes"
    figures.append(("round_trip.png", f"Round trip through the image tokens ({tokens}): {source} over their reconstructions."))
    series_from_photos = pipe.image_to_series(photos, aligned=pipe.align_v2t is not None, length=256)
    viz.save_pairs_plot(photos, list(series_from_photos), out / "image2series.png", titles=names)
    figures.append(("image2series.png", f"Image -> series: {source} and the series their tokens decode to."))

    real = _series()
    length = min(pipe.temporal.seq_len, *(len(series.values) for series in real.values()))
    windows = np.stack([series.values[-length:] for series in real.values()])
    rows = [pipe.series_to_image(windows, aligned=False)]
    titles = [f"{name} (before alignment)" for name in real]
    if aligned:
        rows.append(pipe.series_to_image(windows, aligned=True))
        titles += [f"{name} (after alignment)" for name in real]
    viz.save_pairs_plot(np.concatenate(rows), [w for _ in rows for w in windows], out / "series2image.png", titles=titles)
    figures.append(("series2image.png", "Series -> image: real series and the images of their tokens, before and after alignment."))

    alphas = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    style = pipe.style_sweep(photos[:1], windows[1:2], alphas)
    viz.save_image_grid(style, out / "style_transfer.png", titles=[f"alpha={a:g}" for a in alphas], ncols=len(alphas))
    figures.append(("style_transfer.png", "Style transfer: a photo decoded from alpha * series codes + (1 - alpha) * image codes."))

    for name, series in real.items():
        period = series.period
        horizon = 2 * period
        context, truth = series.values[:-horizon], series.values[-horizon:]
        band, shown = None, ""
        if pipe.probabilistic:
            quantiles, point = pipe.forecast_quantiles(context, horizon, (0.1, 0.9), period=period)
            band = (quantiles[:, 0], quantiles[:, 1])
            shown = f"; the band is its 80% interval, which holds {np.mean(inside_interval(*band, truth)):.0%} of the truth"
        else:
            point = pipe.forecast(context, horizon, period=period)
        forecasts = {"timeartist (visionts)": point, **_baselines(context, horizon, period)}
        errors = ", ".join(f"{k} MAE {np.mean(np.abs(v - truth)):.3g}" for k, v in forecasts.items())
        viz.save_forecast_plot(context, forecasts, out / f"forecast_{name}.png", truth=truth, title=f"{name}: {errors}",
                               history_steps=6 * period, times=series.times, ylabel=series.unit, band=band)  # fmt: skip
        figures.append((f"forecast_{name}.png", f"Zero-shot forecast of {name} ({horizon} steps, period {period}) next to seasonal naive and AutoETS{shown}."))

    from aeon.datasets import load_gunpoint

    X_train, y_train = load_gunpoint(split="train")
    X_test, y_test = load_gunpoint(split="test")
    if quick:
        X_train, y_train, X_test, y_test = X_train[:10], y_train[:10], X_test[:10], y_test[:10]
    pipe.fit_classifier(X_train, y_train)
    accuracy = float(np.mean(pipe.classify(X_test) == y_test))
    classes, images = pipe.class_prototypes()
    viz.save_image_grid(images, out / "classification.png", titles=[f"class {c}" for c in classes])
    caption = (f"GunPoint classified by frozen EfficientNet-Lite0 features of the series drawn as images and a ridge head fitted on "
               f"TRAIN (route {pipe.classifier_route}; the most typical training case of each class shown): test accuracy "
               f"{accuracy:.3f} ({len(y_test)} series).")  # fmt: skip
    figures.append(("classification.png", caption))

    if pipe.generator is not None:
        figures.append(_generated(pipe, windows[1], list(real)[1], out / "generated.png", quick))

    index = out / "index.html"
    cards = "\n".join(f'<figure><img src="{f}" alt="{html.escape(c)}"><figcaption>{html.escape(c)}</figcaption></figure>' for f, c in figures)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>timeartist demo</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}figure{{margin:2em 0}}img{{max-width:100%}}</style></head>
<body><h1>timeartist demo</h1><p>Made in {time.perf_counter() - start:.0f} s on {torch.get_num_threads()} CPU threads.</p>
{cards}
</body></html>
"""
    atomic_write(index, lambda tmp: Path(tmp).write_text(page))
    logger.info("demo written to %s in %.0f s", out, time.perf_counter() - start)
    return index
