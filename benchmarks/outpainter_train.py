"""Train the MAE outpainter from a YAML run config with ``key=value`` overrides.

    .venv/bin/python benchmarks/outpainter_train.py --config configs/tiny/outpainter.yaml out_dir=runs/op steps=3000
"""

from __future__ import annotations

import argparse
import logging

from omegaconf import OmegaConf

from timeartist.training.outpainter import OutpainterTrainConfig, train_outpainter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. steps=100 model.width=64")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    merged = OmegaConf.merge(OmegaConf.load(args.config), OmegaConf.from_dotlist(args.overrides))
    train_outpainter(OutpainterTrainConfig.from_dict(OmegaConf.to_container(merged, resolve=True)))


if __name__ == "__main__":
    main()
