"""Codebook usage of the Multi-Head Quantizer: one global head vs hierarchical residual heads, same K.

A toy autoencoder (2-layer MLP encoder -> (B, D, 1, N) latents -> MultiHeadQuantizer -> 2-layer MLP decoder)
is trained on synthetic sine windows for a few hundred steps, once per quantizer setting, with the same seed,
data and optimiser. Usage, entropy and perplexity are then measured on held-out windows drawn with another
seed, and so is the reconstruction MSE. Four runs: one head and two heads, each without and with dead-code
re-seeding at ``--threshold``. Results: one row per run, and ``quantizer_usage.png`` (codebook use and held-out MSE).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd
import torch
from einops import rearrange
from torch import nn
from tqdm.auto import tqdm

from timeartist.evaluation.common import add_common_arguments, check_out
from timeartist.evaluation.report import plot_bar_panels, write_results
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


def train_and_measure(heads: int, threshold: float, args: argparse.Namespace) -> dict:
    """Train the toy autoencoder with ``heads`` quantizer heads and dead-code ``threshold``; its held-out codebook
    statistics and MSE."""
    torch.manual_seed(args.seed)
    quantizer = MultiHeadQuantizer(args.codebook_size, args.token_size, heads=heads, dead_code_threshold=threshold)
    model = ToyAutoencoder(quantizer, args.length, args.tokens)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    reseeded = 0
    for _ in tqdm(range(args.steps), desc=f"heads={heads} threshold={threshold}", disable=None):
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codebook-size", type=int, default=64, help="K")
    parser.add_argument("--token-size", type=int, default=4, help="D, the code dimension")
    parser.add_argument("--tokens", type=int, default=8, help="N, tokens per window")
    parser.add_argument("--length", type=int, default=64, help="window length")
    parser.add_argument("--steps", type=int, default=400, help="training steps of each run")
    parser.add_argument("--batch", type=int, default=64, help="windows per training step")
    parser.add_argument("--heldout", type=int, default=1024, help="held-out windows")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--threshold", type=float, default=0.5, help="dead-code threshold of the re-seeding rows")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and the training windows (held out: seed + 1)")
    add_common_arguments(parser, model=False, data=False)


def run(args: argparse.Namespace) -> pd.DataFrame:
    check_out(args.out)
    rows = [train_and_measure(h, t, args) for h in (1, 2) for t in (0.0, args.threshold)]
    frame = pd.DataFrame(rows)
    meta = {"codebook": f"K={args.codebook_size}, D={args.token_size}, N={args.tokens} tokens per window of {args.length}",
            "training": f"{args.steps} steps x {args.batch} windows, Adam lr {args.lr}, seed {args.seed}",
            "held out": f"{args.heldout} windows ({args.heldout * args.tokens} tokens), seed {args.seed + 1}",
            "torch_threads": torch.get_num_threads()}  # fmt: skip
    columns = ["heads", "sizes", "threshold", "usage", "entropy", "perplexity", *[f"head{h}_usage" for h in range(2)], "mse", "reseeded", "seconds"]
    table = frame[[c for c in columns if c in frame]]
    write_results(frame, args.out, meta, {"Codebook use and reconstruction": table}, "Codebook use: one head against two", args.command_line)
    labels = [f"{r.heads} head{'s' * (r.heads > 1)}\nthreshold {r.threshold:g}" for r in frame.itertuples()]
    panels = [(frame["usage"], "share of the K codes used (held out)", f"codebook use, K={args.codebook_size}"),
              (frame["mse"], "held-out MSE", "reconstruction")]  # fmt: skip
    plot_bar_panels(labels, panels, Path(args.out) / "quantizer_usage.png")
    return frame
