"""Training: the shared accelerate loop (``engine``), run configs (``config``) and the stages built on them."""

from timeartist.training.config import load_run_config, trainer_config
from timeartist.training.engine import EMA, Trainer, TrainerConfig, TrainingTask, cosine_schedule, list_checkpoints

__all__ = [
    "EMA",
    "Trainer",
    "TrainerConfig",
    "TrainingTask",
    "cosine_schedule",
    "list_checkpoints",
    "load_run_config",
    "trainer_config",
]
