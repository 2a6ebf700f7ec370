"""Stage 3, classification finetune: the series->image aligner learns to send every class of a labelled ``.ts``
dataset to the token sequences of an assigned ImageNet class, so a pretrained ImageNet classifier can later read
the class off the generated image.

- Series: channel 0 of each case, NaNs filled, resampled to the tokenizer length (align_corners, as the seed),
  then z-scored per series (the seed's per-time-step scaler across samples is a pitfall, architecture.md 8).
- Class c -> the c-th entry of the seed's ImageNet list (architecture.md 5, stage 3) that has a labelled sample
  image in ``images/imagenet_samples/labels.csv`` (the same assignment for both target sources below).
- Targets: every class gets a bank of B token sequences t_{c,b} (N,), ``class_targets`` (C, B, N), from
  ``dataset.params.class_targets.source`` (``ClassTargetConfig``):
  ``"sample_images"``: the class's sample image, centre-cropped, encoded by the frozen image tokenizer (B = 1);
  ``"generated"``: B sequences drawn by a trained ``TokenGenerator`` conditioned on the ImageNet class id
  (seeded, so a run is reproducible), as the seed's classification targets are banks of generated sequences.
- Loss: cross-entropy of t2v(ids(x)) against the bank's per-position token histogram q_c[n, k] =
  (1/B) sum_b [t_{c,b}[n] = k] of the true class, which is the mean over bank members of the token cross-entropy
  CE(t2v(ids(x)), t_{c,b}) (the expected loss of drawing a member per step, without its noise). With B = 1 it is
  the plain token cross-entropy against t_c. Tokenizers and v2t are untouched.
- Selection: a stratified validation split carved from TRAIN (``val_fraction``; TEST is never read). Every
  evaluation scores each validation series against every class by the mean log-likelihood of the class's bank,
  s_c = (1/B) sum_b sum_n log p(t_{c,b}[n]) = sum_n sum_k q_c[n, k] log p[n, k] (-N times the series' training
  loss if its class were c, so training and scoring agree; a max over members would reward matching one outlier
  draw), predicts the best class, and the weights with the best validation accuracy are written to
  ``<output_dir>/best`` (EMA weights when EMA is on). ``run_classify`` returns that folder; ``load_stage3`` +
  ``class_scores`` score new series with it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.data import TensorDataset

from timeartist.data import ImageTransform, LabelEncoder, fill_missing, load_archive, load_image, resample_to_length
from timeartist.hub import atomic_write, config_from_dict
from timeartist.models import AdapterAlignment, TimeArtist, VisionModel
from timeartist.models.generator import TokenGenerator
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.training.config import load_run_config, record_run, trainer_config
from timeartist.training.engine import Trainer, TrainingTask
from timeartist.training.warmup import EVAL_CHUNK, data_path, load_tokenizer_pair, save_tokenizer_pair

logger = logging.getLogger(__name__)

# The seed's label -> ImageNet class order (architecture.md section 5, stage 3).
SEED_IMAGENET_CLASSES = (
    948, 950, 951, 954, 957, 985, 945, 619, 736, 779, 805, 820, 849, 873, 604, 607, 31, 130, 132, 145, 148, 301,
    311, 323, 327, 333, 339, 340, 388, 393, 402, 409, 417, 429, 437, 440, 448, 449, 468, 470, 478, 497, 508, 524,
    574, 579, 643, 852, 927, 932, 960, 967, 179, 207, 232, 235, 258, 259, 263, 284, 250, 506, 518, 971,
)  # fmt: skip
CLASSES_FILE = "classes.json"
SELECTION_FILE = "selection.json"
TARGET_SOURCES = ("sample_images", "generated")


@dataclass
class ClassTargetConfig:
    """Where the classes' target token banks come from: ``dataset.params.class_targets`` of a stage-3 run.

    source: ``"sample_images"`` (each class's sample image encoded by the image tokenizer; a bank of 1) or
    ``"generated"`` (``bank_per_class`` sequences per class drawn by the ``TokenGenerator`` folder
    ``generator_checkpoint``, conditioned on the class's ImageNet id, decoded in ``steps`` steps with classifier-free
    ``guidance`` at ``temperature``; every draw comes from a torch generator seeded with ``seed``, on the CPU, so
    the banks are the same on every machine). The generator settings are ignored for ``"sample_images"``.
    """

    source: str = "sample_images"
    generator_checkpoint: str | None = None
    bank_per_class: int = 16
    guidance: float = 3.0
    steps: int = 8
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in TARGET_SOURCES:
            raise ValueError(f"class_targets.source must be one of {TARGET_SOURCES}, got {self.source!r}")
        if self.source == "generated" and not self.generator_checkpoint:
            raise ValueError("class_targets.source='generated' needs class_targets.generator_checkpoint (a TokenGenerator folder)")
        for name in ("bank_per_class", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"class_targets.{name} must be a positive int, got {value!r}")
        if not math.isfinite(self.guidance) or not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(
                f"class_targets.guidance must be finite and temperature finite and >= 0, got {self.guidance} and {self.temperature}"
            )

    @classmethod
    def from_config(cls, section: Mapping | DictConfig | None) -> "ClassTargetConfig":
        """From a run config section (None: the defaults, i.e. sample images); unknown keys raise ValueError."""
        if section is None:
            return cls()
        values = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
        return config_from_dict(cls, values)


def prepare_series(X, seq_len: int) -> np.ndarray:
    """A ``load_ts`` panel -> (n, seq_len) float32: channel 0, NaNs filled, resampled, z-scored per series
    (a constant series becomes zeros)."""
    series = resample_to_length(fill_missing(X), seq_len)[:, 0]
    std = series.std(axis=1, keepdims=True)
    return ((series - series.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): per class a seeded ``val_fraction`` share (at least one when the class has two or
    more cases, never all of them) goes to validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        take = min(len(members) - 1, max(1, round(val_fraction * len(members)))) if len(members) > 1 else 0
        val.extend(members[:take])
        train.extend(members[take:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


def class_image_files(image_dir: Path) -> dict[int, Path]:
    """ImageNet class index -> sample image, from ``labels.csv`` (filename, wnid, class_index, class_name)."""
    labels = image_dir / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"expected {labels} listing filename,wnid,class_index,class_name of the sample images")
    with labels.open(newline="") as f:
        return {int(row["class_index"]): image_dir / row["filename"] for row in csv.DictReader(f)}


def assign_imagenet_classes(num_classes: int, available: set[int]) -> list[int]:
    """The first ``num_classes`` classes of the seed's list that have a sample image."""
    usable = [c for c in SEED_IMAGENET_CLASSES if c in available]
    if len(usable) < num_classes:
        raise ValueError(
            f"the dataset has {num_classes} classes but only {len(usable)} of the seed's ImageNet classes have a "
            f"sample image; add images of more of {list(SEED_IMAGENET_CLASSES)}"
        )
    skipped = [c for c in SEED_IMAGENET_CLASSES[: SEED_IMAGENET_CLASSES.index(usable[num_classes - 1]) + 1] if c not in available]
    if skipped:
        logger.info("ImageNet classes without a sample image skipped in the seed order: %s", skipped)
    return usable[:num_classes]


@torch.no_grad()
def encode_class_targets(visual: VisionModel, files: Sequence[Path]) -> Tensor:
    """Centre-cropped sample images -> their token ids (C, N), the classes' target sequences."""
    transform = ImageTransform(size=visual.image_size, crop="center")
    images = torch.stack([transform(load_image(f)) for f in files])
    device = next(visual.parameters()).device
    return visual.encode(images.to(device))[1][:, 0].cpu()


def check_generator_fits(generator: TokenGenerator, visual: VisionModel, imagenet_ids: Sequence[int]) -> None:
    """ValueError unless ``generator`` draws sequences of the image tokenizer's N tokens over its K codes and knows
    every class id of ``imagenet_ids``."""
    gen, vis = generator.config, visual.config
    if (gen.image_seq_len, gen.codebook_size) != (vis.num_latent_tokens, vis.codebook_size):
        raise ValueError(
            f"the token generator draws {gen.image_seq_len} tokens over {gen.codebook_size} codes but the image "
            f"tokenizer has {vis.num_latent_tokens} tokens over {vis.codebook_size} codes; train a generator on this "
            "tokenizer's code space (timeartist train generator with experiment.tokenizer_checkpoint set to it)"
        )
    if max(imagenet_ids) >= gen.condition_num_classes:
        raise ValueError(
            f"the token generator knows {gen.condition_num_classes} classes but the targets need ImageNet class "
            f"{max(imagenet_ids)}; use a generator with condition_num_classes=1000"
        )


@torch.no_grad()
def generate_class_banks(
    generator: TokenGenerator, visual: VisionModel, imagenet_ids: Sequence[int], settings: ClassTargetConfig
) -> Tensor:
    """(C, B, N) token ids: ``settings.bank_per_class`` = B sequences per ImageNet class id, drawn in one seeded
    batch, so the banks depend only on the generator, the class ids and the settings."""
    check_generator_fits(generator, visual, imagenet_ids)
    classes = torch.tensor(list(imagenet_ids), dtype=torch.long).repeat_interleave(settings.bank_per_class)
    rng = torch.Generator(device=generator.device).manual_seed(settings.seed)
    ids = generator.generate(
        classes.to(generator.device), steps=settings.steps, guidance=settings.guidance,
        temperature=settings.temperature, generator=rng,
    )  # fmt: skip
    return rearrange(ids.cpu(), "(c b) n -> c b n", b=settings.bank_per_class)


def class_target_banks(
    settings: ClassTargetConfig, visual: VisionModel, imagenet_ids: Sequence[int], files: Mapping[int, Path]
) -> Tensor:
    """The target banks (C, B, N) of the assigned ImageNet classes: encoded sample images (B = 1) or generated."""
    if settings.source == "sample_images":
        return encode_class_targets(visual, [files[c] for c in imagenet_ids])[:, None]
    generator = TokenGenerator.from_pretrained(settings.generator_checkpoint)
    return generate_class_banks(generator, visual, imagenet_ids, settings)


def bank_histograms(banks: Tensor, codebook_size: int) -> Tensor:
    """Banks (C, B, N) -> per-position token distributions q (C, N, K): q[c, n, k] = share of class c's sequences
    with code k at position n (one-hot rows for a bank of one)."""
    return F.one_hot(banks.long(), codebook_size).float().mean(dim=1)


def bank_summary(banks: Tensor) -> dict[str, float]:
    """How much banks (C, B, N) tell the classes apart: distinct sequences over all banks, mean distinct sequences
    per class, sequences found in more than one class's bank, distinct banks, and distinct codes used."""
    per_class = [torch.unique(bank, dim=0) for bank in banks]
    pooled, counts = torch.unique(torch.cat(per_class), dim=0, return_counts=True)
    return {
        "distinct_sequences": len(pooled),
        "distinct_per_class": float(np.mean([len(rows) for rows in per_class])),
        "shared_sequences": int((counts > 1).sum()),
        "distinct_banks": len(torch.unique(banks.flatten(1), dim=0)),
        "codes_used": len(torch.unique(banks)),
    }


@torch.no_grad()
def class_scores(temporal: TimeArtist, t2v: AdapterAlignment, histograms: Tensor, series: Tensor) -> Tensor:
    """series (M, L) -> (M, C): s_c = sum_n sum_k q_c[n, k] log p[n, k], the mean over class c's bank of the
    sequence log-likelihood under t2v's per-position distributions p. histograms: (C, N, K) (``bank_histograms``)."""
    scores = []
    for chunk in series.split(EVAL_CHUNK):
        logp = t2v(temporal.encode(chunk)[1]).log_softmax(-1)  # (m, N, K)
        scores.append(einsum(logp, histograms, "m n k, c n k -> m c"))
    return torch.cat(scores)


class ClassifyTask(TrainingTask):
    """Stage 3. Batches are ``(series (B, L), labels (B,))``.

    Args:
        temporal, visual: frozen tokenizers; t2v: the aligner being finetuned.
        class_targets: (C, B, N) target token banks per class (B = 1 for sample images).
        val_series (M, L), val_labels (M,): the validation split carved from TRAIN.
        best_dir: where the best-on-validation weights are written; metadata: written to ``classes.json``.
    """

    def __init__(
        self,
        temporal: TimeArtist,
        visual: VisionModel,
        t2v: AdapterAlignment,
        class_targets: Tensor,
        val_series: Tensor,
        val_labels: Tensor,
        best_dir: Path,
        metadata: dict,
    ):
        super().__init__()
        n, k = t2v.num_latent_tokens, t2v.codebook_size
        if class_targets.ndim != 3 or class_targets.shape[2] != n or 0 in class_targets.shape:
            raise ValueError(f"expected class target banks (C, B, {n}), got {tuple(class_targets.shape)}")
        if class_targets.min() < 0 or class_targets.max() >= k:
            raise ValueError(f"class target ids must lie in [0, {k}), got [{int(class_targets.min())}, {int(class_targets.max())}]")
        self.temporal, self.visual = temporal.requires_grad_(False), visual.requires_grad_(False)
        self.temporal.quantize.dead_code_threshold = 0.0
        self.t2v = t2v
        self.register_buffer("class_targets", class_targets.long())
        self.register_buffer("target_histograms", bank_histograms(class_targets, k), persistent=False)  # (C, N, K)
        self.val_series, self.val_labels = val_series, val_labels
        self.best_dir, self.metadata = Path(best_dir), metadata
        selection = self.best_dir / SELECTION_FILE
        self.best_accuracy = json.loads(selection.read_text())["val_accuracy"] if selection.is_file() else -1.0
        self.train()

    def train(self, mode: bool = True) -> "ClassifyTask":
        super().train(mode)
        self.temporal.eval()
        self.visual.eval()
        return self

    def training_step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        series, labels = batch
        with torch.no_grad():
            ids = self.temporal.encode(series)[1]
        targets = self.target_histograms[labels]  # (B, N, K)
        logits = self.t2v(ids)
        loss = F.cross_entropy(rearrange(logits, "b n k -> (b n) k"), rearrange(targets, "b n k -> (b n) k"))
        # the share of the class's bank that agrees with the predicted token (plain token accuracy for a bank of 1)
        token_acc = targets.gather(-1, logits.argmax(-1, keepdim=True)).mean()
        return loss, {"token_acc": token_acc.item()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        device = self.class_targets.device
        scores = class_scores(self.temporal, self.t2v, self.target_histograms, self.val_series.to(device))
        predicted = scores.argmax(-1).cpu()
        accuracy = (predicted == self.val_labels).float().mean().item()
        if accuracy > self.best_accuracy:
            self.best_accuracy = accuracy
            self.save_pretrained(self.best_dir)
            text = json.dumps({"val_accuracy": accuracy}) + "\n"
            atomic_write(self.best_dir / SELECTION_FILE, lambda tmp: Path(tmp).write_text(text))
        return {"val_accuracy": accuracy, "best_val_accuracy": self.best_accuracy}

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        self.t2v.save_pretrained(path / "align_t2v")
        meta = {**self.metadata, "target_tokens": self.class_targets.cpu().tolist()}  # (C, B, N)
        text = json.dumps(meta, indent=2) + "\n"
        atomic_write(path / CLASSES_FILE, lambda tmp: Path(tmp).write_text(text))
        return save_tokenizer_pair(self.temporal, self.visual, path, {"align_t2v": "AdapterAlignment"})


def run_classify(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Finetune t2v for ``dataset.params.ts_dataset`` (a UCR/UEA name under the data root) from a run config with
    ``key=value`` overrides. ``experiment.init_weight`` names the alignment export (``temporal/``, ``visual/``,
    ``align_t2v/``). Returns the best-on-validation folder, a ``TimeArtistPipeline`` folder (``temporal/``,
    ``visual/``, ``align_t2v/``, ``timeartist_index.json``) plus ``classes.json`` and ``selection.json``."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    record_run(cfg, "classify")
    if not settings.eval_every:
        raise ValueError("classification selects its weights on validation: set experiment.eval_every > 0")
    params = cfg.dataset.params
    targets = ClassTargetConfig.from_config(params.get("class_targets"))
    init = cfg.experiment.get("init_weight")
    if not init:
        raise ValueError("classification needs experiment.init_weight: the alignment export (temporal/, visual/, align_t2v/)")
    temporal, visual = load_tokenizer_pair(init)
    t2v = AdapterAlignment.from_pretrained(Path(init) / "align_t2v")

    name = str(params.ts_dataset)
    X, y = load_archive(name, "train", params.get("data_root"))  # TEST is never read here
    if y is None:
        raise ValueError(f"{name} TRAIN has no class labels")
    encoder = LabelEncoder.fit(y)
    labels = encoder.encode(y)
    series = prepare_series(X, temporal.seq_len)
    train_idx, val_idx = stratified_split(labels, float(params.get("val_fraction", 0.2)), settings.seed)
    if len(val_idx) == 0:
        raise ValueError(f"{name} TRAIN is too small to carve a validation split from")

    image_dir = data_path(str(params.get("class_image_dir", "images/imagenet_samples")), params.get("data_root"))
    files = class_image_files(image_dir)
    imagenet_ids = assign_imagenet_classes(len(encoder.classes), set(files))
    class_targets = class_target_banks(targets, visual, imagenet_ids, files)
    summary = bank_summary(class_targets)
    logger.info("%s class targets %s: %s", targets.source, tuple(class_targets.shape), summary)
    if summary["distinct_banks"] < len(imagenet_ids):
        logger.warning(
            "only %d distinct target banks for %d classes: classes sharing a target cannot be separated (the image "
            "tokenizer or generator does not tell the classes apart)", summary["distinct_banks"], len(imagenet_ids),
        )
    names = imagenet_classes().names
    metadata = {
        "dataset": name,
        "labels": list(encoder.classes),
        "imagenet_classes": imagenet_ids,
        "imagenet_names": [names[c] for c in imagenet_ids],
        "seq_len": temporal.seq_len,
        "preprocessing": "channel 0, NaNs filled, linear resample (align_corners), per-series z-score",
        "class_targets": dataclasses.asdict(targets),
        "target_summary": summary,
    }
    logger.info("%s: %d train / %d val cases; classes -> ImageNet %s", name, len(train_idx), len(val_idx), metadata["imagenet_names"])
    task = ClassifyTask(
        temporal, visual, t2v, class_targets,
        val_series=torch.from_numpy(series[val_idx]), val_labels=torch.from_numpy(labels[val_idx]),
        best_dir=Path(settings.output_dir) / "best", metadata=metadata,
    )  # fmt: skip
    data = TensorDataset(torch.from_numpy(series[train_idx]), torch.from_numpy(labels[train_idx]))
    Trainer(task, settings, data).fit()
    return task.best_dir


def load_stage3(path: str | os.PathLike) -> tuple[TimeArtist, AdapterAlignment, Tensor, dict]:
    """A ``run_classify`` folder -> (series tokenizer, t2v aligner, class target banks (C, B, N), the
    ``classes.json`` metadata with ``labels``: the label of each class row)."""
    path = Path(path)
    classes = path / CLASSES_FILE
    if not classes.is_file():
        raise FileNotFoundError(f"expected {classes}: {path} is not a stage-3 folder written by run_classify")
    metadata = json.loads(classes.read_text())
    temporal, _ = load_tokenizer_pair(path)
    t2v = AdapterAlignment.from_pretrained(path / "align_t2v")
    banks = torch.tensor(metadata["target_tokens"], dtype=torch.long)
    if banks.ndim != 3 or banks.shape[0] != len(metadata["labels"]):
        raise ValueError(f"{classes}: expected target_tokens (C, B, N) with C = {len(metadata['labels'])}, got {tuple(banks.shape)}")
    return temporal.eval(), t2v.eval(), banks, metadata
