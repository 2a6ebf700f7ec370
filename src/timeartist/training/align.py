"""Stage 2, alignment without paired data: two ``AdapterAlignment`` modules, series->image (t2v) and image->series
(v2t), trained on pseudo-pairs while the tokenizers and their shared codebook stay frozen.

Objective (this project's design; the paper does not publish one). For a batch of series x_1..x_B and an
unrelated batch of images y_1..y_B, encoded to token ids a_i, b_j (N each) and their code vectors
q(a_i), q(b_j) (D x N, from the one shared codebook):

1. Cost C_ij = sum_n ||q(a_i)_n - q(b_j)_n||^2, position-wise, meaningful because the codebook is shared.
2. Balanced entropic optimal transport (Sinkhorn, uniform marginals) gives a plan P; the pseudo-pairs are
   m(i) = argmax_j P_ij for each series and m'(j) = argmax_i P_ij for each image. Balancing stops every series
   from choosing the same few "average" images, which nearest-neighbour matching would do.
3. L_align = CE(t2v(a_i), b_m(i)) + CE(v2t(b_j), a_m'(j)), token-level cross-entropy to the matched sequences.
4. Optional cycle term (``losses.cycle_weight``): w = softmax(t2v(a_i) / tau) are soft image tokens; v2t reads
   them through a differentiable soft embedding (w @ E), its softmax output is looked up softly in the codebook
   (``quantizer.get_codebook_entry(weights)``), the temporal decoder turns that into a series and
   L_cycle = MSE(x_hat_i, x_i). It keeps series -> image -> series information-preserving.

L = L_align + cycle_weight * L_cycle. Both aligners start as the identity (their prior), i.e. the
"before alignment" conversion of the shared codebook, and move only as far as the pseudo-pairs ask.
Held-out evaluation reports the pseudo-pair cross-entropy and token accuracy, the share of tokens the aligners
change, the hard series -> image -> series cycle MSE, and a picture of held-out series decoded as images.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import Dataset

from timeartist.models import AdapterAlignment, AdapterAlignmentConfig, TimeArtist, VisionModel
from timeartist.modules.vit import run_blocks
from timeartist.training.config import load_run_config, record_run, trainer_config
from timeartist.training.engine import Trainer, TrainingTask
from timeartist.training.losses import code_distance, match_pairs, sinkhorn
from timeartist.training.warmup import (
    EVAL_CHUNK,
    ZipDataset,
    spread_items,
    image_data,
    load_tokenizer_pair,
    require_shared_quantizer,
    save_tokenizer_pair,
    series_data,
)

logger = logging.getLogger(__name__)


def soft_alignment_logits(aligner: AdapterAlignment, weights: Tensor) -> Tensor:
    """``AdapterAlignment`` applied to soft tokens: weights (B, N, K), rows summing to 1 -> logits (B, N, K).

    The input embedding is the weighted mix of token embeddings and the identity prior is gamma * weights, so
    one-hot weights give exactly ``aligner(ids)``; gradients reach ``weights``.
    """
    expected = (aligner.num_latent_tokens, aligner.codebook_size)
    if weights.ndim != 3 or tuple(weights.shape[1:]) != expected:
        raise ValueError(f"expected soft tokens (B, {expected[0]}, {expected[1]}), got {tuple(weights.shape)}")
    x = weights @ aligner.embedding.weight + aligner.positional_embedding
    logits = aligner.head(aligner.ln_post(run_blocks(aligner.transformer, x)))
    return logits + aligner.identity_gain * weights


def token_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """logits (B, N, K), target ids (B, N) -> mean token cross-entropy."""
    return F.cross_entropy(rearrange(logits, "b n k -> (b n) k"), targets.reshape(-1))


class AlignTask(TrainingTask):
    """Stage 2. Batches are ``{"series": (B, L), "images": (B, 3, S, S)}`` (unpaired).

    Args:
        temporal, visual: tokenizers sharing one quantizer; frozen here.
        t2v, v2t: the aligners being trained.
        epsilon, iterations: Sinkhorn sharpness (fraction of the costs' std) and iteration count.
        cycle_weight, temperature: weight of the soft cycle loss and softmax temperature of its soft tokens.
        heldout_series (M, L), heldout_images (M', 3, S, S): the evaluation batches.
    """

    def __init__(
        self,
        temporal: TimeArtist,
        visual: VisionModel,
        t2v: AdapterAlignment,
        v2t: AdapterAlignment,
        epsilon: float = 0.05,
        iterations: int = 100,
        cycle_weight: float = 0.0,
        temperature: float = 1.0,
        heldout_series: Tensor | None = None,
        heldout_images: Tensor | None = None,
    ):
        super().__init__()
        require_shared_quantizer(temporal, visual)
        for name, aligner in (("t2v", t2v), ("v2t", v2t)):
            got = (aligner.codebook_size, aligner.num_latent_tokens)
            want = (temporal.codebook_size, temporal.num_latent_tokens)
            if got != want:
                raise ValueError(f"{name} has (codebook_size, num_latent_tokens) = {got}, the tokenizers {want}")
        if temperature <= 0 or cycle_weight < 0:
            raise ValueError(f"expected temperature > 0 and cycle_weight >= 0, got {temperature} and {cycle_weight}")
        self.temporal, self.visual = temporal.requires_grad_(False), visual.requires_grad_(False)
        self.temporal.quantize.dead_code_threshold = 0.0  # the codebook is frozen: no usage tracking
        self.t2v, self.v2t = t2v, v2t
        self.epsilon, self.iterations = epsilon, iterations
        self.cycle_weight, self.temperature = cycle_weight, temperature
        self.heldout_series, self.heldout_images = heldout_series, heldout_images
        self.train()

    def train(self, mode: bool = True) -> "AlignTask":
        super().train(mode)
        self.temporal.eval()  # frozen: no dropout, no quantizer bookkeeping
        self.visual.eval()
        return self

    @torch.no_grad()
    def encode(self, series: Tensor, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """-> series ids (B, N), series codes (B, D, 1, N), image ids (B', N), image codes (B', D, 1, N)."""
        q_t, ids_t = self.temporal.encode(series)
        q_v, ids_v = self.visual.encode(images)
        return ids_t[:, 0], q_t, ids_v[:, 0], q_v

    def alignment_loss(
        self, series_ids: Tensor, series_codes: Tensor, image_ids: Tensor, image_codes: Tensor
    ) -> tuple[Tensor, Tensor, dict[str, float]]:
        """Pseudo-pair cross-entropy of both aligners -> (loss, t2v logits (B, N, K), logs)."""
        row, col = match_pairs(code_distance(series_codes, image_codes), self.epsilon, self.iterations)
        logits_t2v, logits_v2t = self.t2v(series_ids), self.v2t(image_ids)
        loss_t2v = token_cross_entropy(logits_t2v, image_ids[row])
        loss_v2t = token_cross_entropy(logits_v2t, series_ids[col])
        logs = {
            "loss_t2v": loss_t2v.item(),
            "loss_v2t": loss_v2t.item(),
            "t2v_token_acc": (logits_t2v.argmax(-1) == image_ids[row]).float().mean().item(),
            # 1.0 when the plan is a permutation (each series and its image choose each other)
            "match_consistency": (col[row] == torch.arange(len(row), device=row.device)).float().mean().item(),
        }
        return loss_t2v + loss_v2t, logits_t2v, logs

    def cycle_loss(self, series: Tensor, logits_t2v: Tensor) -> Tensor:
        """Series -> soft image tokens -> v2t -> soft codebook lookup -> temporal decoder -> MSE to the series."""
        soft_images = F.softmax(logits_t2v / self.temperature, dim=-1)
        back = F.softmax(soft_alignment_logits(self.v2t, soft_images) / self.temperature, dim=-1)
        codes = self.temporal.quantize.get_codebook_entry(rearrange(back, "b n k -> (b n) k"))
        q = rearrange(codes, "(b n) d -> b d 1 n", b=series.shape[0])
        return F.mse_loss(self.temporal.decode(q), series)

    def training_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        series = batch["series"]
        loss, logits_t2v, logs = self.alignment_loss(*self.encode(series, batch["images"]))
        if self.cycle_weight > 0:
            cycle = self.cycle_loss(series, logits_t2v)
            loss = loss + self.cycle_weight * cycle
            logs["cycle_mse"] = cycle.item()
        return loss, logs

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | Tensor]:
        if self.heldout_series is None or self.heldout_images is None:
            return {}
        device = next(self.t2v.parameters()).device
        count = min(len(self.heldout_series), len(self.heldout_images), EVAL_CHUNK)
        series = self.heldout_series[:count].to(device)
        a, q_a, b, q_b = self.encode(series, self.heldout_images[:count].to(device))
        loss, _, logs = self.alignment_loss(a, q_a, b, q_b)
        to_image = self.t2v(a).argmax(-1)
        back = self.v2t(to_image).argmax(-1)
        shown = min(8, count)
        return {
            "align_loss": loss.item(),
            "t2v_token_acc": logs["t2v_token_acc"],
            "match_consistency": logs["match_consistency"],
            "t2v_changed_tokens": (to_image != a).float().mean().item(),
            "hard_cycle_mse": F.mse_loss(self.temporal.decode_tokens(back), series).item(),
            "series_as_images": rearrange(self.visual.decode_tokens(to_image[:shown]).clamp(0, 1), "m c h w -> c h (m w)"),
        }

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        self.t2v.save_pretrained(path / "align_t2v")
        self.v2t.save_pretrained(path / "align_v2t")
        aligners = {"align_t2v": "AdapterAlignment", "align_v2t": "AdapterAlignment"}
        return save_tokenizer_pair(self.temporal, self.visual, path, aligners)


# ------------------------------------------------------------------------------------------ photo-realism objective
class PictureFeatures(nn.Module):
    """Frozen EfficientNet-Lite0 pooled features (B, 1280) of pictures (B, 3, S, S) in [0, 1], read at ``size`` px
    (bilinear, no crop): the space in which aligned pictures are asked to look like photos."""

    def __init__(self, network: nn.Module, size: int = 128):
        super().__init__()
        self.network, self.size = network.requires_grad_(False).eval(), size

    def train(self, mode: bool = True) -> "PictureFeatures":
        super().train(mode)
        self.network.eval()  # BatchNorm statistics never move
        return self

    def forward(self, images: Tensor) -> Tensor:
        x = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.network.forward_features(self.network.scale_pixels(x))


def transport_cost(features: Tensor, bank: Tensor, epsilon: float, iterations: int = 50) -> Tensor:
    """Balanced optimal-transport cost between a batch of picture features (B, F) and photo features (M, F): the
    Sinkhorn plan on the squared distances (computed without gradient) weighs the distances, divided by their mean
    so that the loss is scale-free. Every picture is pulled toward the photos it is matched with, and every photo
    is matched with as much mass as any other, so the pictures spread over the photos' distribution instead of
    collapsing onto one photo-like mean."""
    cost = torch.cdist(features, bank).pow(2)
    plan = sinkhorn(cost.detach(), epsilon, iterations)
    return (plan * cost).sum() / cost.detach().mean().clamp_min(1e-12)


def pair_contrast(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """InfoNCE between matched rows of a (B, F) and b (B, F) (cosine similarities / temperature, both directions):
    the pictures of two adjacent windows of one series should be each other's nearest among the batch."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class PairedWindows(Dataset):
    """Windows (2L,) of a dataset -> (2, L): its two halves, each z-scored (two adjacent windows of one series)."""

    def __init__(self, windows: Dataset):
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Tensor:
        halves = rearrange(torch.as_tensor(self.windows[index], dtype=torch.float32), "(k l) -> k l", k=2)
        return (halves - halves.mean(-1, keepdim=True)) / halves.std(-1, keepdim=True).clamp_min(1e-6)


class RealismAlignTask(AlignTask):
    """Stage 2 with a notion of "looks like a photo". Batches are ``{"series": (B, 2, L)}``: two adjacent windows of
    B series (``PairedWindows``). Per step, the 2B windows are encoded (frozen series tokenizer), mapped by t2v to
    image tokens chosen straight-through (hard codes forward, the softmax's gradient backward, so the frozen image
    decoder sees exactly the pictures inference makes), decoded and read by ``PictureFeatures``; then

        L = realism_weight * transport_cost(features, photo bank)            pictures among photos, spread out
          + consistency_weight * pair_contrast(features of A, of B)         one series, one kind of picture
          + cycle_weight * MSE(series -> t2v -> v2t -> series, series)      invertible

    The photo bank holds ``PictureFeatures`` of the image tokenizer's reconstructions of training photos (what the
    decoder can draw), recomputed each ``bank_refresh`` steps from fresh random crops.
    """

    def __init__(
        self, temporal: TimeArtist, visual: VisionModel, t2v: AdapterAlignment, v2t: AdapterAlignment,
        features: PictureFeatures, photos: Dataset, *, realism_weight: float = 1.0, consistency_weight: float = 0.1,
        cycle_weight: float = 1.0, temperature: float = 1.0, epsilon: float = 0.05, contrast_temperature: float = 0.1,
        bank_size: int = 512, bank_refresh: int = 500, heldout_series: Tensor | None = None, seed: int = 0,
    ):  # fmt: skip
        super().__init__(temporal, visual, t2v, v2t, epsilon=epsilon, cycle_weight=cycle_weight, temperature=temperature, heldout_series=heldout_series)
        if min(realism_weight, consistency_weight, cycle_weight) < 0 or contrast_temperature <= 0 or bank_size < 2:
            raise ValueError("expected non-negative loss weights, contrast_temperature > 0 and bank_size >= 2")
        self.features, self.photos = features, photos
        self.realism_weight, self.consistency_weight, self.contrast_temperature = realism_weight, consistency_weight, contrast_temperature
        self.bank_size, self.bank_refresh, self.seed = bank_size, bank_refresh, seed
        self.bank: Tensor | None = None
        self.step = 0

    def train(self, mode: bool = True) -> "RealismAlignTask":
        super().train(mode)
        if hasattr(self, "features"):
            self.features.train(False)
        return self

    @torch.no_grad()
    def photo_bank(self) -> Tensor:
        """Features (M, F) of reconstructions of ``bank_size`` random training photo crops (seeded by the step)."""
        if self.bank is None or (self.bank_refresh and self.step % self.bank_refresh == 0 and self.bank_step != self.step):
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
            picks = torch.randint(len(self.photos), (self.bank_size,), generator=rng).tolist()
            device = next(self.t2v.parameters()).device
            feats = []
            for i in range(0, len(picks), EVAL_CHUNK):
                photos = torch.stack([self.photos[j] for j in picks[i : i + EVAL_CHUNK]]).to(device)
                feats.append(self.features(self.visual.decode_tokens(self.visual.encode(photos)[1][:, 0]).clamp(0, 1)))
            self.bank, self.bank_step = torch.cat(feats), self.step
        return self.bank

    def straight_through(self, logits: Tensor) -> Tensor:
        """Logits (B, N, K) -> one-hot tokens of their argmax (B, N, K) carrying the softmax's gradient."""
        soft = F.softmax(logits / self.temperature, dim=-1)
        hard = F.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
        return hard + soft - soft.detach()

    def pictures(self, weights: Tensor) -> Tensor:
        """Token weights (B, N, K) -> decoded pictures (B, 3, S, S) in [0, 1]."""
        codes = self.visual.quantize.get_codebook_entry(rearrange(weights, "b n k -> (b n) k"))
        return self.visual.decode(rearrange(codes, "(b n) d -> b d 1 n", b=len(weights))).clamp(0, 1)

    def cycle_loss_from_tokens(self, series: Tensor, image_tokens: Tensor) -> Tensor:
        """Image token weights (B, N, K) -> v2t -> soft codebook lookup -> series decoder -> MSE to the series."""
        back = F.softmax(soft_alignment_logits(self.v2t, image_tokens) / self.temperature, dim=-1)
        codes = self.temporal.quantize.get_codebook_entry(rearrange(back, "b n k -> (b n) k"))
        return F.mse_loss(self.temporal.decode(rearrange(codes, "(b n) d -> b d 1 n", b=len(series))), series)

    def training_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        pairs = batch["series"]  # (B, 2, L)
        series = rearrange(pairs, "b k l -> (k b) l")  # the A windows, then the B windows
        with torch.no_grad():
            ids = self.temporal.encode(series)[1][:, 0]
        tokens = self.straight_through(self.t2v(ids))
        features = self.features(self.pictures(tokens))
        realism = transport_cost(features, self.photo_bank(), self.epsilon)
        first, second = features.chunk(2)
        consistency = pair_contrast(first, second, self.contrast_temperature)
        cycle = self.cycle_loss_from_tokens(series, tokens)
        loss = self.realism_weight * realism + self.consistency_weight * consistency + self.cycle_weight * cycle
        changed = (tokens.detach().argmax(-1) != ids).float().mean().item()
        return loss, {"realism": realism.item(), "consistency": consistency.item(), "cycle_mse": cycle.item(), "changed_tokens": changed}

    def on_step_end(self, step: int) -> dict[str, float]:
        self.step = step
        return {}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | Tensor]:
        """Held-out series: the share of tokens t2v changes, the hard round trip's MSE, the realism cost against the
        current bank, how often a window's picture has its neighbour window's as nearest (pairs), and a strip."""
        if self.heldout_series is None:
            return {}
        device = next(self.t2v.parameters()).device
        pairs = self.heldout_series[:EVAL_CHUNK].to(device)
        series = rearrange(pairs, "b k l -> (k b) l")
        ids = self.temporal.encode(series)[1][:, 0]
        to_image = self.t2v(ids).argmax(-1)
        back = self.v2t(to_image).argmax(-1)
        images = self.visual.decode_tokens(to_image).clamp(0, 1)
        features = self.features(images)
        first, second = F.normalize(features, dim=-1).chunk(2)
        nearest = (first @ second.T).argmax(-1)
        return {
            "t2v_changed_tokens": (to_image != ids).float().mean().item(),
            "hard_cycle_mse": F.mse_loss(self.temporal.decode_tokens(back), series).item(),
            "realism": transport_cost(features, self.photo_bank(), self.epsilon).item(),
            "pair_nearest": (nearest == torch.arange(len(first), device=device)).float().mean().item(),
            "series_as_images": rearrange(images[:8], "m c h w -> c h (m w)"),
        }


class PriorAlignTask(RealismAlignTask):
    """Stage 2 with the token generator as the realism prior: cheaper per step than ``RealismAlignTask`` (no picture
    is decoded in training), with a gradient that reaches every token's distribution directly. Batches as there.

        L = prior_weight * E_masked[ -sum_k p_n(k) log g_n(k | the other tokens) ]   token sequences photos have
          + consistency_weight * pair_contrast(code means of A, of B)               one series, one kind of picture
          + cycle_weight * MSE(series -> t2v -> v2t -> series, series)              invertible

    p_n = softmax(t2v logits / temperature) at position n; g is the frozen MaskGIT ``TokenGenerator`` (trained on
    photo tokens, unconditional) reading the aligner's hard tokens with a random ``mask_ratio`` of them masked,
    scored at the masked positions: the aligner is pulled toward sequences the generator finds likely, which decode
    to pictures as photo-like as its own samples. The cycle term keeps the series in the tokens, so the series do not
    all collapse onto the generator's most likely picture. Held-out evaluation is ``RealismAlignTask``'s (decoded
    pictures against the photo bank), plus the held-out prior NLL."""

    def __init__(self, *args, generator: nn.Module, prior_weight: float = 1.0, mask_ratio: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        if prior_weight < 0 or not 0 < mask_ratio <= 1:
            raise ValueError(f"expected prior_weight >= 0 and mask_ratio in (0, 1], got {prior_weight} and {mask_ratio}")
        if generator.config.codebook_size != self.t2v.codebook_size or generator.config.image_seq_len != self.t2v.num_latent_tokens:
            raise ValueError("the token generator's codebook size and sequence length must equal the aligners'")
        self.generator = generator.requires_grad_(False).eval()
        self.prior_weight, self.mask_ratio = prior_weight, mask_ratio

    def train(self, mode: bool = True) -> "PriorAlignTask":
        super().train(mode)
        if hasattr(self, "generator"):
            self.generator.eval()
        return self

    def prior_cost(self, weights: Tensor) -> Tensor:
        """Token distributions (B, N, K) -> their expected negative log-likelihood under the generator at a random
        ``mask_ratio`` of the positions, the others given as the distributions' argmax."""
        hard = weights.detach().argmax(-1)
        masked = torch.rand(hard.shape, device=hard.device) < self.mask_ratio
        masked[masked.sum(-1) == 0, 0] = True  # at least one position per sequence
        with torch.no_grad():
            log_prior = F.log_softmax(self.generator(hard.masked_fill(masked, self.generator.mask_token_id)).float(), dim=-1)
        return -(weights * log_prior).sum(-1)[masked].mean()

    def training_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        pairs = batch["series"]  # (B, 2, L)
        series = rearrange(pairs, "b k l -> (k b) l")  # the A windows, then the B windows
        with torch.no_grad():
            ids = self.temporal.encode(series)[1][:, 0]
        logits = self.t2v(ids)
        weights = F.softmax(logits / self.temperature, dim=-1)
        prior = self.prior_cost(weights)
        codes = rearrange(weights @ self.visual.quantize.codebook, "b n d -> b (n d)")  # soft code sequences
        first, second = codes.chunk(2)
        consistency = pair_contrast(first, second, self.contrast_temperature)
        cycle = self.cycle_loss_from_tokens(series, self.straight_through(logits))
        loss = self.prior_weight * prior + self.consistency_weight * consistency + self.cycle_weight * cycle
        changed = (logits.detach().argmax(-1) != ids).float().mean().item()
        return loss, {"prior_nll": prior.item(), "consistency": consistency.item(), "cycle_mse": cycle.item(), "changed_tokens": changed}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | Tensor]:
        results = super().evaluate()
        if self.heldout_series is None:
            return results
        device = next(self.t2v.parameters()).device
        series = rearrange(self.heldout_series[:EVAL_CHUNK].to(device), "b k l -> (k b) l")
        ids = self.temporal.encode(series)[1][:, 0]
        state = torch.get_rng_state()
        torch.manual_seed(self.seed)  # the same masks at every evaluation
        results["prior_nll"] = self.prior_cost(F.one_hot(self.t2v(ids).argmax(-1), self.t2v.codebook_size).float()).item()
        torch.set_rng_state(state)
        return results


def build_aligners(cfg: DictConfig, temporal: TimeArtist) -> tuple[AdapterAlignment, AdapterAlignment]:
    """t2v and v2t from the run config (``model.align``); with ``model.align.init_from_codebook`` their input
    embeddings start from the shared codebook; with ``model.align.aligners_init`` (a folder holding ``align_t2v/`` and
    ``align_v2t/``, e.g. committed resume weights) they start from those weights (a fresh optimizer)."""
    config = AdapterAlignmentConfig.from_seed(cfg)
    start = (cfg.model.get("align") or {}).get("aligners_init")
    if start:
        t2v, v2t = (AdapterAlignment.from_pretrained(Path(start) / name) for name in ("align_t2v", "align_v2t"))
        if t2v.config != config or v2t.config != config:
            raise ValueError(f"the aligners in {start} have another architecture than model.align: {t2v.config} vs {config}")
        return t2v.float(), v2t.float()
    t2v, v2t = AdapterAlignment(config), AdapterAlignment(config)
    if (cfg.model.get("align") or {}).get("init_from_codebook", False):
        codebook = temporal.quantize.codebook.detach()
        t2v.init_from_codebook(codebook)
        v2t.init_from_codebook(codebook)
    return t2v, v2t


def _initial_tokenizers(cfg: DictConfig) -> tuple[TimeArtist, VisionModel]:
    init = cfg.experiment.get("init_weight")
    if not init:
        raise ValueError("alignment needs experiment.init_weight: the warm-up export folder (temporal/, visual/)")
    return load_tokenizer_pair(init)


def export_task(cfg: DictConfig) -> AlignTask:
    """The task with the run config's tokenizers and aligners and no data: what ``timeartist export --checkpoint``
    loads a checkpoint into before its ``save_pretrained``."""
    temporal, visual = _initial_tokenizers(cfg)
    return AlignTask(temporal, visual, *build_aligners(cfg, temporal))


def run_align(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> Path:
    """Train stage 2 from a run config with ``key=value`` overrides. ``experiment.init_weight`` names the
    warm-up export (``temporal/``, ``visual/``). Returns the export folder, a ``TimeArtistPipeline`` folder
    (``temporal/``, ``visual/``, ``align_t2v/``, ``align_v2t/``, ``timeartist_index.json``). Resumes a run in the
    same output_dir."""
    cfg = load_run_config(config, overrides)
    settings = trainer_config(cfg)
    record_run(cfg, "align")
    temporal, visual = _initial_tokenizers(cfg)
    torch.manual_seed(settings.seed)
    t2v, v2t = build_aligners(cfg, temporal)
    losses = cfg.get("losses") or {}
    eval_size = int(cfg.dataset.params.get("heldout_size", EVAL_CHUNK))
    images = image_data(cfg)
    if images is None:
        raise ValueError("alignment needs dataset.params.image_dirs")
    objective = losses.get("objective", "pseudo_pairs")
    if objective in ("realism", "prior"):
        from timeartist.models.efficientnet import load_efficientnet_lite0

        pairs = OmegaConf.merge(cfg, {"dataset": {"preprocessing": {"seq_len": 2 * int(cfg.dataset.preprocessing.seq_len)}}})
        common = dict(
            consistency_weight=float(losses.get("consistency_weight", 0.1)),
            cycle_weight=float(losses.get("cycle_weight", 1.0)), temperature=float(losses.get("cycle_temperature", 1.0)),
            epsilon=float(losses.get("sinkhorn_epsilon", 0.05)), contrast_temperature=float(losses.get("contrast_temperature", 0.1)),
            bank_size=int(losses.get("bank_size", 512)), bank_refresh=int(losses.get("bank_refresh", 500)),
            heldout_series=spread_items(PairedWindows(series_data(pairs, heldout=True)), eval_size), seed=settings.seed,
        )  # fmt: skip
        features = PictureFeatures(load_efficientnet_lite0(), int(losses.get("feature_size", 128)))
        if objective == "realism":
            task = RealismAlignTask(temporal, visual, t2v, v2t, features, images, realism_weight=float(losses.get("realism_weight", 1.0)), **common)
        else:
            from timeartist.models.generator import TokenGenerator

            generator = TokenGenerator.from_pretrained(Path(cfg.experiment.init_weight) / "generator")
            task = PriorAlignTask(temporal, visual, t2v, v2t, features, images, generator=generator,
                                  prior_weight=float(losses.get("prior_weight", 1.0)), mask_ratio=float(losses.get("mask_ratio", 0.5)), **common)  # fmt: skip
        return Trainer(task, settings, ZipDataset(series=PairedWindows(series_data(pairs)))).fit()
    task = AlignTask(
        temporal,
        visual,
        t2v,
        v2t,
        epsilon=float(losses.get("sinkhorn_epsilon", 0.05)),
        iterations=int(losses.get("sinkhorn_iterations", 100)),
        cycle_weight=float(losses.get("cycle_weight", 0.0)),
        temperature=float(losses.get("cycle_temperature", 1.0)),
        heldout_series=spread_items(series_data(cfg, heldout=True), eval_size),
        heldout_images=spread_items(image_data(cfg, heldout=True), eval_size),
    )
    return Trainer(task, settings, ZipDataset(series=series_data(cfg), images=images)).fit()
