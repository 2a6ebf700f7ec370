"""A training checkpoint's weights as the stage's loadable folder: what ``timeartist export --checkpoint`` runs.

A checkpoint (``<run>/checkpoints/checkpoint-<step>/``, written by ``Trainer.save_checkpoint``) holds the task's
state dict and the EMA shadows of its trainable parameters, not the models' configs. So the stage's
``export_task(cfg)`` rebuilds the task from the run config (``<run>/run.json``, written when the run started; for runs
started before that file existed, the stage and the YAML + overrides the run was started with), the checkpoint's
weights are loaded into it, with the EMA shadows over the trained parameters unless the raw weights are asked for
(as ``Trainer.export`` does at the end of a run), and the task's ``save_pretrained`` writes the folder:

- warmup: a tokenizer pair (``temporal/``, ``visual/``, the index), what ``export --base`` and ``temporal_init`` read;
- align: a pipeline folder with both aligners;
- generator: a ``TokenGenerator`` folder; outpainter: a ``MAEOutpainter`` folder.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from timeartist.hub import CheckpointError, read_json
from timeartist.training.config import RUN_FILE, load_run_config
from timeartist.training.engine import CHECKPOINT_DIR, TrainingTask, list_checkpoints, read_checkpoint_state

logger = logging.getLogger(__name__)

EXPORT_STAGES = {  # stage -> module with export_task(cfg)
    "warmup": "timeartist.training.warmup",
    "align": "timeartist.training.align",
    "generator": "timeartist.training.generator",
    "outpainter": "timeartist.training.outpainter",
}


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder as it is, or a run folder -> its latest complete checkpoint."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"--checkpoint {path} is not a folder; expected <run>/{CHECKPOINT_DIR}/checkpoint-<step> or a run folder")
    if (path / CHECKPOINT_DIR).is_dir():
        found = list_checkpoints(path)
        if not found:
            raise FileNotFoundError(f"run folder {path} holds no complete checkpoint in {CHECKPOINT_DIR}/")
        return found[-1]
    return path


def run_config(checkpoint: Path, stage: str | None = None, config: str | None = None, overrides: Sequence[str] = ()) -> tuple[str, DictConfig]:
    """(stage, run config) of a checkpoint: given as ``stage`` + ``config`` (+ ``overrides``), else read from the
    run's ``run.json``."""
    record_path = checkpoint.parent.parent / RUN_FILE
    if config is None:
        if stage is not None or overrides:
            raise ValueError("--stage and key=value overrides go with --config (the YAML the run was started with)")
        if not record_path.is_file():
            raise FileNotFoundError(
                f"{record_path} not found (runs started before it was recorded have none): pass --stage and --config with "
                "the run's YAML and key=value overrides, as given to `timeartist train`"
            )
        record = read_json(record_path)
        stage, cfg = record["stage"], OmegaConf.create(record["config"])
    else:
        if stage is None:
            raise ValueError(f"--config needs --stage, one of {', '.join(EXPORT_STAGES)}")
        cfg = load_run_config(config, overrides)
    if stage not in EXPORT_STAGES:
        raise ValueError(
            f"checkpoints of the {stage!r} stage are not exported this way (the classify stage keeps its weights chosen on "
            f"validation in <run>/best); supported: {', '.join(EXPORT_STAGES)}"
        )
    return stage, cfg


def load_checkpoint_weights(task: TrainingTask, state: dict, ema: bool, source: Path) -> None:
    """Put a checkpoint's task state into ``task`` (the task's own entries and its modules': the weights of modules it
    does not build, e.g. a loss network, are skipped), then the EMA shadows of the trained parameters when ``ema``."""
    modules = {name for name, _ in task.named_children()}
    own = {key: value for key, value in state["task"].items() if "." not in key or key.split(".", 1)[0] in modules}
    try:
        missing, unexpected = task.load_state_dict(own, strict=False)
    except RuntimeError as error:  # wrongly shaped weights
        raise CheckpointError(f"{source} does not fit the run config's models: {' '.join(str(error).split())}") from None
    if missing or unexpected:
        raise CheckpointError(f"{source} does not fit the run config's models: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if not ema:
        return
    if state["ema"] is None:
        raise ValueError(f"{source} holds no EMA weights (the run had training.use_ema off); pass --raw-weights")
    with torch.no_grad():
        for name, shadow in state["ema"]["shadow"].items():
            if name.split(".", 1)[0] not in modules:
                continue
            try:
                task.get_parameter(name).copy_(shadow)
            except (AttributeError, RuntimeError) as error:
                raise CheckpointError(f"{source}: EMA weight {name} does not fit the run config's models ({error})") from None


def export_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    ema: bool = True,
    stage: str | None = None,
    config: str | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Path, int]:
    """Write the weights of ``checkpoint`` (a checkpoint folder, or a run folder: its latest) as the stage's folder
    ``out``; returns ``(out, step)``. Everything is read and checked before anything is written."""
    folder = resolve_checkpoint(checkpoint)
    stage, cfg = run_config(folder, stage, config, overrides)
    state = read_checkpoint_state(folder)
    task = importlib.import_module(EXPORT_STAGES[stage]).export_task(cfg)
    load_checkpoint_weights(task, state, ema, folder)
    path = task.save_pretrained(Path(out))
    step = int(state["progress"]["step"])
    logger.info("%s: %s weights of %s step %d written to %s", folder, "EMA" if ema else "raw", stage, step, path)
    return path, step
