"""The photo-realism alignment objectives on the tiny pipeline: losses are finite, their gradients reach the aligners
(and only them), a few steps lower what each term asks to lower, and the held-out evaluation reports its rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.training.align import PictureFeatures, PriorAlignTask, RealismAlignTask, pair_contrast, transport_cost


class TinyFeatures(nn.Module):
    """Stands in for EfficientNet-Lite0 (``forward_features`` and ``scale_pixels``): pooled features of a small conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)

    @staticmethod
    def scale_pixels(x):
        return 2 * x - 1

    def forward_features(self, x):
        return self.conv(x).relu().mean(dim=(-2, -1))


def _tasks(tiny_pipeline_dir, cls, **kwargs):
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    torch.manual_seed(0)
    photos = torch.rand(16, 3, 32, 32)
    heldout = torch.randn(8, 2, 64)
    extra = {"generator": pipe.generator} if cls is PriorAlignTask else {}
    task = cls(pipe.temporal, pipe.visual, pipe.align_t2v, pipe.align_v2t, PictureFeatures(TinyFeatures(), size=32), photos,
               bank_size=8, heldout_series=heldout, **extra, **kwargs)  # fmt: skip
    return task, {"series": torch.randn(4, 2, 64)}


@pytest.mark.parametrize("cls", [RealismAlignTask, PriorAlignTask])
def test_losses_are_finite_and_train_only_the_aligners(tiny_pipeline_dir, cls):
    task, batch = _tasks(tiny_pipeline_dir, cls)
    loss, logs = task.training_step(batch)
    loss.backward()
    assert torch.isfinite(loss) and {"consistency", "cycle_mse", "changed_tokens"} <= set(logs)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in task.t2v.parameters())
    assert all(p.grad is None for p in task.temporal.parameters()) and all(p.grad is None for p in task.visual.parameters())
    if cls is PriorAlignTask:
        assert all(p.grad is None for p in task.generator.parameters())
    results = task.evaluate()
    assert {"t2v_changed_tokens", "hard_cycle_mse", "realism", "pair_nearest"} <= set(results)
    assert results["t2v_changed_tokens"] == 0.0  # untrained aligners are the identity
    assert results["series_as_images"].shape[0] == 3
    if cls is PriorAlignTask:
        assert results["prior_nll"] > 0


def test_the_prior_term_lowers_the_generators_nll_of_the_aligned_tokens(tiny_pipeline_dir):
    task, batch = _tasks(tiny_pipeline_dir, PriorAlignTask, consistency_weight=0.0, cycle_weight=0.0, mask_ratio=1.0)
    optimizer = torch.optim.Adam(task.t2v.parameters(), lr=1e-2)
    before = task.evaluate()["prior_nll"]
    for _ in range(30):
        optimizer.zero_grad()
        loss, _ = task.training_step(batch)
        loss.backward()
        optimizer.step()
    after = task.evaluate()["prior_nll"]
    assert after < before - 0.1, (before, after)


def test_transport_and_contrast_behave(tiny_pipeline_dir):
    bank = torch.randn(32, 5)
    assert transport_cost(bank[:8].clone(), bank, 0.05) < transport_cost(bank[:8] + 10, bank, 0.05)
    a = torch.randn(6, 5)
    assert pair_contrast(a, a, 0.1) < pair_contrast(a, a.roll(1, dims=0), 0.1)  # matched rows beat a shuffle
    with pytest.raises(ValueError, match="prior_weight"):
        _tasks(tiny_pipeline_dir, PriorAlignTask, prior_weight=-1.0)


def test_aligners_start_from_committed_weights(tmp_path, tiny_pipeline_dir):
    from timeartist.training.align import build_aligners
    from timeartist.training.config import load_run_config

    cfg = load_run_config("configs/tiny/align.yaml", [])
    t2v, v2t = build_aligners(cfg, None)
    torch.nn.init.normal_(t2v.head.weight)
    t2v.save_pretrained(tmp_path / "align_t2v")
    v2t.half().save_pretrained(tmp_path / "align_v2t")  # resume weights are committed in float16
    cfg = load_run_config("configs/tiny/align.yaml", [f"model.align.aligners_init={tmp_path}"])
    again, back = build_aligners(cfg, None)
    assert torch.equal(again.head.weight, t2v.head.weight) and back.head.weight.dtype == torch.float32
    with pytest.raises(ValueError, match="another architecture"):
        build_aligners(load_run_config("configs/tiny/align.yaml", [f"model.align.aligners_init={tmp_path}", "model.align.model_size=small"]), None)
