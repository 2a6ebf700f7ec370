"""Training losses: balanced optimal-transport matching for unpaired alignment, an LPIPS-style perceptual image
loss and a code-entropy regulariser.

Sinkhorn (Cuturi 2013) in the log domain: for a cost matrix C (B, B') and uniform marginals it returns the plan
P = diag(u) exp(-C / eps) diag(v) with row sums 1/B and column sums 1/B'. ``eps`` is relative to the standard
deviation of the costs, so neither the scale of the code vectors nor a common offset changes the plan; a small
eps gives a near-permutation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


def code_distance(series_codes: Tensor, image_codes: Tensor) -> Tensor:
    """Position-wise squared distance between two batches of code sequences.

    series_codes (B, D, 1, N), image_codes (B', D, 1, N) -> (B, B') with entry sum_n ||a_i[:, n] - b_j[:, n]||^2.
    Meaningful because both sequences live in one shared codebook.
    """
    if series_codes.ndim != 4 or series_codes.shape[1:] != image_codes.shape[1:]:
        raise ValueError(
            f"expected code batches (B, D, 1, N) with equal D and N, got {tuple(series_codes.shape)} and "
            f"{tuple(image_codes.shape)}"
        )
    a = rearrange(series_codes.float(), "b d 1 n -> b (n d)")
    b = rearrange(image_codes.float(), "b d 1 n -> b (n d)")
    return torch.cdist(a, b).pow(2)


@torch.no_grad()
def sinkhorn(cost: Tensor, epsilon: float = 0.05, iterations: int = 100) -> Tensor:
    """Balanced entropic OT plan (B, B') for ``cost`` (B, B') with uniform marginals; ``epsilon`` is a fraction
    of the costs' standard deviation. Rows sum to 1/B and columns to 1/B' (up to the iteration tolerance)."""
    if cost.ndim != 2 or min(cost.shape) < 1 or not torch.isfinite(cost).all():
        raise ValueError(f"expected a finite cost matrix (B, B'), got shape {tuple(cost.shape)}")
    if epsilon <= 0 or iterations < 1:
        raise ValueError(f"expected epsilon > 0 and iterations >= 1, got {epsilon} and {iterations}")
    cost = cost.double()
    rows, cols = cost.shape
    # relative to the spread of the costs, so neither their scale nor a common offset changes the plan
    log_k = -cost / (epsilon * cost.std().clamp_min(1e-12) if cost.numel() > 1 else epsilon)
    log_a, log_b = -math.log(rows), -math.log(cols)
    f = torch.zeros(rows, dtype=cost.dtype, device=cost.device)
    g = torch.zeros(cols, dtype=cost.dtype, device=cost.device)
    for _ in range(iterations):
        f = log_a - torch.logsumexp(log_k + g[None, :], dim=1)
        g = log_b - torch.logsumexp(log_k + f[:, None], dim=0)
    return torch.exp(log_k + f[:, None] + g[None, :]).float()


def match_pairs(cost: Tensor, epsilon: float = 0.05, iterations: int = 100) -> tuple[Tensor, Tensor]:
    """Pseudo-pairs from the Sinkhorn plan: (row_match (B,), col_match (B',)) with row_match[i] the column
    (image) matched to row i (series) and col_match[j] the row matched to column j. For B = B' and a small
    epsilon both are permutations, inverse to each other."""
    plan = sinkhorn(cost, epsilon, iterations)
    return plan.argmax(dim=1), plan.argmax(dim=0)


class PerceptualLoss(nn.Module):
    """LPIPS-style distance on the feature maps of a frozen network (EfficientNet-Lite0 ``stage_features``).

    Per feature map, each position's channel vector is scaled to unit length (as LPIPS does, so no layer dominates
    by its activation scale), the squared difference is summed over channels and averaged over positions; the
    loss is the mean over maps. No learned layer weights: LPIPS's calibration weights are not available offline.
    The network stays in eval mode whatever ``train()`` says, so its BatchNorm statistics never move.

    forward(reconstruction (B, 3, H, W), target (B, 3, H, W)), both in [0, 1] -> 0-dim loss in [0, 4].
    """

    def __init__(self, network: nn.Module, stages: int = 4):
        super().__init__()
        if not hasattr(network, "stage_features"):
            raise ValueError(f"expected a network with a stage_features(images, stages) method, got {type(network).__name__}")
        self.network = network.eval().requires_grad_(False)
        self.stages = stages

    def train(self, mode: bool = True) -> "PerceptualLoss":
        return super().train(False)

    def forward(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            wanted = self.network.stage_features(target, self.stages)
        got = self.network.stage_features(reconstruction.clamp(0, 1), self.stages)
        distances = [(F.normalize(a, dim=1) - F.normalize(b, dim=1)).pow(2).sum(1).mean() for a, b in zip(got, wanted)]
        return torch.stack(distances).mean()


def code_entropy_loss(assignments: list[Tensor]) -> Tensor:
    """Entropy regulariser against codebook collapse (as MaskGIT / MAGVIT-v2 use), summed over heads.

    assignments: per head a (M, K_h) distribution of each token over the head's codes (e.g.
    ``MultiHeadQuantizer.soft_assignments``). Per head, with p_m a token's distribution and p the batch mean:
        (mean_m H(p_m) - H(p)) / log K_h
    Minimising it makes every token confident (low H(p_m)) while the batch spreads over all codes (high H(p)).
    Each head's term lies in [-1, 1]; -1 means one confident token per code, all codes used equally."""
    if not assignments:
        raise ValueError("expected at least one head's assignments, got none")
    total = assignments[0].new_zeros(())
    for probs in assignments:
        if probs.ndim != 2 or probs.shape[1] < 2:
            raise ValueError(f"expected assignments (M, K) with K >= 2, got {tuple(probs.shape)}")
        log_probs = probs.clamp_min(1e-12).log()
        token_entropy = -(probs * log_probs).sum(-1).mean()
        mean = probs.mean(0)
        batch_entropy = -(mean * mean.clamp_min(1e-12).log()).sum()
        total = total + (token_entropy - batch_entropy) / math.log(probs.shape[1])
    return total
