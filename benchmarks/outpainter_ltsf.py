"""Validation sweeps for the outpainter (context length, checkpoints): LTSF validation split only.

The LTSF scaling (``timeartist.data.LTSFDataset``: scaler fitted on train, metrics on the scaled data), all
channels, every ``--stride``-th validation window. Test numbers come from ``outpainter_bench.py`` (full protocol).

    .venv/bin/python benchmarks/outpainter_ltsf.py --model runs/outpainter/evals/step_00000600 --context 1440 \
        --stride 16 --out benchmarks/results/outpainter/val_step600_ctx1440.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from timeartist.data import LTSFDataset
from timeartist.models.outpainter import MAEOutpainter
from timeartist.pipelines.forecasting import forecast_with_outpainter

HORIZONS = (96, 192, 336, 720)
PERIODS = {"etth1": 24, "etth2": 24, "ettm1": 96, "ettm2": 96}
CHUNK = 4096  # series per call, bounds memory


def evaluate(model, dataset: str, horizon: int, context: int, stride: int, batch_size: int) -> dict:
    """MSE / MAE over the strided validation windows (all channels) of one horizon."""
    ds = LTSFDataset(dataset, split="val", seq_len=context, pred_len=horizon)
    contexts, targets = ds.windows()  # (W, C, L), (W, C, H)
    contexts, targets = contexts[::stride], targets[::stride]
    rows = contexts.reshape(-1, context)
    truth = targets.reshape(-1, horizon)
    sq, ab = 0.0, 0.0
    for start in tqdm(range(0, len(rows), CHUNK), desc=f"{dataset} val H={horizon}", disable=None):
        pred = forecast_with_outpainter(
            rows[start : start + CHUNK], horizon, model, period=PERIODS[dataset.lower()], batch_size=batch_size, progress=False
        )
        err = pred - truth[start : start + CHUNK]
        sq, ab = sq + np.square(err).sum(), ab + np.abs(err).sum()
    n = truth.size
    return {"mse": float(sq / n), "mae": float(ab / n), "windows": int(contexts.shape[0]), "channels": ds.num_channels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="folder written by MAEOutpainter.save_pretrained")
    parser.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--horizons", nargs="+", type=int, default=list(HORIZONS))
    parser.add_argument("--context", type=int, default=2880, help="lookback steps (cropped to what fits the canvas)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    model = MAEOutpainter.from_pretrained(args.model).eval()
    results = {"model": str(args.model), "split": "val", "context": args.context, "stride": args.stride, "runs": []}
    for dataset in args.datasets:
        started = time.time()
        scores = []
        for horizon in args.horizons:
            r = evaluate(model, dataset, horizon, args.context, args.stride, args.batch_size)
            r.update(dataset=dataset, horizon=horizon)
            results["runs"].append(r)
            scores.append(r["mse"])
            logging.info("%s val H=%d: MSE %.4f MAE %.4f (%d windows x %d channels)", dataset, horizon, r["mse"], r["mae"], r["windows"], r["channels"])
        seconds = time.time() - started
        results.setdefault("seconds", {})[dataset] = seconds
        logging.info("%s val average MSE %.4f (%.0fs)", dataset, float(np.mean(scores)), seconds)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
