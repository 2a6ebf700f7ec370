"""Zero-shot LTSF test numbers of a trained outpainter, through the shared benchmark runner.

Full protocol (``timeartist.evaluation.run_ltsf``): every test window, all 7 channels, scaler fitted on train,
metrics on the scaled data; the outpainter side by side with seasonal naive and seasonal_mean (K chosen on
validation). ``--stat-methods auto_ets`` adds statsforecast models, scored with every other method on the same
strided subsample (``--stride-stat``) in a second table.

    .venv/bin/python benchmarks/outpainter_bench.py --model /work/notes/artifacts/outpainter \\
        --out benchmarks/results/outpainter/test_full
"""

from __future__ import annotations

import argparse
import json
import logging

import torch

from timeartist.evaluation.ltsf import run_ltsf
from timeartist.models.outpainter import MAEOutpainter
from timeartist.pipelines.forecasting import OutpainterForecaster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="folder written by MAEOutpainter.save_pretrained")
    parser.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[96, 192, 336, 720])
    parser.add_argument("--lookback", type=int, default=2880, help="context steps offered (the canvas keeps what fits)")
    parser.add_argument("--max-context", type=int, help="most recent steps the outpainter uses (chosen on validation)")
    parser.add_argument("--flip-ensemble", action="store_true", help="average with the negated forecast of the negated context")
    parser.add_argument("--baselines", nargs="*", default=["seasonal_naive", "seasonal_mean"])
    parser.add_argument("--stat-methods", nargs="*", default=[], help="e.g. auto_ets (strided table)")
    parser.add_argument("--stride-stat", type=int, default=96)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, help="output folder for ltsf.{csv,json,md} and figures")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    forecaster = OutpainterForecaster(
        MAEOutpainter.from_pretrained(args.model).eval(), name="outpainter", max_context=args.max_context,
        flip_ensemble=args.flip_ensemble,
    )
    frame = run_ltsf(
        datasets=args.datasets,
        horizons=args.horizons,
        methods=[*args.baselines, *args.stat_methods, forecaster],
        out_dir=args.out,
        lookback={name: args.lookback for name in args.datasets},
        stride_stat=args.stride_stat,
        n_jobs=args.n_jobs,
        batch_size=512,
    )
    avg = frame[frame.horizon.astype(str) == "avg"]
    logging.info("averages:\n%s", avg[["dataset", "protocol", "method", "mse", "mae", "seconds"]].to_string(index=False))
    with open(f"{args.out}/command.json", "w") as f:
        json.dump({"model": args.model, **{k: v for k, v in vars(args).items() if k != "model"}}, f, indent=2)


if __name__ == "__main__":
    main()
