"""Codebook usage of the Multi-Head Quantizer: one global head vs hierarchical residual heads, same K.

A toy autoencoder (2-layer MLP encoder -> (B, D, 1, N) latents -> MultiHeadQuantizer -> 2-layer MLP decoder)
is trained on synthetic sine windows for a few hundred steps, once per quantizer setting, with the same seed,
data and optimiser. Usage, entropy and perplexity are then measured on held-out windows drawn with another
seed, and so is the reconstruction MSE.

    .venv/bin/python benchmarks/quantizer_usage.py            # K=64, D=4, N=8, 400 steps
    .venv/bin/python benchmarks/quantizer_usage.py --steps 800 --threshold 0.5
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
from einops import rearrange
from torch import nn
from tqdm import tqdm

from timeartist.modules.quantizer import MultiHeadQuantizer, codebook_stats


def sine_windows(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """(n, length) z-normalised windows: two sines with random period, phase and amplitude, a slope, noise."""
    t = torch.arange(length, dtype=torch.float32)
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    period = 4 + 60 * rand(n, 2)
    phase = 2 * math.pi * rand(n, 2)
    amp = rand(n, 2) * torch.tensor([1.0, 0.5])
    x = (amp[:, :, None] * torch.sin(2 * math.pi * t / period[:, :, None] + phase[:, :, None])).sum(1)
    x = x + (rand(n, 1) - 0.5) * t / length + 0.05 * torch.randn(n, length, generator=generator)
    return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-5)


class ToyAutoencoder(nn.Module):
    """(B, L) -> latents (B, D, 1, N) -> quantized -> (B, L)."""

    def __init__(self, quantizer: MultiHeadQuantizer, length: int, tokens: int, hidden: int = 128):
        super().__init__()
        self.tokens, self.dim = tokens, quantizer.token_size
        self.encoder = nn.Sequential(nn.Linear(length, hidden), nn.GELU(), nn.Linear(hidden, tokens * self.dim))
        self.quantize = quantizer
        self.decoder = nn.Sequential(nn.Linear(tokens * self.dim, hidden), nn.GELU(), nn.Linear(hidden, length))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return rearrange(self.encoder(x), "b (n d) -> b d 1 n", n=self.tokens, d=self.dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        z = self.encode(x)
        z_q, out = self.quantize(z)
        return self.decoder(rearrange(z_q, "b d 1 n -> b (n d)")), out, z


def run(heads: int, threshold: float, args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    quantizer = MultiHeadQuantizer(args.codebook_size, args.token_size, heads=heads, dead_code_threshold=threshold)
    model = ToyAutoencoder(quantizer, args.length, args.tokens)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    reseeded = 0
    for _ in tqdm(range(args.steps), desc=f"heads={heads} threshold={threshold}", disable=not sys.stderr.isatty()):
        x = sine_windows(args.batch, args.length, train_gen)
        recon, out, z = model(x)
        loss = nn.functional.mse_loss(recon, x) + out["quantizer_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        reseeded += quantizer.reseed_dead_codes(z.detach())
    seconds = time.perf_counter() - start

    model.eval()
    x = sine_windows(args.heldout, args.length, torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        recon, out, _ = model(x)
    stats = codebook_stats(out["min_encoding_indices"], args.codebook_size, quantizer.head_codebook_sizes)
    return dict(stats, heads=heads, threshold=threshold, mse=float(nn.functional.mse_loss(recon, x)),
                reseeded=reseeded, seconds=seconds, sizes="x".join(map(str, quantizer.head_codebook_sizes)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codebook-size", type=int, default=64)
    parser.add_argument("--token-size", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--heldout", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threshold", type=float, default=0.5, help="dead-code threshold for the re-seeding rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)

    rows = [run(h, t, args) for h in (1, 2) for t in (0.0, args.threshold)]
    print(f"K={args.codebook_size}, D={args.token_size}, N={args.tokens}, L={args.length}, steps={args.steps}, "
          f"batch={args.batch}, held-out windows={args.heldout} ({args.heldout * args.tokens} tokens), seed={args.seed}")
    print("| heads | sizes | dead-code threshold | usage | entropy (bits) | perplexity | per-head usage | "
          "held-out MSE | codes re-seeded | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_head = " / ".join(f"{r[f'head{h}_usage']:.2f}" for h in range(r["heads"]))
        print(f"| {r['heads']} | {r['sizes']} | {r['threshold']:g} | {r['usage']:.3f} | {r['entropy']:.2f} | "
              f"{r['perplexity']:.1f} | {per_head} | {r['mse']:.3f} | {r['reseeded']} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
