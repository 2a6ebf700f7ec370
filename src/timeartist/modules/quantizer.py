"""The shared Multi-Head Quantizer (MHQ): one discrete code space for series and image tokens.

``heads=1`` is TiTok's l2-normalised vector quantizer (bytedance/1d-tokenizer): the single table is stored as
``embedding.weight`` (K, D), so a TiTok checkpoint's ``quantize.embedding.weight`` loads strictly.

``heads=H>1`` is a hierarchical residual quantizer. Head h owns a codebook ``codebooks.{h}.weight`` (K_h, D)
with prod K_h = K. Head 0 quantises the (l2-normalised) latent, every next head the residual the heads before
it left. The token's code is the sum of its head codes (re-normalised when ``use_l2_norm``), and its global
index is the mixed-radix number of the head indices, head 0 most significant:

    k = i_0 * (K_1 * ... * K_{H-1}) + i_1 * (K_2 * ... * K_{H-1}) + ... + i_{H-1}

so coarse heads (trend / semantics) pick the leading digit and fine heads (seasonality / pixels) the trailing ones.

Losses per head h with residual r_h and chosen code c_h (sg = stop-gradient), summed over heads:
    codebook_loss   = mean((c_h - sg(r_h))^2)
    commitment_loss = beta * mean((sg(c_h) - r_h)^2)
The straight-through estimator passes the decoder's gradient on the final code straight to the latent.

Dead codes: with ``dead_code_threshold > 0`` every training forward updates an exponential moving average of
how many tokens each head code received per call (summed over processes under torch.distributed). Call
``reseed_dead_codes(z)`` after the optimiser step to move codes whose average is below the threshold onto
random latents (head 0) or residuals (later heads) of the batch. The averages are runtime state, kept in a
non-persistent buffer (not in the state dict, so checkpoints stay TiTok-compatible); after construction or
loading they rebuild over the first ``USAGE_WINDOW`` training calls, and nothing is re-seeded before that.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

logger = logging.getLogger(__name__)

USAGE_DECAY = 0.99
USAGE_WINDOW = round(1 / (1 - USAGE_DECAY))  # calls averaged before the usage EMA is trusted


def default_head_codebook_sizes(codebook_size: int, heads: int) -> tuple[int, ...]:
    """Equal head sizes K ** (1/heads); ValueError when K is not a perfect power of ``heads``."""
    side = round(codebook_size ** (1.0 / heads))
    if side**heads != codebook_size:
        raise ValueError(
            f"codebook_size={codebook_size} is not a perfect {heads}-th power, so it cannot be split into {heads} "
            f"equal heads; pass head_codebook_sizes whose product is {codebook_size}"
        )
    return (side,) * heads


def _check_head_sizes(head_codebook_sizes: tuple[int, ...], codebook_size: int, heads: int) -> None:
    if len(head_codebook_sizes) != heads or min(head_codebook_sizes) < 1:
        raise ValueError(f"expected {heads} positive head codebook sizes, got {tuple(head_codebook_sizes)}")
    if math.prod(head_codebook_sizes) != codebook_size:
        raise ValueError(
            f"head_codebook_sizes {tuple(head_codebook_sizes)} multiply to {math.prod(head_codebook_sizes)}, "
            f"expected codebook_size={codebook_size}"
        )


def _check_index_tensor(indices: Tensor, codebook_size: int) -> None:
    if not isinstance(indices, Tensor) or indices.dtype == torch.bool or indices.is_floating_point() or indices.is_complex():
        got = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise ValueError(f"expected an integer tensor of code indices, got {got}")
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= codebook_size):
        raise ValueError(
            f"code indices must lie in [0, {codebook_size}), got values in [{int(indices.min())}, {int(indices.max())}]"
        )


def _radix_strides(head_codebook_sizes: tuple[int, ...], device: torch.device) -> Tensor:
    """(H,) place values of the mixed-radix digits, head 0 most significant."""
    strides = [math.prod(head_codebook_sizes[h + 1 :]) for h in range(len(head_codebook_sizes))]
    return torch.tensor(strides, dtype=torch.long, device=device)


def split_global_index(indices: Tensor, head_codebook_sizes: tuple[int, ...]) -> Tensor:
    """Global indices (*S) in [0, prod K_h) -> per-head indices (*S, H), head 0 most significant."""
    _check_index_tensor(indices, math.prod(head_codebook_sizes))
    sizes = torch.tensor(head_codebook_sizes, dtype=torch.long, device=indices.device)
    return (indices.long().unsqueeze(-1) // _radix_strides(head_codebook_sizes, indices.device)) % sizes


def merge_head_indices(head_indices: Tensor, head_codebook_sizes: tuple[int, ...]) -> Tensor:
    """Per-head indices (*S, H) -> global indices (*S); inverse of ``split_global_index``."""
    if not isinstance(head_indices, Tensor) or head_indices.ndim == 0 or head_indices.shape[-1] != len(head_codebook_sizes):
        got = tuple(head_indices.shape) if isinstance(head_indices, Tensor) else type(head_indices).__name__
        raise ValueError(f"expected head indices (*S, {len(head_codebook_sizes)}), got {got}")
    for h, size in enumerate(head_codebook_sizes):
        _check_index_tensor(head_indices[..., h], size)
    return _merge_digits(head_indices, head_codebook_sizes)


def _merge_digits(head_indices: Tensor, head_codebook_sizes: tuple[int, ...]) -> Tensor:
    return (head_indices.long() * _radix_strides(head_codebook_sizes, head_indices.device)).sum(-1)


def _distribution_stats(indices: Tensor, codebook_size: int) -> dict[str, float]:
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).double()
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * p.log2()).sum())
    return {"usage": float((counts > 0).sum()) / codebook_size, "entropy": entropy, "perplexity": 2.0**entropy}


def codebook_stats(indices: Tensor, codebook_size: int, head_codebook_sizes: tuple[int, ...] | None = None) -> dict:
    """How well a set of tokens uses the codebook.

    indices: integer tensor of any shape with global code indices in [0, codebook_size).
    Returns floats ``usage`` (distinct codes used / K), ``entropy`` (bits, of the empirical code distribution;
    at most log2 K) and ``perplexity`` (2 ** entropy, the effective number of codes). With
    ``head_codebook_sizes`` the same three are added per head as ``head{h}_usage`` etc. (h as in
    ``codebooks.{h}``), measured on each head's digit of the global index.
    """
    _check_index_tensor(indices, codebook_size)
    if indices.numel() == 0:
        raise ValueError("expected at least one code index, got an empty tensor")
    stats = _distribution_stats(indices.long(), codebook_size)
    if head_codebook_sizes is not None:
        _check_head_sizes(head_codebook_sizes, codebook_size, len(head_codebook_sizes))
        digits = split_global_index(indices, tuple(head_codebook_sizes))
        for h, size in enumerate(head_codebook_sizes):
            for name, value in _distribution_stats(digits[..., h], size).items():
                stats[f"head{h}_{name}"] = value
    return stats


def share_quantizer(owner: nn.Module, other: nn.Module, mismatch: Exception) -> None:
    """Make tokenizer ``other`` use tokenizer ``owner``'s quantizer (``.quantize``) after checking that both hold the
    same codebook (any device or shape); ``mismatch`` is raised when they do not."""
    own = owner.quantize.codebook
    if not torch.equal(other.quantize.codebook.to(own), own):
        raise mismatch
    other.quantize = owner.quantize


def _code_distances(x: Tensor, table: Tensor) -> Tensor:
    """(M, D), (K, D) -> (M, K) squared euclidean distances less ||x||^2. That term is the same for every code of a
    row, so it changes neither the nearest code nor a softmax over the codes; leaving it out makes this one fused
    matmul instead of three (M, K) passes, which dominated encoding on a CPU."""
    return torch.addmm(table.pow(2).sum(1), x, table.t(), alpha=-2)


def _forget_usage(quantizer: "MultiHeadQuantizer", incompatible_keys=None) -> None:
    quantizer.code_usage.zero_()
    quantizer._usage_calls = 0


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class MultiHeadQuantizer(nn.Module):
    """Vector quantizer with one or more hierarchical residual heads and one global index per token.

    Args:
        codebook_size: K, number of global codes.
        token_size: D, latent channels.
        heads: H, number of residual heads; 1 is TiTok's VQ.
        use_l2_norm: quantise directions (latent and codes on the unit sphere), as TiTok.
        commitment_cost: beta, weight of the commitment term.
        head_codebook_sizes: (K_0, ..., K_{H-1}) with product K; default K ** (1/H) each.
        dead_code_threshold: re-seed codes whose EMA count of tokens per training call is below this
            (e.g. 1.0: on average less than one token per batch); 0 turns usage tracking and re-seeding off.
    """

    def __init__(
        self,
        codebook_size: int = 4096,
        token_size: int = 12,
        heads: int = 1,
        use_l2_norm: bool = True,
        commitment_cost: float = 0.25,
        head_codebook_sizes: tuple[int, ...] | None = None,
        dead_code_threshold: float = 0.0,
    ):
        super().__init__()
        for name, value in (("codebook_size", codebook_size), ("token_size", token_size), ("heads", heads)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if commitment_cost < 0 or dead_code_threshold < 0:
            raise ValueError(
                f"commitment_cost and dead_code_threshold must be >= 0, got {commitment_cost} and {dead_code_threshold}"
            )
        if head_codebook_sizes is None:
            head_codebook_sizes = default_head_codebook_sizes(codebook_size, heads)
        head_codebook_sizes = tuple(int(k) for k in head_codebook_sizes)
        _check_head_sizes(head_codebook_sizes, codebook_size, heads)
        self.codebook_size = codebook_size
        self.token_size = token_size
        self.heads = heads
        self.use_l2_norm = use_l2_norm
        self.commitment_cost = commitment_cost
        self.head_codebook_sizes = head_codebook_sizes
        self.dead_code_threshold = dead_code_threshold

        if heads == 1:
            self.embedding = nn.Embedding(codebook_size, token_size)  # TiTok's key: embedding.weight
        else:
            self.codebooks = nn.ModuleList(nn.Embedding(k, token_size) for k in head_codebook_sizes)
        # EMA tokens per code per training call, all heads concatenated; runtime state only (see module docstring).
        self.register_buffer("code_usage", torch.zeros(sum(head_codebook_sizes)), persistent=False)
        self._usage_calls = 0
        self.register_load_state_dict_post_hook(_forget_usage)  # statistics of old codes say nothing of new ones
        self.reset_parameters()

    @property
    def head_weights(self) -> list[nn.Parameter]:
        """Raw codebook parameters, one (K_h, D) per head."""
        return [self.embedding.weight] if self.heads == 1 else [cb.weight for cb in self.codebooks]

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """TiTok's uniform(-1/K, 1/K) for head 0. Later heads get random directions at the scale of the residual
        the previous heads leave on the unit sphere (cell radius ~ K_prev ** (-1/(D-1))), so they refine from the
        first step instead of starting as near-zero codes. Models call this again after their own init sweep."""
        weights = self.head_weights
        weights[0].uniform_(-1.0 / self.codebook_size, 1.0 / self.codebook_size)
        scale = 1.0
        for h in range(1, self.heads):
            scale *= self.head_codebook_sizes[h - 1] ** (-1.0 / max(self.token_size - 1, 1))
            weights[h].copy_(F.normalize(torch.randn_like(weights[h]), dim=-1) * scale)
        _forget_usage(self)

    def _head_tables(self) -> list[Tensor]:
        """The codes as the heads use them, fp32: head 0 on the unit sphere when l2 is on, residual heads raw."""
        tables = [w.float() for w in self.head_weights]
        if self.use_l2_norm:
            tables[0] = F.normalize(tables[0], dim=-1)
        return tables

    def _finish(self, code_sum: Tensor) -> Tensor:
        return F.normalize(code_sum, dim=-1) if self.use_l2_norm else code_sum

    @property
    def codebook(self) -> Tensor:
        """(K, D) global codes exactly as the decoders receive them; row k is the code of global index k."""
        return self._finish(self._code_sums())

    def _code_sums(self) -> Tensor:
        """(K, D) sums of head codes for every global index (row-major = mixed radix, head 0 most significant)."""
        tables = self._head_tables()
        sums = tables[0]
        for table in tables[1:]:
            sums = rearrange(sums[:, None, :] + table[None, :, :], "a b d -> (a b) d")
        return sums

    def _check_latent(self, z: Tensor) -> None:
        if not isinstance(z, Tensor) or not z.is_floating_point():
            got = z.dtype if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"expected a float latent tensor (B, D, 1, N), got {got}")
        if z.ndim != 4 or z.shape[1] != self.token_size or z.shape[2] != 1:
            raise ValueError(f"expected latents of shape (B, {self.token_size}, 1, N), got {tuple(z.shape)}")
        if not torch.isfinite(z).all():
            raise ValueError("expected finite latents, got NaN or inf values")

    def _token_rows(self, z: Tensor) -> Tensor:
        """Latents (B, D, 1, N) -> one fp32 row per token (B*N, D), on the unit sphere when ``use_l2_norm``:
        what head 0 quantises."""
        x = rearrange(z.float(), "b d h n -> (b h n) d")
        return F.normalize(x, dim=-1) if self.use_l2_norm else x

    def _residual_quantise(self, x: Tensor, tables: list[Tensor]) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """x (M, D) -> per-head residuals [(M, D)], chosen codes [(M, D)] and head indices (M, H)."""
        residual, residuals, codes, digits = x, [], [], []
        for table in tables:
            idx = _code_distances(residual.detach(), table.detach()).argmin(dim=1)
            code = F.embedding(idx, table)
            residuals.append(residual)
            codes.append(code)
            digits.append(idx)
            residual = residual - code.detach()  # later heads must not move earlier codes
        return residuals, codes, torch.stack(digits, dim=-1)

    def forward(self, z: Tensor) -> tuple[Tensor, dict]:
        """z: (B, D, 1, N) float -> z_q (B, D, 1, N) fp32 with straight-through gradients, and a dict with
        quantizer_loss, commitment_loss, codebook_loss (0-dim fp32) and min_encoding_indices (B, 1, N) long,
        one global index in [0, K) per token. Runs in fp32 with autocast disabled."""
        self._check_latent(z)
        batch, _, height, tokens = z.shape
        with torch.autocast(device_type=z.device.type, enabled=False):
            x = self._token_rows(z)
            residuals, codes, digits = self._residual_quantise(x, self._head_tables())
            commitment_loss = sum(torch.mean((c.detach() - r) ** 2) for r, c in zip(residuals, codes))
            codebook_loss = sum(torch.mean((c - r.detach()) ** 2) for r, c in zip(residuals, codes))
            commitment_loss = self.commitment_cost * commitment_loss
            q = self._finish(torch.stack(codes).sum(0))
            q = x + (q - x).detach()
            if self.training and self.dead_code_threshold > 0:
                self._update_usage(digits)
        indices = _merge_digits(digits, self.head_codebook_sizes)
        z_q = rearrange(q, "(b h n) d -> b d h n", b=batch, h=height, n=tokens)
        return z_q, {
            "quantizer_loss": commitment_loss + codebook_loss,
            "commitment_loss": commitment_loss,
            "codebook_loss": codebook_loss,
            "min_encoding_indices": rearrange(indices, "(b h n) -> b h n", b=batch, h=height, n=tokens),
        }

    def soft_assignments(self, z: Tensor, temperature: float = 0.05) -> list[Tensor]:
        """z: (B, D, 1, N) latents -> one (B*N, K_h) float32 distribution over each head's codes,
        softmax(-||r_h - c||^2 / temperature) with r_h the residual head h quantises (as in ``forward``).
        Differentiable in the latents and the codes; what a code-entropy regulariser reads."""
        self._check_latent(z)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            x = self._token_rows(z)
            tables = self._head_tables()
            residuals, _, _ = self._residual_quantise(x, tables)
            return [torch.softmax(-_code_distances(r, t) / temperature, dim=-1) for r, t in zip(residuals, tables)]

    @torch.no_grad()
    def _update_usage(self, digits: Tensor) -> None:
        """digits (M, H): add this call's tokens-per-code counts to the EMA (a plain running mean for the first
        USAGE_WINDOW calls, so the average is unbiased from the start)."""
        counts = torch.cat(
            [torch.bincount(digits[:, h], minlength=k) for h, k in enumerate(self.head_codebook_sizes)]
        ).to(self.code_usage)
        if _distributed():
            torch.distributed.all_reduce(counts)
        self._usage_calls += 1
        decay = min(USAGE_DECAY, 1.0 - 1.0 / self._usage_calls)
        self.code_usage.mul_(decay).add_(counts, alpha=1.0 - decay)

    def get_codebook_entry(self, indices_or_weights: Tensor) -> Tensor:
        """Long global indices of any shape S -> codes (*S, D) fp32.
        Float weights (M, K) -> (M, D): the weighted mix of the summed head codes (soft, differentiable lookup;
        for heads=1 TiTok mixes the raw rows, we mix the unit rows the quantizer actually emits).
        The output is re-normalised when use_l2_norm."""
        x = indices_or_weights
        if isinstance(x, Tensor) and x.is_floating_point():
            if x.ndim != 2 or x.shape[1] != self.codebook_size:
                raise ValueError(f"expected soft weights of shape (M, {self.codebook_size}), got {tuple(x.shape)}")
            return self._finish(x.float() @ self._code_sums())
        digits = split_global_index(x, self.head_codebook_sizes)
        codes = [F.embedding(digits[..., h], table) for h, table in enumerate(self._head_tables())]
        return self._finish(torch.stack(codes).sum(0))

    @torch.no_grad()
    def reseed_dead_codes(self, z: Tensor) -> int:
        """Move codes whose EMA usage is below ``dead_code_threshold`` onto random latents of z (B, D, 1, N):
        head 0 onto the (normalised) latents, later heads onto the residuals the heads before them leave.
        Returns how many codes moved (0 when re-seeding is off or fewer than USAGE_WINDOW calls were seen).
        Call after the optimiser step; under torch.distributed every process must call it, rank 0's codes win."""
        self._check_latent(z)
        if self.dead_code_threshold <= 0 or self._usage_calls < USAGE_WINDOW:
            return 0
        residual = self._token_rows(z)
        usage = torch.split(self.code_usage, list(self.head_codebook_sizes))
        reseeded = 0
        for h, weight in enumerate(self.head_weights):
            dead = (usage[h] < self.dead_code_threshold).nonzero().squeeze(1)
            if dead.numel():
                # distinct latents when there are enough, so re-seeded codes do not tie
                pick = torch.randperm(residual.shape[0], device=residual.device)[: dead.numel()]
                if pick.numel() < dead.numel():
                    pick = torch.randint(residual.shape[0], (dead.numel(),), device=residual.device)
                weight[dead] = residual[pick].to(weight.dtype)
                usage[h][dead] = usage[h].mean()  # a fair start, so a fresh code is not judged dead at once
                reseeded += dead.numel()
            table = self._head_tables()[h]
            idx = _code_distances(residual, table).argmin(dim=1)
            residual = residual - table[idx]
        if _distributed():
            for weight in self.head_weights:
                torch.distributed.broadcast(weight.data, src=0)
            torch.distributed.broadcast(self.code_usage, src=0)
        if reseeded:
            logger.debug("re-seeded %d dead codes", reseeded)
        return reseeded

    def extra_repr(self) -> str:
        return (
            f"codebook_size={self.codebook_size}, token_size={self.token_size}, heads={self.heads}, "
            f"head_codebook_sizes={self.head_codebook_sizes}, use_l2_norm={self.use_l2_norm}, "
            f"commitment_cost={self.commitment_cost}, dead_code_threshold={self.dead_code_threshold}"
        )
