"""Validation evidence for a series tokenizer: its round-trip MSE against the equal-bit DCT code on the ETTh1 / ETTh2
VALIDATION windows, overall and by DCT frequency band, and its codebook use over the ETTh1 / ETTh2 / ETTm1
validation windows. Never reads a test window; ``timeartist bench tokenizer`` reports the same comparison and the
same codebook count on the test windows.

The DCT code is the bench's (``evaluation.tokenizer.dct_reference`` at the tokenizer's bit budget); validation
windows are z-scored, 512 steps, every 29th. The band rows split each method's squared error over the DCT
coefficients 0-7, 8-31, 32-63, 64-127 and 128-511 (per step, summing to the MSE). Codebook use counts the tokens
of pooled validation windows at the stride that gives ``tokens_per_code`` x K tokens, as the bench does.

    .venv/bin/python benchmarks/series_dct_validation.py src/timeartist/assets/default_model/temporal resume/series_ft/temporal
"""

from __future__ import annotations

import argparse
import json
import logging
import math

import numpy as np
import torch
from scipy.fft import dct

from timeartist.evaluation.code_space import codebook_use, encode_ids, round_trip_tokens
from timeartist.evaluation.heldout import heldout_windows, ltsf_windows, views_for
from timeartist.evaluation.tokenizer import FULL, dct_reference
from timeartist.models import TimeArtist

logger = logging.getLogger("series_dct_validation")
BANDS = ((0, 8), (8, 32), (32, 64), (64, 128), (128, None))
VAL_STRIDE = 29


def band_errors(reconstruction: np.ndarray, windows: np.ndarray) -> dict[str, float]:
    """Squared error per step of reconstructions (W, L) of windows (W, L), split by DCT band."""
    energy = dct(reconstruction - windows, norm="ortho", axis=-1) ** 2 / windows.shape[-1]
    return {f"{a}-{(b or windows.shape[-1]) - 1}": float(energy[:, a:b].sum(-1).mean()) for a, b in BANDS}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizers", nargs="+", help="TimeArtist folders (a pipeline's temporal/)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--datasets", default="ETTh1,ETTh2")
    parser.add_argument("--usage-datasets", default="ETTh1,ETTh2,ETTm1", help="pooled for codebook use")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = {path: TimeArtist.from_pretrained(path).eval() for path in args.tokenizers}
    first = next(iter(models.values()))
    length, budget = first.seq_len, first.num_latent_tokens * math.log2(first.quantize.codebook_size)
    results = {}
    for name in args.datasets.split(","):
        code, _ = dct_reference(name, args.data_root, length, budget)
        val = ltsf_windows(name, args.data_root, "val", length, VAL_STRIDE)
        reference = code.reconstruct(val)
        rows = {code.name: {"mse": float(np.mean((reference - val) ** 2)), "bands": band_errors(reference, val)}}
        for path, model in models.items():
            reconstruction = round_trip_tokens(model, torch.from_numpy(val).float(), 64)[0].double().numpy()
            mse = float(np.mean((reconstruction - val) ** 2))
            rows[path] = {"mse": mse, "ratio_to_dct": mse / rows[code.name]["mse"], "bands": band_errors(reconstruction, val)}
        results[name] = {"windows": len(val), **rows}
        for key, row in rows.items():
            logger.info("%s (%d val windows) %s: MSE %.4f%s, bands %s", name, len(val), key, row["mse"],
                        f" ({row['ratio_to_dct']:.3f} x DCT)" if "ratio_to_dct" in row else "", {k: round(v, 4) for k, v in row["bands"].items()})  # fmt: skip
    wanted = views_for(FULL.tokens_per_code, first.quantize.codebook_size, first.num_latent_tokens)
    windows, _ = heldout_windows(args.usage_datasets.split(","), args.data_root, length, wanted, split="val")
    pooled = torch.from_numpy(np.concatenate(list(windows.values()))).float()
    results["codebook_use"] = {path: codebook_use(encode_ids(model, pooled, 64), model.quantize) for path, model in models.items()}
    for path, use in results["codebook_use"].items():
        logger.info("codebook use over %d val windows, %s: %.1f%% (perplexity %.0f)", len(pooled), path, 100 * use["usage"], use["perplexity"])
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
