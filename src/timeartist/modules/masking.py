"""Mask schedules for masked-token generation (MaskGIT): how many of N tokens stay masked as decoding goes on.

A schedule maps progress ``t`` in [0, 1] to the fraction of tokens still masked, from 1 at ``t = 0`` (all
masked) down to 0 at ``t = 1`` (none masked), never increasing:

    cosine   cos(pi t / 2)             MaskGIT's default: few tokens early, many late
    arccos   arccos(t) / (pi / 2)      TiTok's generators: many tokens early
    linear   1 - t
    square   1 - t^2
    sqrt     1 - sqrt(t)

Training draws one ``t ~ U(0, 1)`` per sequence and masks that fraction (``random_token_mask``); decoding walks
``t = s / steps`` and keeps the integer counts of ``masked_counts`` masked after step ``s``. These are building
blocks with no model knowledge.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

MASK_SCHEDULES: dict[str, Callable[[Tensor], Tensor]] = {
    "cosine": lambda t: torch.cos(t * (math.pi / 2)),
    "arccos": lambda t: torch.arccos(t) / (math.pi / 2),
    "linear": lambda t: 1.0 - t,
    "square": lambda t: 1.0 - t.square(),
    "sqrt": lambda t: 1.0 - t.sqrt(),
}


def check_schedule(name: str) -> str:
    """Return ``name`` if it is a known schedule; ValueError listing the known ones otherwise."""
    if name not in MASK_SCHEDULES:
        raise ValueError(f"unknown mask schedule {name!r}; expected one of {sorted(MASK_SCHEDULES)}")
    return name


def mask_ratio(progress: Tensor | float, schedule: str = "cosine") -> Tensor:
    """Fraction of tokens still masked at ``progress`` in [0, 1] (tensor of any shape, float64 for floats)."""
    t = torch.as_tensor(progress, dtype=torch.float64) if not isinstance(progress, Tensor) else progress
    if not t.is_floating_point():
        t = t.double()
    if bool(((t < 0) | (t > 1) | t.isnan()).any()):
        raise ValueError(f"progress must lie in [0, 1], got values in [{float(t.min())}, {float(t.max())}]")
    return MASK_SCHEDULES[check_schedule(schedule)](t).clamp(0.0, 1.0)


def masked_counts(num_tokens: int, steps: int, schedule: str = "cosine") -> list[int]:
    """Tokens still masked before decoding (index 0) and after each of ``steps`` steps: ``steps + 1`` ints.

    ``counts[0] == num_tokens``, ``counts[steps] == 0``, and every step reveals at least one token
    (``counts`` strictly decreases), so the per-step reveals ``counts[s-1] - counts[s]`` are >= 1 and sum to
    ``num_tokens``. Within those limits ``counts[s] = floor(num_tokens * ratio(s / steps))``.
    """
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be >= 1, got {num_tokens}")
    if not 1 <= steps <= num_tokens:
        raise ValueError(f"steps must lie in [1, {num_tokens}] (each step reveals at least one of the {num_tokens} tokens), got {steps}")
    ratios = mask_ratio(torch.arange(steps + 1, dtype=torch.float64) / steps, schedule)
    counts = [num_tokens]
    for s in range(1, steps + 1):
        wanted = math.floor(num_tokens * float(ratios[s]) + 1e-9)  # guard against cos(pi/2 * 1/2)*N rounding below
        # reveal at least one now, and leave at least one for each remaining step
        counts.append(min(counts[-1] - 1, max(steps - s, wanted)))
    return counts


def random_token_mask(
    batch: int,
    num_tokens: int,
    schedule: str = "cosine",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Training mask (batch, num_tokens) bool, True = masked.

    Per row ``t ~ U(0, 1)``, ``round(num_tokens * ratio(t))`` tokens (at least 1) at uniformly random positions.
    Random numbers come from ``generator`` (or the global RNG) on its own device, then move to ``device``.
    """
    if batch < 1 or num_tokens < 1:
        raise ValueError(f"expected batch >= 1 and num_tokens >= 1, got {batch} and {num_tokens}")
    rng_device = generator.device if generator is not None else torch.device(device)
    t = torch.rand(batch, generator=generator, device=rng_device)
    count = (num_tokens * mask_ratio(t, schedule)).round().clamp(min=1)  # (B,)
    # a random permutation per row: the positions holding values below ``count`` are ``count`` random positions
    order = torch.rand(batch, num_tokens, generator=generator, device=rng_device).argsort(dim=-1)
    return (order < count[:, None]).to(device)
