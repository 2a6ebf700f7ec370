"""Stage 1, warm-up: the series and image tokenizers trained jointly over one shared Multi-Head Quantizer.

Per micro-batch of series x (B, L) and images y (B, 3, S, S):

    L = L_t + L_v + quantizer_weight * (L_q^t + L_q^v)
    L_t = MSE(x_hat, x)
    L_v = MSE(y_hat, y) + perceptual_weight * LPIPS_phi(y_hat, y)     phi: EfficientNet-Lite0 stage feature maps

L_q is each tokenizer's quantizer loss (codebook + beta * commitment), plus, with ``losses.entropy_weight`` > 0,
that weight times ``code_entropy_loss`` of its tokens' soft code assignments (``losses.entropy_temperature``),
computed per tokenizer so that each modality is pushed to spread over the whole shared codebook on its own:
without it the image tokens of the default recipe collapsed onto 6 of 256 codes while the series used 70%. With ``heads > 1`` dead codes are
re-seeded after every optimizer step from the batch's latents (``losses.dead_code_threshold``, default 1.0
token per step for heads > 1, off for heads = 1).

Continuous warm-up (``losses.continuous_warmup_steps``): for the first steps the decoders read the
l2-normalised continuous latents instead of their codes, with no quantizer loss. Freshly initialised ViT
tokenizers give almost the same latents for every input (the shared latent tokens dominate), so from step 0
every input gets the same codes, the decoders see no difference between inputs and the run collapses onto a
few codes; measured on the tiny series tokenizer: MSE stays at 1.00 after 300 steps with codes from the start,
0.53 after 400 steps with 150 continuous steps first (no quantizer: 0.49). The tiny image tokenizer needs
longer: its latents start to depend on the image only after about 200 continuous steps.

The pretrained-visual route (``model.visual_init: <TiTok-B-64 folder>``, ``training.freeze_visual: true``) loads
the image tokenizer, freezes it with its codebook, and trains only the series tokenizer against that codebook:
L = L_t + quantizer_weight * L_q^t (only the commitment part moves anything). A run config without training
series (no ``series_datasets``, ``synthetic_series: 0``) trains only the image tokenizer and its codebook: the
default recipe trains images first, for hours, then the series tokenizer against the frozen result.

Every ``eval_every`` steps the held-out series windows (val split of the training files + unseen synthetic
series) and held-out images report reconstruction MSE and codebook usage (unique / K), entropy and perplexity,
overall and per head; a grid of image reconstructions goes to TensorBoard.

The export folder holds ``temporal/`` and ``visual/`` (``from_pretrained`` folders with the same codebook values)
and ``timeartist_index.json`` (a ``TimeArtistPipeline`` folder); ``load_tokenizer_pair`` reloads them with one shared quantizer.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset

from timeartist.data.corpus import CorpusWindows, read_corpus
from timeartist.data import (
    ImageFolderDataset,
    MultiDomainSelfSupervisionDataset,
    SyntheticConfig,
    SyntheticSeriesGenerator,
    resolve_data_root,
)
from timeartist import __version__
from timeartist.hub import atomic_write
from timeartist.models import TimeArtist, TimeArtistConfig, VisionModel, VisionModelConfig
from timeartist.modules.quantizer import codebook_stats, share_quantizer
from timeartist.training.config import load_run_config, record_run, trainer_config
from timeartist.training.engine import Trainer, TrainingTask
from timeartist.training.losses import PerceptualLoss, code_entropy_loss

logger = logging.getLogger(__name__)

INDEX_FILE = "timeartist_index.json"  # the layout TimeArtistPipeline.from_pretrained reads
DEFAULT_DEAD_CODE_THRESHOLD = 1.0
EVAL_CHUNK = 64


# ----------------------------------------------------------------------------------------------- data
class SyntheticSeries(Dataset):
    """``count`` synthetic series of ``length`` as a map-style dataset: item i is sample i of a seeded generator."""

    def __init__(self, count: int, length: int, seed: int):
        self.count = count
        self.generator = SyntheticSeriesGenerator(SyntheticConfig(length=length), seed=seed)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Tensor:
        return torch.from_numpy(self.generator.sample(int(index)))


class ZipDataset(Dataset):
    """Named datasets read side by side: item i is ``{name: dataset[i % len(dataset)]}``; the length is the
    longest one's. Used to draw unpaired series and images in one batch (the pairing carries no meaning)."""

    def __init__(self, **parts: Dataset):
        empty = [name for name, ds in parts.items() if len(ds) == 0]
        if not parts or empty:
            raise ValueError(f"expected non-empty datasets, got {sorted(parts)} with empty {empty}")
        self.parts = parts

    def __len__(self) -> int:
        return max(len(ds) for ds in self.parts.values())

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {name: ds[index % len(ds)] for name, ds in self.parts.items()}


def data_path(path: str, data_root: str | None) -> Path:
    """An absolute path as is; a relative one under the data root."""
    return Path(path) if Path(path).is_absolute() else resolve_data_root(data_root) / path


def series_data(cfg: DictConfig, heldout: bool = False) -> Dataset:
    """Training (train split + synthetic) or held-out (val split + synthetic with another seed) series windows
    of ``dataset.preprocessing.seq_len``, from ``dataset.params``: ``series_datasets`` (LTSF names / CSVs),
    ``corpus_folders`` (``timeartist.data.corpus`` folders: the first 80% of each series trains, the rest is
    held out), ``synthetic_series`` / ``heldout_synthetic_series`` (counts), ``heldout_series_datasets``,
    ``data_root``."""
    params, seq_len = cfg.dataset.params, int(cfg.dataset.preprocessing.seq_len)
    names = params.get("heldout_series_datasets" if heldout else "series_datasets") or []
    count = int(params.get("heldout_synthetic_series" if heldout else "synthetic_series", 0) or 0)
    parts: list[Dataset] = []
    if names:
        split = "val" if heldout else "train"  # held-out windows never come from a test range
        parts.append(MultiDomainSelfSupervisionDataset(list(names), seq_len, (split,), params.get("data_root")))
    if params.get("corpus_folders"):
        corpus = read_corpus(params.get("data_root"), tuple(params.corpus_folders))
        parts.append(CorpusWindows(corpus, seq_len, "heldout" if heldout else "train"))
    if count:
        seed = int(params.get("synthetic_seed", 0)) + (1_000_003 if heldout else 0)  # disjoint held-out samples
        parts.append(SyntheticSeries(count, seq_len, seed))
    if not parts:
        what = "held-out" if heldout else "training"
        raise ValueError(f"no {what} series configured: set dataset.params series datasets or synthetic counts")
    return ConcatDataset(parts)


def has_series(cfg: DictConfig) -> bool:
    """Whether the run config names any training series (datasets, corpus folders or a synthetic count)."""
    params = cfg.dataset.params
    named = params.get("series_datasets") or params.get("corpus_folders")
    return bool(named) or int(params.get("synthetic_series", 0) or 0) > 0


def image_data(cfg: DictConfig, heldout: bool = False) -> Dataset | None:
    """Images (3, S, S) in [0, 1] from ``dataset.params.image_dirs`` (training) or ``heldout_image_dirs`` (centre
    crop); None when none are configured.

    Each entry is a folder (relative to the data root) or ``{path: folder, split: train | heldout | all}``, which
    keeps only that split of the folder (``timeartist.data.images.is_heldout``). Training images follow
    ``dataset.preprocessing``: ``random_crop``, ``random_flip``, ``resize_shorter_edge``, and ``crop_scale: [lo,
    hi]`` (random squares over scales) and ``color_jitter``."""
    params, prep = cfg.dataset.params, cfg.dataset.preprocessing
    entries = params.get("heldout_image_dirs" if heldout else "image_dirs") or []
    if not entries:
        return None
    size = int(prep.crop_size)
    resize = prep.get("resize_shorter_edge")
    crop = "random" if prep.get("random_crop", True) and not heldout else "center"
    flip = bool(prep.get("random_flip", True)) and not heldout
    scale = None if heldout or prep.get("crop_scale") is None else tuple(prep.crop_scale)
    jitter = 0.0 if heldout else float(prep.get("color_jitter", 0.0))
    parts = []
    for entry in entries:
        path, split = (entry, "all") if isinstance(entry, str) else (entry["path"], entry.get("split", "all"))
        folder = data_path(path, params.get("data_root"))
        parts.append(ImageFolderDataset(folder, size, resize, crop, flip, split=split, scale=scale, jitter=jitter))
    return ConcatDataset(parts)


def spread_items(dataset: Dataset | None, limit: int) -> Tensor | None:
    """At most ``limit`` items at evenly spaced indices, stacked (a fixed held-out set that samples every part
    of a concatenated dataset, not just the first)."""
    if dataset is None:
        return None
    count = min(limit, len(dataset))
    return torch.stack([dataset[int(i)] for i in np.linspace(0, len(dataset) - 1, count).round()])


# --------------------------------------------------------------------------------------------- models
def build_tokenizers(cfg: DictConfig) -> tuple[TimeArtist, VisionModel]:
    """The two tokenizers of a run config over one quantizer: the image tokenizer from ``model.visual_init``
    (a ``from_pretrained`` folder, e.g. TiTok-B-64's) or built from the config, the series tokenizer from
    ``model.temporal_init`` (a folder over the same codebook) or built from the config, around the image
    tokenizer's quantizer."""
    visual_init, temporal_init = cfg.model.get("visual_init"), cfg.model.get("temporal_init")
    visual = VisionModel.from_pretrained(visual_init) if visual_init else VisionModel(VisionModelConfig.from_seed(cfg))
    if not temporal_init:
        return TimeArtist(TimeArtistConfig.from_seed(cfg), quantizer=visual.quantize), visual
    temporal = TimeArtist.from_pretrained(temporal_init)
    mismatch = ValueError(f"model.temporal_init {temporal_init} holds another codebook than the image tokenizer's; expected the shared one")
    share_quantizer(visual, temporal, mismatch)
    return temporal, visual


def save_tokenizer_pair(temporal: TimeArtist, visual: VisionModel, path: Path, extra: dict | None = None) -> Path:
    """Write ``temporal/``, ``visual/`` and the index file naming each component's class."""
    temporal.save_pretrained(path / "temporal")
    visual.save_pretrained(path / "visual")
    write_index(path, {"temporal": "TimeArtist", "visual": "VisionModel", **(extra or {})})
    return path


def write_index(path: Path, components: dict[str, str]) -> None:
    """The pipeline index: component folder name -> class name."""
    index = {"_class_name": "TimeArtistPipeline", "_timeartist_version": __version__, "components": components}
    text = json.dumps(index, indent=2) + "\n"
    atomic_write(path / INDEX_FILE, lambda tmp: Path(tmp).write_text(text))


def require_shared_quantizer(temporal: TimeArtist, visual: VisionModel) -> None:
    if temporal.quantize is not visual.quantize:
        raise ValueError("the series and image tokenizers must share one quantizer instance")


def load_tokenizer_pair(path: str | os.PathLike, map_location: str = "cpu") -> tuple[TimeArtist, VisionModel]:
    """Reload an exported pair with one shared quantizer (the copies saved in both folders must agree)."""
    path = Path(path)
    visual = VisionModel.from_pretrained(path / "visual", map_location)
    temporal = TimeArtist.from_pretrained(path / "temporal", map_location)
    share_quantizer(visual, temporal, ValueError(f"{path}: temporal/ and visual/ hold different codebooks; expected one shared code space"))
    return temporal, visual


# ----------------------------------------------------------------------------------------------- task
def token_health(prefix: str, ids: Tensor, quantizer) -> dict[str, float]:
    """Codebook usage / entropy / perplexity, overall and per head, of held-out token ids."""
    heads = quantizer.head_codebook_sizes if quantizer.heads > 1 else None
    stats = codebook_stats(ids, quantizer.codebook_size, heads)
    return {f"{prefix}_{k}": v for k, v in stats.items()}


def image_grid(originals: Tensor, reconstructions: Tensor) -> Tensor:
    """(M, 3, S, S) pairs -> one (3, 2S, M*S) picture: originals on top, reconstructions below."""
    both = torch.stack([originals, reconstructions.clamp(0, 1)])
    return rearrange(both, "r m c h w -> c (r h) (m w)")


class WarmupTask(TrainingTask):
    """Stage 1. Batches are ``{"series": (B, L), "images": (B, 3, S, S)}``; ``images`` is absent (and the image
    tokenizer frozen) in the pretrained-visual route.

    Args:
        temporal, visual: tokenizers sharing one quantizer.
        freeze_visual: train only the series side against the (frozen) image tokenizer and codebook.
        freeze_codebook: keep the shared codebook as loaded (e.g. to go on training the image tokenizer around a
            codebook a series tokenizer was already trained against).
        freeze_encoder: also keep the encoders (and their latent tokens) as loaded and train only the decoders:
            every image and series keeps its token ids, so stages trained on them (aligners, generator) stay valid.
        quantizer_weight: weight of the quantizer losses.
        perceptual: optional ``PerceptualLoss`` for the images, with ``perceptual_weight``.
        dead_code_threshold: re-seed codes used less than this many times per step (EMA); 0 is off.
        continuous_warmup_steps: decode continuous latents (no quantizer loss) for this many first steps.
        entropy_weight, entropy_temperature: code-entropy regulariser of each tokenizer's tokens (0: off).
        heldout_series (M, L), heldout_images (M', 3, S, S) or None: the evaluation set.
    """

    def __init__(
        self,
        temporal: TimeArtist,
        visual: VisionModel,
        freeze_visual: bool = False,
        freeze_codebook: bool = False,
        freeze_encoder: bool = False,
        quantizer_weight: float = 1.0,
        perceptual: PerceptualLoss | None = None,
        perceptual_weight: float = 0.0,
        dead_code_threshold: float = 0.0,
        continuous_warmup_steps: int = 0,
        entropy_weight: float = 0.0,
        entropy_temperature: float = 0.05,
        heldout_series: Tensor | None = None,
        heldout_images: Tensor | None = None,
    ):
        super().__init__()
        require_shared_quantizer(temporal, visual)
        if continuous_warmup_steps < 0:
            raise ValueError(f"continuous_warmup_steps must be >= 0, got {continuous_warmup_steps}")
        if entropy_weight < 0 or entropy_temperature <= 0:
            raise ValueError(f"expected entropy_weight >= 0 and entropy_temperature > 0, got {entropy_weight} and {entropy_temperature}")
        self.entropy_weight, self.entropy_temperature = entropy_weight, entropy_temperature
        self.continuous_warmup_steps = continuous_warmup_steps
        self.find_unused_parameters = continuous_warmup_steps > 0  # the codebook gets no gradient until then
        freeze_codebook = freeze_codebook or freeze_encoder
        if (freeze_visual or freeze_codebook) and dead_code_threshold > 0:
            raise ValueError("dead-code re-seeding would change the frozen codebook; set dead_code_threshold to 0")
        self.temporal, self.visual = temporal, visual
        self.freeze_visual = freeze_visual
        if freeze_visual:
            visual.requires_grad_(False)  # includes the shared codebook
        if freeze_codebook:
            visual.quantize.requires_grad_(False)
        if freeze_encoder:
            for model in (temporal, visual):
                model.encoder.requires_grad_(False)
                model.latent_tokens.requires_grad_(False)
        self.quantizer_weight, self.perceptual_weight = quantizer_weight, perceptual_weight
        self.perceptual = perceptual
        # runtime switch of the shared quantizer; the model configs stay as they are
        temporal.quantize.dead_code_threshold = dead_code_threshold
        self.heldout_series, self.heldout_images = heldout_series, heldout_images
        self._latents: Tensor | None = None
        self._loaded_usage: dict | None = None
        self.register_load_state_dict_post_hook(WarmupTask._restore_usage)

    # The quantizer keeps its usage statistics out of its state dict and forgets them on load. Checkpoints of
    # this task carry them, so a resumed run re-seeds dead codes exactly as the uninterrupted run would. They are
    # put back by a post hook of the task, which runs after the quantizer's own reset.
    def get_extra_state(self) -> dict:
        quantizer = self.temporal.quantize
        return {"code_usage": quantizer.code_usage.clone(), "usage_calls": quantizer._usage_calls}

    def set_extra_state(self, state: dict) -> None:
        self._loaded_usage = state

    @staticmethod
    def _restore_usage(task: "WarmupTask", incompatible_keys=None) -> None:
        if task._loaded_usage is not None:
            quantizer = task.temporal.quantize
            quantizer.code_usage.copy_(task._loaded_usage["code_usage"])
            quantizer._usage_calls = int(task._loaded_usage["usage_calls"])
            task._loaded_usage = None

    def reconstruct(self, model: TimeArtist | VisionModel, x: Tensor) -> tuple[Tensor, Tensor, dict]:
        """-> (reconstruction, quantizer loss to add, result dict); decoded from the continuous latents during
        the continuous warm-up, from the codes afterwards."""
        q, result = model.quantize_input(x)
        if self.step < self.continuous_warmup_steps:
            z = result["latents"]
            z = F.normalize(z, dim=1) if model.quantize.use_l2_norm else z
            return model.decode(z), z.new_zeros(()), result
        quantizer_loss = result["quantizer_loss"]
        if self.entropy_weight > 0:
            assignments = model.quantize.soft_assignments(result["latents"], self.entropy_temperature)
            quantizer_loss = quantizer_loss + self.entropy_weight * code_entropy_loss(assignments)
        return model.decode(q), quantizer_loss, result

    def training_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        loss, logs, latents = torch.zeros(()), {}, []
        if "series" in batch:
            x = batch["series"]
            x_hat, quantizer_t, result_t = self.reconstruct(self.temporal, x)
            loss_t = F.mse_loss(x_hat, x)
            loss = loss_t + self.quantizer_weight * quantizer_t
            logs.update(loss_t=loss_t.item(), quantizer_t=quantizer_t.item())
            latents.append(result_t["latents"])
        if not self.freeze_visual:
            y = batch["images"]
            y_hat, quantizer_v, result_v = self.reconstruct(self.visual, y)
            loss_v = F.mse_loss(y_hat, y)
            logs["pixel_mse"] = loss_v.item()
            if self.perceptual is not None and self.perceptual_weight > 0:
                perceptual = self.perceptual(y_hat, y)
                loss_v = loss_v + self.perceptual_weight * perceptual
                logs["perceptual"] = perceptual.item()
            loss = loss + loss_v + self.quantizer_weight * quantizer_v
            logs.update(loss_v=loss_v.item(), quantizer_v=quantizer_v.item())
            latents.append(result_v["latents"])
        self._latents = torch.cat(latents).detach()
        return loss, logs

    def on_step_end(self, step: int) -> dict[str, float]:
        quantizer = self.temporal.quantize
        if quantizer.dead_code_threshold <= 0 or self._latents is None:
            return {}
        return {"reseeded_codes": float(quantizer.reseed_dead_codes(self._latents))}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | Tensor]:
        results: dict[str, float | Tensor] = {}
        device = next(self.parameters()).device
        for name, model, data in (("series", self.temporal, self.heldout_series), ("images", self.visual, self.heldout_images)):
            if data is None:
                continue
            ids, errors, recons = [], [], []
            for chunk in data.split(EVAL_CHUNK):
                chunk = chunk.to(device)
                recon, result = model(chunk)
                ids.append(result["min_encoding_indices"].cpu())
                errors.append(F.mse_loss(recon, chunk, reduction="sum").item())
                recons.append(recon.cpu())
            results[f"{name}_mse"] = sum(errors) / data.numel()
            if name == "images":  # mean per-image PSNR of the clamped reconstructions (pixels in [0, 1])
                per_image = (torch.cat(recons).clamp(0, 1) - data).pow(2).flatten(1).mean(1)
                results["images_psnr"] = float((-10 * per_image.clamp_min(1e-10).log10()).mean())
            results.update(token_health(name, torch.cat(ids), self.temporal.quantize))
            if name == "images":
                shown = min(8, len(data))
                results["reconstructions"] = image_grid(data[:shown], torch.cat(recons)[:shown])
        return results

    def save_pretrained(self, path: str | Path) -> Path:
        return save_tokenizer_pair(self.temporal, self.visual, Path(path))


# ------------------------------------------------------------------------------------------------ run
def build_warmup_task(cfg: DictConfig) -> tuple[WarmupTask, Dataset]:
    """The warm-up task and its training dataset from a run config."""
    losses, training = cfg.get("losses") or {}, cfg.training
    freeze_visual = bool(training.get("freeze_visual", False))
    freeze_codebook = bool(training.get("freeze_codebook", False))
    freeze_encoder = bool(training.get("freeze_encoder", False))
    temporal, visual = build_tokenizers(cfg)
    heads = temporal.quantize.heads
    frozen_codes = freeze_visual or freeze_codebook or freeze_encoder
    default_threshold = DEFAULT_DEAD_CODE_THRESHOLD if heads > 1 and not frozen_codes else 0.0
    threshold = float(losses.get("dead_code_threshold", default_threshold))
    perceptual_weight = float(losses.get("perceptual_weight", 0.0))
    perceptual = None
    if perceptual_weight > 0 and not freeze_visual:
        from timeartist.models.efficientnet import load_efficientnet_lite0  # optional: needs the weights package

        network = load_efficientnet_lite0(losses.get("perceptual_weights"))
        perceptual = PerceptualLoss(network, int(losses.get("perceptual_stages", 4)))
    eval_size = int(cfg.dataset.params.get("heldout_size", 256))
    heldout_images = image_data(cfg, heldout=True)
    with_series = has_series(cfg)
    if not with_series and freeze_visual:
        raise ValueError("training.freeze_visual trains only the series tokenizer: configure training series")
    task = WarmupTask(
        temporal,
        visual,
        freeze_visual=freeze_visual,
        freeze_codebook=freeze_codebook,
        freeze_encoder=freeze_encoder,
        quantizer_weight=float(losses.get("quantizer_weight", 1.0)),
        perceptual=perceptual,
        perceptual_weight=perceptual_weight,
        dead_code_threshold=threshold,
        continuous_warmup_steps=int(losses.get("continuous_warmup_steps", 0)),
        entropy_weight=float(losses.get("entropy_weight", 0.0)),
        entropy_temperature=float(losses.get("entropy_temperature", 0.05)),
        heldout_series=spread_items(series_data(cfg, heldout=True), eval_size) if with_series else None,
        heldout_images=spread_items(heldout_images, eval_size),
    )
    parts = {"series": series_data(cfg)} if with_series else {}
    if not freeze_visual:
        images = image_data(cfg)
        if images is None:
            raise ValueError("the warm-up trains the image tokenizer: set dataset.params.image_dirs (or training.freeze_visual=true)")
        parts["images"] = images
    return task, ZipDataset(**parts)


def export_task(cfg: DictConfig) -> WarmupTask:
    """The task with the run config's tokenizers and no data: what ``timeartist export --checkpoint`` loads a
    checkpoint into before its ``save_pretrained``."""
    return WarmupTask(*build_tokenizers(cfg))


def run_warmup(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Train stage 1 from a run config (YAML path or DictConfig) with ``key=value`` overrides; returns the
    export folder (``temporal/``, ``visual/``, ``timeartist_index.json``). Resumes a run in the same output_dir."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    record_run(cfg, "warmup")
    torch.manual_seed(settings.seed)  # model initialisation
    task, data = build_warmup_task(cfg)
    return Trainer(task, settings, data).fit()
