"""Run configs: the seed's YAML keys map onto the engine, key=value overrides, base files, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from timeartist.training import load_run_config, trainer_config

SEED_STYLE = """
experiment:
    output_dir: "runs/seed"
    save_every: 5000
    eval_every: 5000
    generate_every: 5000
    log_every: 50
    resume: True
optimizer:
    name: adamw
    params:
        learning_rate: 1e-4
        beta1: 0.9
        beta2: 0.99
        weight_decay: 1e-4
lr_scheduler:
    scheduler: "cosine"
    params:
        learning_rate: ${optimizer.params.learning_rate}
        warmup_steps: 10000
        end_lr: 1e-5
training:
    gradient_accumulation_steps: 1
    per_gpu_batch_size: 32
    mixed_precision: "fp16"
    enable_wandb: True
    use_ema: True
    seed: 42
    max_train_steps: 1000000
    max_grad_norm: 1.0
"""


@pytest.fixture
def seed_yaml(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(SEED_STYLE)
    return path


def test_seed_keys_map_onto_the_engine(seed_yaml):
    cfg = load_run_config(seed_yaml)
    tc = trainer_config(cfg)
    assert (tc.output_dir, tc.max_train_steps, tc.per_gpu_batch_size) == ("runs/seed", 1_000_000, 32)
    assert (tc.learning_rate, tc.beta2, tc.warmup_steps, tc.end_lr) == (1e-4, 0.99, 10000, 1e-5)
    assert tc.mixed_precision == "fp16" and tc.use_ema and tc.seed == 42
    assert cfg.lr_scheduler.params.learning_rate == 1e-4  # interpolation resolved


def test_overrides_parse_values_and_reject_typos(seed_yaml):
    cfg = load_run_config(
        seed_yaml, ["training.max_train_steps=10", "optimizer.params.learning_rate=3e-4", "training.mixed_precision=no"]
    )
    tc = trainer_config(cfg)
    assert (tc.max_train_steps, tc.learning_rate, tc.mixed_precision) == (10, 3e-4, "no")
    assert cfg.lr_scheduler.params.learning_rate == 3e-4  # the override flows through the interpolation
    with pytest.raises(ValueError, match="unknown config key 'training.max_train_step'"):
        load_run_config(seed_yaml, ["training.max_train_step=10"])
    with pytest.raises(ValueError, match="key=value"):
        load_run_config(seed_yaml, ["training.max_train_steps"])
    assert load_run_config(seed_yaml, ["+losses.cycle_weight=0.5"]).losses.cycle_weight == 0.5


def test_base_files_merge_underneath(tmp_path, seed_yaml):
    child = tmp_path / "sub" / "run.yaml"
    child.parent.mkdir()
    child.write_text("base: ../seed.yaml\ntraining:\n    per_gpu_batch_size: 4\n")
    tc = trainer_config(load_run_config(child))
    assert (tc.per_gpu_batch_size, tc.max_train_steps) == (4, 1_000_000)


def test_missing_file_and_missing_required_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_run_config(tmp_path / "nope.yaml")
    path = tmp_path / "bare.yaml"
    path.write_text("training:\n    per_gpu_batch_size: 4\n")
    with pytest.raises(ValueError, match="experiment.output_dir"):
        trainer_config(load_run_config(path))


def test_a_loaded_config_is_copied_before_overrides(seed_yaml):
    cfg = load_run_config(seed_yaml)
    changed = load_run_config(cfg, ["training.seed=1"])
    assert (changed.training.seed, cfg.training.seed) == (1, 42)


REPO = Path(__file__).resolve().parents[1]
# the run configs `make default-model` trains, in its order
DEFAULT_RECIPE = list(dict.fromkeys(re.findall(r"--config (configs/default/\S+\.yaml)", (REPO / "Makefile").read_text())))


def test_default_recipe_names_its_stages():
    assert "configs/default/series_spread.yaml" in DEFAULT_RECIPE and len(DEFAULT_RECIPE) >= 10


@pytest.mark.parametrize("path", DEFAULT_RECIPE)
def test_every_default_run_config_loads_with_its_bases(path):
    # a broken base file or key fails here, not hours into `make default-model`
    settings = trainer_config(load_run_config(REPO / path))
    assert settings.max_train_steps > 0 and settings.output_dir
