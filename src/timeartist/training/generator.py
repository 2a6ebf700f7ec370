"""Train ``TokenGenerator`` on visual token sequences: masked-token prediction with condition dropout.

Data: a token bank, i.e. image token ids (M, N) with class ids (M,) and optionally series token ids (M, S).
It is either

- encoded here from the image folders ``dataset.params.image_dirs`` (relative paths under the data root, random
  crop / flip as ``dataset.preprocessing``) with the image tokenizer ``experiment.tokenizer_checkpoint`` (a
  ``VisionModel`` folder, or a warm-up export holding ``visual/``). Each image is encoded ``dataset.params.views``
  times under independent augmentations. Class ids come from a ``labels.csv`` (``filename, class_index``) in the
  folder, else from ImageNet WordNet-id / class-name subfolders, else the null class (unconditional data).
  The bank is cached as ``<output_dir>/token_bank.safetensors`` so a resumed run trains on the same data.
- or read from ``dataset.params.token_bank`` (a safetensors file with ``image_tokens``, ``class_ids`` and, for
  series-conditioned generation, ``series_tokens``).

Series-conditioned generators (``model.generator.num_series_tokens`` > 0) train on series / image pseudo-pairs,
as the alignment stage builds them (no paired data exists): the series windows of ``dataset.params``
(``series_datasets``, ``synthetic_series``; train splits only) are encoded with the series tokenizer of the
warm-up export ``experiment.tokenizer_checkpoint``, and each chunk of series is matched to a random chunk of the
encoded images by balanced optimal transport on the position-wise code distance (``training.losses``), so that
every series gets an image whose codes lie close to its own in the shared codebook.

Step (``GeneratorTask.training_step``): mask each sequence at a random ratio of the mask schedule, replace all
conditions of a sequence by the null ones with probability ``model.generator.class_label_dropout`` (so the
unconditional model of classifier-free guidance is trained), and score cross-entropy with label smoothing on the
masked positions (unmasked ones weighted ``losses.loss_weight_unmasked_token``, 0 by default; TiTok uses 0.1).
The loop, EMA, checkpoints and resume are the shared ``Trainer``'s.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from accelerate import PartialState
from einops import rearrange
from omegaconf import DictConfig
from safetensors.torch import load_file, save_file
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from timeartist.data import ImageFolderDataset
from timeartist.hub import atomic_write
from timeartist.models import TimeArtist, VisionModel
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.modules.masking import random_token_mask
from timeartist.training.config import load_run_config, record_run, trainer_config
from timeartist.training.engine import Trainer, TrainingTask
from timeartist.training.losses import code_distance, match_pairs
from timeartist.training.warmup import image_data, load_tokenizer_pair, series_data

logger = logging.getLogger(__name__)

BANK_FILE = "token_bank.safetensors"
LABELS_FILE = "labels.csv"


# ------------------------------------------------------------------------------------------ token bank
class TokenBank(Dataset):
    """Token sequences for generator training; item i is a dict of ``image_tokens`` (N,), ``class_ids`` ()
    and, when present, ``series_tokens`` (S,). All long tensors."""

    def __init__(self, image_tokens: Tensor, class_ids: Tensor, series_tokens: Tensor | None = None):
        if image_tokens.ndim != 2 or class_ids.shape != image_tokens.shape[:1] or image_tokens.shape[0] == 0:
            raise ValueError(
                f"expected image_tokens (M, N) and class_ids (M,) with M >= 1, got {tuple(image_tokens.shape)} and "
                f"{tuple(class_ids.shape)}"
            )
        if series_tokens is not None and (series_tokens.ndim != 2 or series_tokens.shape[0] != image_tokens.shape[0]):
            raise ValueError(f"expected series_tokens (M, S) with M={image_tokens.shape[0]}, got {tuple(series_tokens.shape)}")
        self.image_tokens, self.class_ids = image_tokens.long(), class_ids.long()
        self.series_tokens = None if series_tokens is None else series_tokens.long()

    def __len__(self) -> int:
        return self.image_tokens.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        item = {"image_tokens": self.image_tokens[index], "class_ids": self.class_ids[index]}
        if self.series_tokens is not None:
            item["series_tokens"] = self.series_tokens[index]
        return item

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bank as a safetensors file (atomically) that ``load`` reads back."""
        tensors = {"image_tokens": self.image_tokens, "class_ids": self.class_ids}
        if self.series_tokens is not None:
            tensors["series_tokens"] = self.series_tokens
        tensors = {k: v.contiguous().cpu() for k, v in tensors.items()}
        atomic_write(path, lambda tmp: save_file(tensors, tmp))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TokenBank":
        """A bank file: ``image_tokens`` (M, N) required, ``class_ids`` (M,) and ``series_tokens`` (M, S) optional
        (missing class ids mean the null class, filled in by ``check_fits``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"expected a token bank file {path} (safetensors with image_tokens, class_ids)")
        tensors = load_file(path)
        if "image_tokens" not in tensors:
            raise ValueError(f"{path} has no 'image_tokens' tensor; it holds {sorted(tensors)}")
        tokens = tensors["image_tokens"]
        classes = tensors.get("class_ids", torch.full(tokens.shape[:1], -1, dtype=torch.long))
        return cls(tokens, classes, tensors.get("series_tokens"))

    def check_fits(self, config: TokenGeneratorConfig) -> None:
        """ValueError unless the ids fit the generator's vocabulary, sequence lengths and classes; class id -1
        (unlabelled) becomes the null class."""
        n, k = config.image_seq_len, config.codebook_size
        if self.image_tokens.shape[1] != n or self.image_tokens.min() < 0 or self.image_tokens.max() >= k:
            raise ValueError(
                f"bank image_tokens {tuple(self.image_tokens.shape)} with ids in [{int(self.image_tokens.min())}, "
                f"{int(self.image_tokens.max())}] do not fit a generator of {n} tokens over {k} codes"
            )
        self.class_ids = torch.where(self.class_ids < 0, config.condition_num_classes, self.class_ids)
        if self.class_ids.max() > config.condition_num_classes:
            raise ValueError(f"bank class ids reach {int(self.class_ids.max())}, the generator has {config.condition_num_classes} classes")
        s = config.num_series_tokens
        if (self.series_tokens is None) != (s == 0):
            raise ValueError(
                f"the generator has num_series_tokens={s} but the bank {'has no' if s else 'has'} series_tokens; "
                "series-conditioned runs pair series windows with the images when they build the bank (use a fresh "
                "output_dir) or read them from a dataset.params.token_bank with series_tokens"
            )
        if self.series_tokens is not None and (
            self.series_tokens.shape[1] != s or self.series_tokens.min() < 0 or self.series_tokens.max() >= k
        ):
            raise ValueError(f"bank series_tokens {tuple(self.series_tokens.shape)} do not fit {s} series tokens over {k} codes")


def folder_labels(folder: ImageFolderDataset) -> Tensor:
    """Class id per file of ``folder`` (M,): from its ``labels.csv`` (``filename, class_index``), else from
    ImageNet subfolder names (WordNet id or class name); -1 where neither names a class."""
    table = folder.root / LABELS_FILE
    if table.is_file():
        with table.open(newline="") as f:
            by_name = {row["filename"]: int(row["class_index"]) for row in csv.DictReader(f)}
        return torch.tensor([by_name.get(p.name, -1) for p in folder.files], dtype=torch.long)
    classes, labels = imagenet_classes(), []
    for path in folder.files:
        parent = path.parent.relative_to(folder.root).parts
        try:
            labels.append(classes.index(parent[0]) if parent else -1)
        except ValueError:
            labels.append(-1)
    return torch.tensor(labels, dtype=torch.long)


@torch.no_grad()
def encode_dataset(
    tokenizer: VisionModel | TimeArtist, items: Dataset, views: int = 1, batch_size: int = 32, num_workers: int = 0
) -> Tensor:
    """Token ids (views * M, N) of a dataset of tokenizer inputs (images (3, S, S) in [0, 1] or series (L,)),
    encoded ``views`` times in order, view by view, so row ``v * M + i`` is view v of item i. Augmentations
    draw from the global torch RNG (through the loader's worker seeds when ``num_workers`` > 0)."""
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    tokenizer.eval()
    device = next(tokenizer.parameters()).device
    loader = DataLoader(items, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    ids = []
    bar = tqdm(total=views * len(loader), desc=f"encode with {type(tokenizer).__name__}", disable=None)
    for _ in range(views):
        for batch in loader:
            ids.append(tokenizer.encode(batch.to(device))[1][:, 0].cpu())
            bar.update(1)
    bar.close()
    return torch.cat(ids)


@torch.no_grad()
def pair_series_with_images(
    series_ids: Tensor, images: TokenBank, quantizer, chunk: int = 256, generator: torch.Generator | None = None
) -> TokenBank:
    """Pseudo-pairs: each series (ids (M, S), S = N) gets one image of ``images``, by balanced optimal transport
    between a chunk of series and a random chunk of images on their position-wise code distance. Returns the
    bank of (image tokens, image class, series tokens) with one row per series."""
    if series_ids.ndim != 2 or series_ids.shape[1] != images.image_tokens.shape[1]:
        raise ValueError(
            f"pairing needs series and image token sequences of one length, got {tuple(series_ids.shape)} and "
            f"{tuple(images.image_tokens.shape)}"
        )
    chunk = min(chunk, len(images))
    device = next(quantizer.parameters()).device
    codes = lambda ids: rearrange(quantizer.get_codebook_entry(ids.to(device)), "b n d -> b d 1 n")  # noqa: E731
    matched = []
    for start in tqdm(range(0, len(series_ids), chunk), desc="pair series with images", disable=None):
        rows = series_ids[start : start + chunk]
        candidates = torch.randperm(len(images), generator=generator)[:chunk]
        to_image, _ = match_pairs(code_distance(codes(rows), codes(images.image_tokens[candidates])))
        matched.append(candidates[to_image.cpu()])
    matched = torch.cat(matched)
    return TokenBank(images.image_tokens[matched], images.class_ids[matched], series_ids)


def load_tokenizers(path: str | os.PathLike, with_series: bool) -> tuple[TimeArtist | None, VisionModel]:
    """(series tokenizer or None, image tokenizer) of a ``VisionModel`` folder or a warm-up export (``visual/``,
    plus ``temporal/`` for series-conditioned training)."""
    path = Path(path)
    if with_series:
        if not (path / "temporal").is_dir():
            raise ValueError(
                f"series-conditioned training pairs series with images in the shared code space, so "
                f"experiment.tokenizer_checkpoint must be a warm-up export with temporal/ and visual/, got {path}"
            )
        return load_tokenizer_pair(path)
    return None, VisionModel.from_pretrained(path / "visual" if (path / "visual").is_dir() else path)


def build_token_bank(cfg: DictConfig, with_series: bool = False) -> TokenBank:
    """The training bank of a run config: ``dataset.params.token_bank`` if set, else encoded (and, with
    ``with_series``, paired with series) by the tokenizers of ``experiment.tokenizer_checkpoint`` on the run's
    device. Cached in the output folder: the main process encodes, the others then read the cache."""
    params = cfg.dataset.params
    if params.get("token_bank"):
        return TokenBank.load(params.token_bank)
    cache = Path(cfg.experiment.output_dir) / BANK_FILE
    state = PartialState()
    with state.main_process_first():
        if cache.is_file():
            logger.info("reusing the token bank %s", cache)
            return TokenBank.load(cache)
        checkpoint = cfg.experiment.get("tokenizer_checkpoint")
        if not checkpoint:
            raise ValueError("set experiment.tokenizer_checkpoint (a VisionModel folder) or dataset.params.token_bank")
        images = image_data(cfg)
        if images is None:
            raise ValueError("set dataset.params.image_dirs (image folders) or dataset.params.token_bank")
        temporal, visual = load_tokenizers(checkpoint, with_series)
        if visual.image_size != int(cfg.dataset.preprocessing.crop_size):
            raise ValueError(
                f"dataset.preprocessing.crop_size={cfg.dataset.preprocessing.crop_size} but the tokenizer takes "
                f"{visual.image_size}x{visual.image_size} images"
            )
        views, batch_size = int(params.get("views", 1)), int(params.get("encode_batch_size", 32))
        workers = int(cfg.training.get("num_workers", 0))  # image decoding dominates encoding at ImageNet scale
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(cfg.training.get("seed", 42)))  # augmentations of the views, pairing draws
            tokens = encode_dataset(visual.to(state.device), images, views, batch_size, workers)
            labels = torch.cat([folder_labels(folder) for folder in images.datasets]).repeat(views)
            bank = TokenBank(tokens, labels)
            logger.info("encoded %d images x %d views (%d labelled)", len(images), views, int((labels >= 0).sum()))
            if temporal is not None:
                series_ids = encode_dataset(temporal.to(state.device), series_data(cfg), 1, batch_size, workers)
                bank = pair_series_with_images(series_ids, bank, visual.quantize)
                logger.info("paired %d series windows with the encoded images", len(series_ids))
        bank.save(cache)
        return bank


# ------------------------------------------------------------------------------------------------ task
def masked_token_loss(
    logits: Tensor, targets: Tensor, mask: Tensor, label_smoothing: float = 0.1, unmasked_weight: float = 0.0
) -> Tensor:
    """Cross-entropy of logits (B, N, K) against targets (B, N), weighted 1 on masked positions (mask True) and
    ``unmasked_weight`` elsewhere, averaged over the weights."""
    loss = F.cross_entropy(logits.float().transpose(1, 2), targets, label_smoothing=label_smoothing, reduction="none")
    weights = torch.where(mask, 1.0, unmasked_weight).to(loss.dtype)
    return (loss * weights).sum() / weights.sum().clamp_min(1e-8)


class GeneratorTask(TrainingTask):
    """Masked-token training of a ``TokenGenerator`` (batches of ``TokenBank`` items)."""

    def __init__(
        self,
        generator: TokenGenerator,
        condition_dropout: float = 0.1,
        label_smoothing: float = 0.1,
        unmasked_weight: float = 0.0,
    ):
        super().__init__()
        if not 0.0 <= condition_dropout <= 1.0 or not 0.0 <= label_smoothing < 1.0 or unmasked_weight < 0:
            raise ValueError(
                f"expected condition_dropout in [0, 1], label_smoothing in [0, 1) and unmasked_weight >= 0, got "
                f"{condition_dropout}, {label_smoothing}, {unmasked_weight}"
            )
        self.generator = generator
        self.condition_dropout, self.label_smoothing, self.unmasked_weight = condition_dropout, label_smoothing, unmasked_weight

    def training_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        gen = self.generator
        targets, class_ids = batch["image_tokens"], batch["class_ids"]
        series = batch.get("series_tokens")
        batch_size, n = targets.shape
        mask = random_token_mask(batch_size, n, gen.config.mask_schedule_strategy, device=targets.device)
        dropped = torch.rand(batch_size, device=targets.device) < self.condition_dropout
        class_ids = class_ids.masked_fill(dropped, gen.null_class)
        if series is not None:
            series = series.masked_fill(dropped[:, None], gen.null_series_id)
        logits = gen(targets.masked_fill(mask, gen.mask_token_id), class_ids, series)
        loss = masked_token_loss(logits, targets, mask, self.label_smoothing, self.unmasked_weight)
        accuracy = (logits.argmax(dim=-1) == targets)[mask].float().mean()
        return loss, {"masked_accuracy": float(accuracy), "mask_ratio": float(mask.float().mean())}

    def save_pretrained(self, path: str | Path) -> Path:
        return self.generator.save_pretrained(path)


def _initial_generator(config: TokenGeneratorConfig, init: str | None) -> TokenGenerator:
    """A fresh generator, or the ``TokenGenerator`` folder ``init`` (``model.generator_init``: go on training
    exported weights with a fresh optimizer), which must have the run config's architecture."""
    if not init:
        return TokenGenerator(config)
    generator = TokenGenerator.from_pretrained(init)
    if generator.config != config:
        raise ValueError(f"model.generator_init {init} has config {generator.config}, but the run config builds {config}")
    return generator


def export_task(cfg: DictConfig) -> GeneratorTask:
    """The task with the run config's generator and no data: what ``timeartist export --checkpoint`` loads a
    checkpoint into before its ``save_pretrained``."""
    return GeneratorTask(TokenGenerator(TokenGeneratorConfig.from_seed(cfg)))


def run_generator(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Train a ``TokenGenerator`` from a run config (YAML path or DictConfig) with ``key=value`` overrides;
    returns the export folder (a ``TokenGenerator.from_pretrained`` folder). Resumes a run in the same output_dir;
    ``model.generator_init`` starts from exported weights instead of a random initialisation."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    record_run(cfg, "generator")
    model_config = TokenGeneratorConfig.from_seed(cfg)
    bank = build_token_bank(cfg, with_series=model_config.num_series_tokens > 0)
    bank.check_fits(model_config)
    generator_section = cfg.model.generator
    losses = cfg.get("losses") or {}
    torch.manual_seed(settings.seed)  # model initialisation
    task = GeneratorTask(
        _initial_generator(model_config, cfg.model.get("generator_init")),
        condition_dropout=float(generator_section.get("class_label_dropout", 0.1)),
        label_smoothing=float(losses.get("label_smoothing", 0.1)),
        unmasked_weight=float(losses.get("loss_weight_unmasked_token", 0.0)),
    )
    logger.info("TokenGenerator with %d parameters on %d token sequences", task.generator.num_parameters(), len(bank))
    return Trainer(task, settings, bank).fit()
