"""The shared training loop: schedule, EMA rule, kill-and-resume equality, atomic checkpoints.

This file is also a script (``python tests/test_training_engine.py run OUT DELAY``) so a test can train in a
subprocess and kill it with SIGKILL. The 2-process data-parallel run is tested on the warm-up stage
(tests/test_training_stages.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from timeartist.hub import CheckpointError, PretrainedMixin
from timeartist.training import EMA, Trainer, TrainerConfig, TrainingTask, cosine_schedule, list_checkpoints
from timeartist.training import engine

HERE = Path(__file__).resolve()
STEPS = 12


@dataclass
class TinyConfig:
    width: int = 16


class TinyRegressor(PretrainedMixin, nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(4, config.width), nn.GELU(), nn.Dropout(0.2), nn.Linear(config.width, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class RegressionTask(TrainingTask):
    def __init__(self, step_delay: float = 0.0):
        super().__init__()
        self.model = TinyRegressor(TinyConfig())
        self.step_delay = step_delay

    def training_step(self, batch):
        x, y = batch
        if self.step_delay:
            time.sleep(self.step_delay)  # lets the kill test land between checkpoints
        loss = nn.functional.mse_loss(self.model(x), y)
        return loss, {"mse": loss.item()}

    def save_pretrained(self, path):
        return self.model.save_pretrained(path)

    @torch.no_grad()
    def evaluate(self):
        x = torch.linspace(-1, 1, 32).reshape(8, 4)
        return {"pred_mean": float(self.model(x).mean()), "picture": torch.rand(3, 4, 4)}


def toy_data(n: int = 64):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(n, generator=g)
    return torch.utils.data.TensorDataset(x, y)


def make_config(out, **kw) -> TrainerConfig:
    # 64 items / batch 8 = 8 batches per epoch; accumulation 2 -> an epoch every 4 steps, so resume crosses epochs
    base = dict(
        output_dir=str(out), max_train_steps=STEPS, per_gpu_batch_size=8, gradient_accumulation_steps=2,
        learning_rate=1e-2, warmup_steps=3, end_lr=1e-4, save_every=3, eval_every=4, log_every=1, keep_last=2, seed=7,
    )
    base.update(kw)
    return TrainerConfig(**base)


def train(out, step_delay: float = 0.0, **kw) -> Path:
    torch.manual_seed(0)
    task = RegressionTask(step_delay)
    return Trainer(task, make_config(out, **kw), toy_data()).fit()


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1] / "src")}


def test_schedule_warms_up_linearly_then_decays_to_end_lr():
    f = cosine_schedule(warmup_steps=4, total_steps=20, base_lr=1.0, end_lr=0.1)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == pytest.approx(1.0)
    assert f(12) == pytest.approx(0.55)
    assert f(20) == pytest.approx(0.1) and f(30) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(4, 25))


def test_ema_follows_titok_decay_rule():
    m = nn.Linear(2, 1)
    ema = EMA(m)
    assert ema.decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        m.weight.add_(1.0)
    before = ema.shadow["weight"].clone()
    ema.update(m)
    assert torch.allclose(ema.shadow["weight"], 0.1 * before + 0.9 * m.weight)
    ema.num_updates = 10**6
    assert ema.decay() == 0.999
    with ema.applied(m):
        assert torch.equal(m.weight, ema.shadow["weight"])
    assert not torch.equal(m.weight, ema.shadow["weight"])  # restored on exit


def test_bad_settings_are_rejected_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="mixed_precision"):
        make_config(tmp_path, mixed_precision="fp8")
    with pytest.raises(ValueError, match="max_train_steps"):
        make_config(tmp_path, max_train_steps=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        Trainer(RegressionTask(), make_config(tmp_path, per_gpu_batch_size=128), toy_data())


def test_training_reduces_loss_logs_and_exports_loadable_model(tmp_path):
    task = RegressionTask()
    x, y = toy_data().tensors
    task.eval()
    before = nn.functional.mse_loss(task.model(x), y).item()
    trainer = Trainer(task, make_config(tmp_path, max_train_steps=80, save_every=0), toy_data())
    export = trainer.fit()
    assert trainer.samples_per_second > 0
    loaded = TinyRegressor.from_pretrained(export).eval()
    after = nn.functional.mse_loss(loaded(x), y).item()
    assert after < 0.5 * before
    assert any((tmp_path / "logs").glob("events.out.tfevents.*"))


def test_sigkill_and_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    reference = load_file(train(tmp_path / "uninterrupted") / "model.safetensors")

    out = tmp_path / "killed"
    cmd = [sys.executable, str(HERE), "run", str(out), "0.1"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list_checkpoints(out) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = list_checkpoints(out)
    assert done and not (out / "export").exists()
    killed_at = int(done[-1].name.split("-")[1])
    assert 0 < killed_at < STEPS

    resumed = load_file(train(out) / "model.safetensors")
    assert reference.keys() == resumed.keys()
    for k in reference:
        assert torch.allclose(reference[k], resumed[k], atol=1e-6, rtol=0), k
    assert [int(p.name.split("-")[1]) for p in list_checkpoints(out)] == [9, 12]  # keep_last=2


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    train(tmp_path, max_train_steps=3)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-00000003"]

    real_save = torch.save

    def crash_midway(obj, path, *a, **kw):
        if str(path).endswith(engine._STATE_FILE):
            Path(path).write_bytes(b"half a checkpoint")
            raise RuntimeError("simulated crash while writing")
        return real_save(obj, path, *a, **kw)

    monkeypatch.setattr(engine.torch, "save", crash_midway)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tmp_path, max_train_steps=6)
    monkeypatch.undo()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-00000003"]  # no partial checkpoint-6
    assert list((tmp_path / "checkpoints").glob(".tmp-*"))

    trainer = Trainer(RegressionTask(), make_config(tmp_path, max_train_steps=6), toy_data())
    trainer.fit()
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-00000003", "checkpoint-00000006"]


def _overwrite_middle(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 32] = b"\x13" * 32
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage", [_overwrite_middle, lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])], ids=["bytes", "truncated"]
)
def test_resume_skips_a_damaged_latest_checkpoint(tmp_path, damage, caplog):
    reference = load_file(train(tmp_path / "uninterrupted") / "model.safetensors")
    out = tmp_path / "damaged"
    train(out, max_train_steps=6)
    assert (out / "export").is_dir()
    shutil.rmtree(out / "export")
    latest = list_checkpoints(out)[-1] / engine._STATE_FILE
    damage(latest)
    with caplog.at_level(logging.WARNING, logger=engine.__name__):
        resumed = load_file(train(out) / "model.safetensors")
    assert str(latest) in caplog.text and "checkpoint-00000006" in caplog.text
    for k in reference:  # resumed from step 3, so the same weights as the uninterrupted run
        assert torch.allclose(reference[k], resumed[k], atol=1e-6, rtol=0), k
    assert [int(p.name.split("-")[1]) for p in list_checkpoints(out)] == [9, 12]


def test_resume_with_no_intact_checkpoint_is_a_clear_error(tmp_path):
    train(tmp_path, max_train_steps=6)
    for checkpoint in list_checkpoints(tmp_path):
        _overwrite_middle(checkpoint / "rng-0.pt")
    with pytest.raises(CheckpointError, match="none of the 2 checkpoints"):
        train(tmp_path)


def _script(argv: list[str]) -> None:
    mode, out = argv[0], Path(argv[1])
    torch.set_num_threads(1)
    if mode != "run":
        raise SystemExit(f"unknown mode {mode!r}")
    train(out, step_delay=float(argv[2]))


if __name__ == "__main__":
    _script(sys.argv[1:])
