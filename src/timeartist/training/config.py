"""Training-run configs: OmegaConf YAML in the seed's layout, plus ``key=value`` overrides from the command line.

A run YAML has the seed's sections (``experiment``, ``model``, ``losses``, ``dataset``, ``optimizer``,
``lr_scheduler``, ``training``) and may name ``base`` YAML files (paths relative to itself) that are merged
underneath it, so a training file can build on a model file without repeating it. Overrides use dotted keys:
``training.max_train_steps=100``; a key that is in no loaded file is rejected as a likely typo unless written
``+key=value``. ``trainer_config`` maps the seed's keys onto the engine's ``TrainerConfig``:

    experiment.{output_dir, save_every, eval_every, log_every, resume, keep_last}
    optimizer.params.{learning_rate, beta1, beta2, weight_decay}
    lr_scheduler.params.{warmup_steps, end_lr}
    training.{per_gpu_batch_size, gradient_accumulation_steps, mixed_precision, enable_tf32, use_ema, seed,
              max_train_steps, max_grad_norm, num_workers}

Seed keys that only concern its own infrastructure (``enable_wandb``, ``generate_every``, ...) are accepted and
ignored. ``record_run`` writes the resolved config and its stage to ``<output_dir>/run.json``, so that a checkpoint
of the run can be exported without the YAML it was started from (``timeartist export --checkpoint``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from timeartist import __version__
from timeartist.hub import atomic_write
from timeartist.training.engine import TrainerConfig

RUN_FILE = "run.json"

_MISSING = object()

# TrainerConfig field -> dotted key in the seed layout
SEED_KEYS = {
    "output_dir": "experiment.output_dir",
    "save_every": "experiment.save_every",
    "eval_every": "experiment.eval_every",
    "log_every": "experiment.log_every",
    "resume": "experiment.resume",
    "keep_last": "experiment.keep_last",
    "learning_rate": "optimizer.params.learning_rate",
    "beta1": "optimizer.params.beta1",
    "beta2": "optimizer.params.beta2",
    "weight_decay": "optimizer.params.weight_decay",
    "warmup_steps": "lr_scheduler.params.warmup_steps",
    "end_lr": "lr_scheduler.params.end_lr",
    "per_gpu_batch_size": "training.per_gpu_batch_size",
    "gradient_accumulation_steps": "training.gradient_accumulation_steps",
    "mixed_precision": "training.mixed_precision",
    "enable_tf32": "training.enable_tf32",
    "use_ema": "training.use_ema",
    "seed": "training.seed",
    "max_train_steps": "training.max_train_steps",
    "max_grad_norm": "training.max_grad_norm",
    "num_workers": "training.num_workers",
}


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> DictConfig:
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"expected a run config YAML at {path}")
    if path in seen:
        raise ValueError(f"run config {path} includes itself through 'base': {' -> '.join(map(str, seen))}")
    try:
        cfg = OmegaConf.load(path)
    except OmegaConfBaseException as e:
        raise ValueError(f"could not parse run config {path}: {e}") from e
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"run config {path} must be a mapping of sections, got a {type(cfg).__name__}")
    bases = cfg.pop("base", None) or []
    bases = [bases] if isinstance(bases, str) else list(bases)
    merged = [_load_yaml(path.parent / b, seen + (path,)) for b in bases]
    return OmegaConf.merge(*merged, cfg) if merged else cfg


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """Merge ``key=value`` strings into ``cfg`` (values parsed as YAML); ``+key=value`` may add a new key."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"expected an override of the form key=value, got {item!r}")
        key, value = item.split("=", 1)
        allow_new = key.startswith("+")
        key = key.lstrip("+")
        if not allow_new and OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            raise ValueError(f"unknown config key {key!r} in override {item!r}; write +{key}={value} to add it")
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{key}={value}"]))
    return cfg


def load_run_config(config: str | os.PathLike | DictConfig, overrides: Sequence[str] = ()) -> DictConfig:
    """A run config from a YAML path (with its ``base`` files) or a loaded DictConfig (copied), with overrides
    applied and interpolations resolved."""
    if isinstance(config, DictConfig):
        cfg = OmegaConf.create(OmegaConf.to_container(config))
    else:
        cfg = _load_yaml(Path(config))
    cfg = apply_overrides(cfg, overrides)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as e:
        raise ValueError(f"could not resolve interpolations in run config {config}: {e}") from e
    return cfg


def trainer_config(cfg: DictConfig) -> TrainerConfig:
    """The engine settings of a run config; keys that are absent keep ``TrainerConfig``'s defaults."""
    values = {}
    for field, key in SEED_KEYS.items():
        value = OmegaConf.select(cfg, key, default=_MISSING)
        if value is not _MISSING and value is not None:
            values[field] = value
    if values.get("mixed_precision") is False:  # YAML reads an unquoted `no` as false
        values["mixed_precision"] = "no"
    for required in ("output_dir", "max_train_steps"):
        if required not in values:
            raise ValueError(f"run config needs {SEED_KEYS[required]}")
    try:
        return TrainerConfig(**values)
    except TypeError as e:
        raise ValueError(f"bad training settings {values}: {e}") from e


def record_run(cfg: DictConfig, stage: str) -> Path:
    """Write ``{"stage", "timeartist_version", "config"}`` to ``<output_dir>/run.json`` (every process writes the same
    bytes, atomically); ``export --checkpoint`` rebuilds the stage's models from it."""
    path = Path(trainer_config(cfg).output_dir) / RUN_FILE
    record = {"stage": stage, "timeartist_version": __version__, "config": OmegaConf.to_container(cfg, resolve=True)}
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n"))
    return path
