"""Train the MAE outpainter from a run config with ``key=value`` overrides (what ``timeartist train outpainter``
runs once wired into the CLI).

    .venv/bin/python benchmarks/outpainter_train.py --config configs/tiny/outpainter.yaml experiment.output_dir=runs/op
"""

from __future__ import annotations

import argparse
import logging

from timeartist.training.outpainter import run_outpainter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. training.max_train_steps=100 model.width=64")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_outpainter(args.config, args.overrides)


if __name__ == "__main__":
    main()
