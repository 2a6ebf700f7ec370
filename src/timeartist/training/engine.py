"""The shared training loop every stage runs on, built on ``accelerate``.

A stage is a ``TrainingTask``: an ``nn.Module`` whose ``forward(batch)`` is the training step and returns
``(loss, logs)``. Going through ``forward`` lets accelerate's DistributedDataParallel wrapper see the step, so
the same code runs on one CPU, ``accelerate launch --num_processes N`` or ``torchrun`` across nodes.

``Trainer.fit()`` does, per optimizer step:
    gradient accumulation over ``gradient_accumulation_steps`` micro-batches (no all-reduce until the last),
    gradient clipping, AdamW, a per-step LambdaLR (linear warm-up then cosine to ``end_lr``), the EMA update
    (TiTok's decay ``min(0.999, (1 + t) / (10 + t))``), the task's ``on_step_end`` hook (e.g. dead-code
    re-seeding), TensorBoard scalars, and at their intervals the evaluation hook (run with EMA weights) and a
    checkpoint. The final weights are evaluated too when evaluation is on.

Checkpoints live in ``<output_dir>/checkpoints/checkpoint-<step>/``. One holds the task, EMA, optimizer,
scheduler and grad-scaler states, the step, the data-loader position (epoch, batches consumed) and every
process's RNG states (python, numpy, torch, cuda), and ``checksums.json`` with the sha256 of every file. It is
written into a hidden temporary folder that is renamed into place only once complete, so a crash at any moment
leaves either the whole checkpoint or none.
With ``resume=True`` a new run in the same ``output_dir`` continues from the latest intact checkpoint: one whose
files do not match their checksums or cannot be read (damaged on disk after it was written) is skipped with a
warning naming the file, and the run resumes from the newest one before it (an error when none is intact); the data order
is a pure function of (seed, epoch), and RNG states are restored after the data iterator is rebuilt, so a run
killed and restarted ends with the same weights as an uninterrupted run. Datasets that draw random numbers
must do so in the main process (``num_workers=0``) for that guarantee.
At the end the task's ``save_pretrained`` writes the export (EMA weights when EMA is on) to
``<output_dir>/export``. Multi-node runs need ``output_dir`` on a file system all nodes share.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import math
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, send_to_device, set_seed
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from timeartist.hub import CheckpointError, file_sha256, read_json, verify_sha256

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
EXPORT_DIR = "export"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
_STATE_FILE = "trainer_state.pt"
_CHECKSUMS_FILE = "checksums.json"
MIXED_PRECISION = ("no", "fp16", "bf16")


@dataclass
class TrainerConfig:
    """Settings of one training run (the seed YAML maps onto these in ``timeartist.training.config``).

    Intervals are in optimizer steps; 0 turns the periodic action off. ``mixed_precision`` is used only on a
    CUDA device (CPU runs in fp32). ``max_grad_norm=0`` disables clipping.
    """

    output_dir: str
    max_train_steps: int
    per_gpu_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 1e-4
    warmup_steps: int = 0
    end_lr: float = 1e-5
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    enable_tf32: bool = True
    use_ema: bool = True
    seed: int = 42
    log_every: int = 50
    eval_every: int = 0
    save_every: int = 1000
    keep_last: int = 2
    resume: bool = True
    num_workers: int = 0

    def __post_init__(self):
        positive = ("max_train_steps", "per_gpu_batch_size", "gradient_accumulation_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"TrainerConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "log_every", "eval_every", "save_every", "keep_last", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainerConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        if self.learning_rate <= 0 or self.end_lr < 0 or self.max_grad_norm < 0:
            raise ValueError(
                f"expected learning_rate > 0, end_lr >= 0 and max_grad_norm >= 0, got "
                f"{self.learning_rate}, {self.end_lr}, {self.max_grad_norm}"
            )


class TrainingTask(nn.Module, abc.ABC):
    """What a stage plugs into the ``Trainer``.

    Subclasses implement ``training_step(batch) -> (loss 0-dim tensor, logs {name: float})`` and
    ``save_pretrained(path)`` (the final export), and may override ``evaluate`` and ``on_step_end``.
    Only parameters with ``requires_grad`` are optimised and averaged by the EMA. ``step`` is the number of
    optimizer steps done before the current one (set by the ``Trainer``, also after a resume), for tasks whose
    objective follows a schedule. Tasks that leave some trainable parameters without gradients in some steps
    set ``find_unused_parameters = True`` (DistributedDataParallel must then look for them, at some cost).
    """

    step: int = 0
    find_unused_parameters: bool = False

    def forward(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        return self.training_step(batch)

    @abc.abstractmethod
    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """One micro-batch (already on the device) -> (loss, logs)."""

    @abc.abstractmethod
    def save_pretrained(self, path: str | Path) -> Path:
        """Write the trained model(s) as a ``from_pretrained`` folder at ``path``."""

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | Tensor]:
        """Held-out metrics; called on the main process with EMA weights in eval mode. Floats become
        TensorBoard scalars, (3, H, W) tensors in [0, 1] become images. Default: nothing to evaluate."""
        return {}

    def on_step_end(self, step: int) -> dict[str, float]:
        """Called on every process after each optimizer step (e.g. dead-code re-seeding); returns logs."""
        return {}


def cosine_schedule(warmup_steps: int, total_steps: int, base_lr: float, end_lr: float) -> Callable[[int], float]:
    """LambdaLR factor: linear warm-up to ``base_lr`` over ``warmup_steps``, then cosine down to ``end_lr``
    at ``total_steps``. Step 0 already gets a small non-zero rate, so no step is wasted."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        lr = end_lr + (base_lr - end_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return lr / base_lr

    return factor


def _no_decay(name: str, param: nn.Parameter) -> bool:
    # As TiTok: no weight decay on biases, norms, embeddings, tokens and codebooks.
    return param.ndim < 2 or any(k in name for k in ("embedding", "token", "norm", "gamma", "codebook"))


def build_optimizer(task: nn.Module, config: TrainerConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, in a decayed and a non-decayed group."""
    named = [(n, p) for n, p in task.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"{type(task).__name__} has no trainable parameters (all have requires_grad=False)")
    groups = [
        {"params": [p for n, p in named if not _no_decay(n, p)], "weight_decay": config.weight_decay},
        {"params": [p for n, p in named if _no_decay(n, p)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=config.learning_rate, betas=(config.beta1, config.beta2)
    )


class EMA:
    """Exponential moving average of a module's trainable parameters, decay ``min(max_decay, (1+t)/(10+t))``
    with t the number of updates so far (TiTok / diffusers). Shadows are fp32 on the parameters' device."""

    def __init__(self, module: nn.Module, max_decay: float = 0.999):
        self.max_decay = max_decay
        self.num_updates = 0
        self.shadow = {n: p.detach().float().clone() for n, p in module.named_parameters() if p.requires_grad}

    def decay(self) -> float:
        return min(self.max_decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        decay = self.decay()
        params = dict(module.named_parameters())
        for name, shadow in self.shadow.items():
            shadow.lerp_(params[name].detach().float(), 1.0 - decay)
        self.num_updates += 1

    @contextlib.contextmanager
    def applied(self, module: nn.Module) -> Iterator[nn.Module]:
        """Temporarily put the EMA weights into ``module`` (restored on exit)."""
        params = dict(module.named_parameters())
        backup = {n: params[n].detach().clone() for n in self.shadow}
        with torch.no_grad():
            for n, shadow in self.shadow.items():
                params[n].copy_(shadow)
        try:
            yield module
        finally:
            with torch.no_grad():
                for n, value in backup.items():
                    params[n].copy_(value)

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates, "max_decay": self.max_decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        if set(state["shadow"]) != set(self.shadow):
            raise ValueError(
                f"EMA state does not match the task's trainable parameters: "
                f"missing {sorted(set(self.shadow) - set(state['shadow']))}, "
                f"unexpected {sorted(set(state['shadow']) - set(self.shadow))}"
            )
        self.num_updates, self.max_decay = int(state["num_updates"]), float(state["max_decay"])
        for n, value in state["shadow"].items():
            self.shadow[n].copy_(value)


class ShardedBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices for one process.

    Each epoch is a permutation of ``range(n)`` that depends only on (seed, epoch); it is cut into global batches
    of ``batch_size * num_processes`` (the incomplete tail is dropped) and process ``rank`` takes its slice of
    each. ``start`` skips that many batches of the current epoch without loading them (resume).
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, num_processes: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.num_processes = rank, num_processes
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        return self.n // (self.batch_size * self.num_processes)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=generator)
        global_batch = self.batch_size * self.num_processes
        for b in range(self.start, len(self)):
            first = b * global_batch + self.rank * self.batch_size
            yield order[first : first + self.batch_size].tolist()


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        # numpy's array as a list, so the file loads with torch.load(weights_only=True)
        "numpy": (numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders of interrupted writes are ignored)."""
    root = Path(output_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CHECKPOINT_RE.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def _read_checkpoint_file(folder: Path, name: str, **load_kwargs) -> Any:
    """One file of a checkpoint folder, after checking it against the folder's checksums (when it has them)."""
    path = folder / name
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete")
    checksums = folder / _CHECKSUMS_FILE
    if checksums.is_file():
        expected = read_json(checksums).get(name)
        if expected is None:
            raise CheckpointError(f"{checksums} records no checksum for {name}")
        verify_sha256(path, expected, hint="it changed after the checkpoint was written")
    try:
        return torch.load(path, weights_only=True, **load_kwargs)
    except Exception as error:  # torch.load raises many types on damaged bytes (RuntimeError, EOFError, pickle errors)
        raise CheckpointError(f"{path} cannot be read ({type(error).__name__}: {error})") from error


def read_checkpoint_state(folder: str | Path) -> dict:
    """The trainer state of a checkpoint folder (``task`` weights, ``ema`` shadows or None, optimizer, ``progress``,
    ...), after checking it against the folder's checksums; a damaged file is a CheckpointError naming it."""
    return _read_checkpoint_file(Path(folder), _STATE_FILE, map_location="cpu")


class Trainer:
    """Runs a ``TrainingTask`` over a map-style dataset with the settings of a ``TrainerConfig``.

    Args:
        task: the stage; its trainable parameters are optimised.
        config: run settings.
        train_data: map-style dataset; batches are ``collate_fn`` of ``per_gpu_batch_size`` items per process.
        collate_fn: optional DataLoader collate function.
    """

    def __init__(
        self,
        task: TrainingTask,
        config: TrainerConfig,
        train_data: Dataset,
        collate_fn: Callable | None = None,
    ):
        if not isinstance(task, TrainingTask):
            raise ValueError(f"expected a TrainingTask, got {type(task).__name__}")
        self.config = config
        self.output_dir = Path(config.output_dir)
        use_cuda = torch.cuda.is_available()
        if use_cuda and config.enable_tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        # cpu=True without CUDA also makes torchrun / accelerate launch on CPUs use gloo data parallelism
        self.accelerator = Accelerator(
            cpu=not use_cuda,
            mixed_precision=config.mixed_precision if use_cuda else "no",
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=task.find_unused_parameters)],
        )
        set_seed(config.seed)

        per_step = config.per_gpu_batch_size * self.accelerator.num_processes
        if len(train_data) < per_step:
            raise ValueError(
                f"training data has {len(train_data)} items, fewer than one batch of {config.per_gpu_batch_size} "
                f"per process x {self.accelerator.num_processes} processes"
            )
        # Sharded by us rather than by accelerate, so the order is a function of (seed, epoch) alone and a
        # resumed run can skip the consumed batches without loading them.
        self.batch_sampler = ShardedBatchSampler(
            len(train_data), config.per_gpu_batch_size, config.seed, self.accelerator.process_index,
            self.accelerator.num_processes,
        )
        self.loader = DataLoader(
            train_data,
            batch_sampler=self.batch_sampler,
            collate_fn=collate_fn,
            num_workers=config.num_workers,
            generator=torch.Generator().manual_seed(config.seed),  # keeps the global RNG untouched by iter()
        )
        self.task = task
        optimizer = build_optimizer(task, config)
        self.model, self.optimizer = self.accelerator.prepare(task, optimizer)
        # The schedule counts optimizer steps, so it is not handed to accelerate (which would step it per process).
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, cosine_schedule(config.warmup_steps, config.max_train_steps, config.learning_rate, config.end_lr)
        )
        self.ema = EMA(task) if config.use_ema else None
        self.step, self.epoch, self.batches_in_epoch = 0, 0, 0
        self._rng_to_restore: dict | None = None
        self.writer = None
        self.samples_per_second: float | None = None  # measured by fit() over its training steps

    # ----------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> Path:
        """Write the full training state for this step; every process must call it."""
        acc = self.accelerator
        root = self.output_dir / CHECKPOINT_DIR
        final = root / f"checkpoint-{self.step:08d}"
        tmp = root / f".tmp-checkpoint-{self.step:08d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        torch.save(_rng_state(), tmp / f"rng-{acc.process_index}.pt")
        if acc.is_main_process:
            state = {
                "task": acc.unwrap_model(self.model).state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "progress": {"step": self.step, "epoch": self.epoch, "batches_in_epoch": self.batches_in_epoch},
                "num_processes": acc.num_processes,
            }
            torch.save(state, tmp / _STATE_FILE)
        acc.wait_for_everyone()
        if acc.is_main_process:
            checksums = {f.name: file_sha256(f) for f in sorted(tmp.iterdir())}
            (tmp / _CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n")
            if final.exists():  # a damaged checkpoint of this step, skipped when the run resumed
                shutil.rmtree(final)
            tmp.rename(final)  # the commit point: before it there is no checkpoint-<step>, after it a whole one
            for old in list_checkpoints(self.output_dir)[: -self.config.keep_last or None]:
                shutil.rmtree(old, ignore_errors=True)
            logger.info("saved checkpoint %s", final)
        acc.wait_for_everyone()
        return final

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint written by ``save_checkpoint``; RNG states are applied when the loop starts.
        A damaged checkpoint (checksum mismatch, unreadable file) is a CheckpointError naming the file."""
        path = Path(path)
        state = read_checkpoint_state(path)
        rng = _read_checkpoint_file(path, f"rng-{self.accelerator.process_index}.pt")
        if state["num_processes"] != self.accelerator.num_processes:
            raise ValueError(
                f"checkpoint {path} was written by {state['num_processes']} processes, this run has "
                f"{self.accelerator.num_processes}; resume with the same number so the data order matches"
            )
        self.accelerator.unwrap_model(self.model).load_state_dict(state["task"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.accelerator.scaler is not None and state["scaler"] is not None:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if state["ema"] is None:
                raise ValueError(f"checkpoint {path} has no EMA state but use_ema=True")
            self.ema.load_state_dict(state["ema"])
        progress = state["progress"]
        self.step, self.epoch, self.batches_in_epoch = progress["step"], progress["epoch"], progress["batches_in_epoch"]
        self._rng_to_restore = rng
        logger.info("resumed from %s at step %d", path, self.step)

    def _resume_if_possible(self) -> None:
        if self.accelerator.is_main_process:
            for stale in (self.output_dir / CHECKPOINT_DIR).glob(".tmp-checkpoint-*"):
                shutil.rmtree(stale, ignore_errors=True)  # left by a crash mid-write
        self.accelerator.wait_for_everyone()
        checkpoints = list_checkpoints(self.output_dir)
        if not (self.config.resume and checkpoints):
            return
        for path in reversed(checkpoints):
            try:
                self.load_checkpoint(path)
                return
            except CheckpointError as error:
                logger.warning("not resuming from %s: %s; trying the checkpoint before it", path.name, error)
        raise CheckpointError(
            f"none of the {len(checkpoints)} checkpoints in {self.output_dir / CHECKPOINT_DIR} is intact (see the warnings "
            "above); delete them, or set resume to false, to start over"
        )

    # ----------------------------------------------------------------- the loop
    def _batches(self) -> Iterator[Any]:
        """Endless micro-batches from the saved position on, advancing the epoch when the loader is exhausted."""
        while True:
            self.batch_sampler.epoch, self.batch_sampler.start = self.epoch, self.batches_in_epoch
            iterator = iter(self.loader)
            if self._rng_to_restore is not None:
                # after building the iterator, which itself may draw from the global RNG
                _set_rng_state(self._rng_to_restore)
                self._rng_to_restore = None
            for batch in iterator:
                self.batches_in_epoch += 1
                yield send_to_device(batch, self.accelerator.device)
            self.epoch, self.batches_in_epoch = self.epoch + 1, 0

    def _optimizer_step(self, batches: Iterator[Any]) -> dict[str, float]:
        acc, accum = self.accelerator, self.config.gradient_accumulation_steps
        totals: dict[str, float] = {}
        self.task.step = self.step
        for micro in range(accum):
            sync = micro == accum - 1  # all-reduce gradients only on the last micro-batch
            with contextlib.nullcontext() if sync else acc.no_sync(self.model):
                loss, logs = self.model(next(batches))
                if not torch.isfinite(loss):
                    raise ValueError(f"training loss became {loss.item()} at step {self.step}; logs: {logs}")
                acc.backward(loss / accum)
            for k, v in {"loss": loss.item(), **logs}.items():
                totals[k] = totals.get(k, 0.0) + float(v) / accum
        if self.config.max_grad_norm > 0:
            norm = acc.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
            totals["grad_norm"] = float(norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        totals["lr"] = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.task)
        totals.update(self.task.on_step_end(self.step))
        return totals

    def evaluate(self) -> dict[str, float | Tensor]:
        """The task's evaluation hook with EMA weights (when on), in eval mode, on the main process only."""
        results: dict[str, float | Tensor] = {}
        if self.accelerator.is_main_process:
            was_training = self.task.training
            self.task.eval()
            with self.ema.applied(self.task) if self.ema is not None else contextlib.nullcontext():
                results = self.task.evaluate()
            self.task.train(was_training)
            self._log(results, prefix="eval/")
            logger.info("step %d eval: %s", self.step, {k: v for k, v in results.items() if not isinstance(v, Tensor)})
        self.accelerator.wait_for_everyone()
        return results

    def _log(self, values: dict[str, float | Tensor], prefix: str) -> None:
        if self.writer is None:
            return
        for name, value in values.items():
            if isinstance(value, Tensor) and value.ndim == 3:
                self.writer.add_image(prefix + name, value.detach().float().clamp(0, 1).cpu(), self.step)
            else:
                self.writer.add_scalar(prefix + name, float(value), self.step)

    def export(self) -> Path:
        """Write the task's ``save_pretrained`` folder (with EMA weights when on) to ``<output_dir>/export``."""
        path = self.output_dir / EXPORT_DIR
        if self.accelerator.is_main_process:
            with self.ema.applied(self.task) if self.ema is not None else contextlib.nullcontext():
                self.task.save_pretrained(path)
            logger.info("exported to %s", path)
        self.accelerator.wait_for_everyone()
        return path

    def fit(self) -> Path:
        """Train to ``max_train_steps`` (resuming when possible), then export; returns the export folder."""
        cfg, acc = self.config, self.accelerator
        self._resume_if_possible()
        if acc.is_main_process:
            from torch.utils.tensorboard import SummaryWriter  # imported late: only the main process writes

            self.writer = SummaryWriter(str(self.output_dir / "logs"))
        self.model.train()
        batches = self._batches()
        progress = tqdm(
            total=cfg.max_train_steps,
            initial=self.step,
            desc="train",
            disable=not acc.is_main_process or not sys.stderr.isatty(),
        )
        logger.info(
            "training %s from step %d to %d on %d process(es), %s precision",
            type(self.task).__name__, self.step, cfg.max_train_steps, acc.num_processes, acc.mixed_precision,
        )
        samples_per_step = cfg.per_gpu_batch_size * cfg.gradient_accumulation_steps * acc.num_processes
        steps_timed, seconds = 0, 0.0  # training steps only: evaluation and checkpoints are not counted
        while self.step < cfg.max_train_steps:
            started = time.perf_counter()
            logs = self._optimizer_step(batches)
            seconds += time.perf_counter() - started
            steps_timed += 1
            logs["samples_per_s"] = steps_timed * samples_per_step / seconds
            progress.update(1)
            if cfg.log_every and self.step % cfg.log_every == 0:
                self._log(logs, prefix="train/")
                progress.set_postfix(loss=f"{logs['loss']:.4f}")
                logger.info("step %d: %s", self.step, ", ".join(f"{k} {v:.4g}" for k, v in logs.items()))
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                self.evaluate()
            if cfg.save_every and self.step % cfg.save_every == 0:
                self.save_checkpoint()
        progress.close()
        if cfg.eval_every and self.step % cfg.eval_every:
            self.evaluate()  # the final weights are always evaluated
        if steps_timed:
            self.samples_per_second = steps_timed * samples_per_step / seconds
            logger.info(
                "trained %d steps in %.1f s: %.1f samples/s over %d process(es)",
                steps_timed, seconds, self.samples_per_second, acc.num_processes,
            )
        path = self.export()
        if self.writer is not None:
            self.writer.close()
        return path

