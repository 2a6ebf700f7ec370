"""Stage 3, classification finetune: the series->image aligner learns to send every class of a labelled ``.ts``
dataset to the token sequence of one image of an assigned ImageNet class, so a pretrained ImageNet classifier
can later read the class off the generated image.

- Series: channel 0 of each case, NaNs filled, resampled to the tokenizer length (align_corners, as the seed),
  then z-scored per series (the seed's per-time-step scaler across samples is a pitfall, architecture.md 8).
- Class c -> the c-th entry of the seed's ImageNet list (architecture.md 5, stage 3) that has a labelled sample
  image in ``images/imagenet_samples/labels.csv``; that image, centre-cropped, is encoded by the frozen image
  tokenizer to give the class's target tokens t_c (N,).
- Loss: token cross-entropy CE(t2v(ids(x)), t_{y(x)}); tokenizers and v2t are untouched.
- Selection: a stratified validation split carved from TRAIN (``val_fraction``; TEST is never read). Every
  evaluation scores each validation series against every class, s_c = sum_n log p(t_c[n]), predicts the best
  class, and the weights with the best validation accuracy are written to ``<output_dir>/best`` (EMA weights
  when EMA is on). ``run_classify`` returns that folder.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import TensorDataset

from timeartist.data import ImageTransform, LabelEncoder, fill_missing, load_archive, load_image, resample_to_length
from timeartist.hub import atomic_write
from timeartist.models import AdapterAlignment, TimeArtist, VisionModel
from timeartist.models.imagenet_classes import imagenet_classes
from timeartist.training.align import token_cross_entropy
from timeartist.training.config import load_run_config, trainer_config
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


class ClassifyTask(TrainingTask):
    """Stage 3. Batches are ``(series (B, L), labels (B,))``.

    Args:
        temporal, visual: frozen tokenizers; t2v: the aligner being finetuned.
        class_targets: (C, N) target token ids per class.
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
        if class_targets.ndim != 2 or class_targets.shape[1] != t2v.num_latent_tokens:
            raise ValueError(f"expected class targets (C, {t2v.num_latent_tokens}), got {tuple(class_targets.shape)}")
        self.temporal, self.visual = temporal.requires_grad_(False), visual.requires_grad_(False)
        self.temporal.quantize.dead_code_threshold = 0.0
        self.t2v = t2v
        self.register_buffer("class_targets", class_targets.long())
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
        targets = self.class_targets[labels]
        logits = self.t2v(ids)
        loss = token_cross_entropy(logits, targets)
        return loss, {"token_acc": (logits.argmax(-1) == targets).float().mean().item()}

    @torch.no_grad()
    def class_scores(self, series: Tensor) -> Tensor:
        """series (M, L) -> (M, C): sum over positions of log p(class target token)."""
        scores = []
        for chunk in series.split(EVAL_CHUNK):
            logp = self.t2v(self.temporal.encode(chunk)[1]).log_softmax(-1)  # (m, N, K)
            index = self.class_targets.T.unsqueeze(0).expand(len(chunk), -1, -1)  # (m, N, C)
            scores.append(logp.gather(-1, index).sum(1))
        return torch.cat(scores)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        device = self.class_targets.device
        predicted = self.class_scores(self.val_series.to(device)).argmax(-1).cpu()
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
        meta = {**self.metadata, "target_tokens": self.class_targets.cpu().tolist()}
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
    if not settings.eval_every:
        raise ValueError("classification selects its weights on validation: set experiment.eval_every > 0")
    params = cfg.dataset.params
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
    class_targets = encode_class_targets(visual, [files[c] for c in imagenet_ids])
    distinct = len(torch.unique(class_targets, dim=0))
    if distinct < len(imagenet_ids):
        logger.warning(
            "only %d distinct target token sequences for %d classes: the image tokenizer does not tell the class "
            "images apart, so classes sharing a target cannot be separated", distinct, len(imagenet_ids),
        )
    names = imagenet_classes().names
    metadata = {
        "dataset": name,
        "labels": list(encoder.classes),
        "imagenet_classes": imagenet_ids,
        "imagenet_names": [names[c] for c in imagenet_ids],
        "seq_len": temporal.seq_len,
        "preprocessing": "channel 0, NaNs filled, linear resample (align_corners), per-series z-score",
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
