"""MAEOutpainter: shapes, right-side masking, gradients, save / load; its training loop on real series."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from timeartist.hub import CheckpointError
from timeartist.models.outpainter import MAEOutpainter, OutpainterConfig
from timeartist.models.outpainting import Outpainter

REPO = Path(__file__).resolve().parents[1]
TINY = dict(image_size=(8, 12), patch_size=(8, 1), width=16, depth=1, decoder_depth=1, heads=2, mlp_ratio=2.0)


def tiny(**changes):
    return MAEOutpainter(OutpainterConfig(**{**TINY, **changes}))


@pytest.mark.parametrize("patch_size", [(8, 1), (4, 2)])
def test_forward_backward_shapes(patch_size):
    model = tiny(patch_size=patch_size)
    assert isinstance(model, Outpainter)
    images = torch.randn(3, 3, 8, 12)
    out = model(images, visible_cols=2)
    assert out.shape == images.shape
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_masked_pixels_are_never_read_and_visible_ones_are_pasted_back():
    model = tiny(patch_size=(4, 2))
    images = torch.randn(2, 3, 8, 12)
    changed = images.clone()
    changed[..., 6:] = torch.randn_like(changed[..., 6:])  # everything right of 3 visible patch columns
    first, second = model.outpaint(images, 3), model.outpaint(changed, 3)
    torch.testing.assert_close(first, second)
    assert torch.equal(first[..., :6], images[..., :6])
    assert not torch.equal(first[..., 6:], images[..., 6:])


def test_outpaint_needs_no_grad_and_restores_training_mode():
    model = tiny().train()
    out = model.outpaint(torch.randn(1, 3, 8, 12), 4)
    assert not out.requires_grad and model.training


def test_bad_input_is_a_clear_error():
    model = tiny()
    with pytest.raises(ValueError, match="expects images"):
        model(torch.randn(2, 3, 8, 10), 2)
    with pytest.raises(ValueError, match="visible_cols"):
        model(torch.randn(2, 3, 8, 12), 0)
    with pytest.raises(ValueError, match="divisible"):
        OutpainterConfig(image_size=(8, 12), patch_size=(3, 1))


def test_save_load_round_trip_is_strict(tmp_path):
    model = tiny()
    images = torch.randn(2, 3, 8, 12)
    model.save_pretrained(tmp_path / "op")
    loaded = MAEOutpainter.from_pretrained(tmp_path / "op")
    assert loaded.config == model.config
    torch.testing.assert_close(loaded.outpaint(images, 5), model.outpaint(images, 5))
    config = json.loads((tmp_path / "op" / "config.json").read_text())
    (tmp_path / "op" / "config.json").write_text(json.dumps({**config, "width": 32, "heads": 4}))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        MAEOutpainter.from_pretrained(tmp_path / "op")
    with pytest.raises(FileNotFoundError, match="config.json"):
        MAEOutpainter.from_pretrained(tmp_path / "missing")


def test_training_runs_validates_and_exports(data_root, tmp_path):
    from timeartist.training.outpainter import run_outpainter

    overrides = [
        f"experiment.output_dir={tmp_path / 'run'}", f"dataset.params.data_root={data_root}",
        "dataset.params.folders=[illness]", "dataset.params.max_future_cols=6",
        "model.image_size=[8,24]", "model.patch_size=[8,1]", "model.width=16", "model.heads=2", "model.depth=1",
        "training.per_gpu_batch_size=4", "training.max_train_steps=2", "lr_scheduler.params.warmup_steps=1",
        "experiment.save_every=1", "experiment.eval_every=2", "validation.datasets=[ETTh1]", "validation.horizons=[24]",
        "validation.stride=512", "validation.context=96",
    ]
    config = REPO / "configs" / "tiny" / "outpainter.yaml"
    trained = MAEOutpainter.from_pretrained(run_outpainter(config, overrides))
    assert trained.config.image_size == (8, 24)
    line = json.loads((tmp_path / "run" / "evals" / "val.jsonl").read_text().splitlines()[-1])
    assert line["step"] == 2 and line["ETTh1_mse_24"] > 0
    assert (tmp_path / "run" / "evals" / "step_00000002" / "model.safetensors").is_file()


def test_best_evaluated_checkpoint_takes_the_lowest_validation_mse(tmp_path):
    from timeartist.training.outpainter import best_evaluated_checkpoint

    evals = tmp_path / "evals"
    for step in (100, 200, 300):
        tiny().save_pretrained(evals / f"step_{step:08d}")
    lines = [{"step": 100, "mse": 0.9}, {"step": 200, "mse": 0.7}, {"step": 300, "mse": 0.7}]
    (evals / "val.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    folder, line = best_evaluated_checkpoint(tmp_path)
    assert folder == evals / "step_00000200" and line["mse"] == 0.7  # the tie keeps the earlier step
    with pytest.raises(FileNotFoundError, match="val.jsonl"):
        best_evaluated_checkpoint(tmp_path / "nothing")


def test_forecast_defaults_are_selected_on_the_validation_split(data_root):
    from timeartist.training.outpainter import ValidationConfig, select_forecast_defaults

    model = tiny(image_size=(24, 16), patch_size=(24, 1))
    val = ValidationConfig(datasets=("ETTh1",), horizons=(24,), stride=997, context=240, data_root=str(data_root))
    best, scores = select_forecast_defaults(model, val, context_periods=(2, 5))
    assert set(scores) == {(2, False), (2, True), (5, False), (5, True)}
    assert scores[best["context_periods"], best["flip_ensemble"]] == min(scores.values())
    with pytest.raises(ValueError, match="candidates"):
        select_forecast_defaults(model, val, context_periods=())


def test_untrained_periodic_prior_forecasts_the_mean_of_the_seasonal_means():
    """Zero-initialised weight and correction heads: every future column is the plain average of the means of the
    last k visible columns, whatever the transformer computes."""
    model = tiny(image_size=(4, 12), patch_size=(4, 1), prior_windows=(1, 2, 8))
    images = torch.randn(2, 3, 4, 12)
    out = model.outpaint(images, 5)
    visible = images[..., :5]
    expected = (visible[..., -1] + visible[..., -2:].mean(-1) + visible.mean(-1)) / 3  # k=8 is capped at 5
    for column in range(5, 12):
        torch.testing.assert_close(out[..., column], expected)
    torch.testing.assert_close(out[..., :5], visible)


def test_periodic_prior_learns_to_pick_the_window():
    """Noise around a fixed profile: the long-window mean is the best forecast, and a few steps teach the weights."""
    torch.manual_seed(0)
    model = tiny(image_size=(4, 16), patch_size=(4, 1), prior_windows=(1, 8))
    profile = torch.randn(1, 1, 4, 1)
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(40):
        images = (profile + 0.5 * torch.randn(16, 1, 4, 16)).expand(-1, 3, -1, -1)
        loss = (model(images, 10)[..., 10:] - profile).square().mean()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # the equal mix of the last column and the last 8 has error variance ~0.086; the 8-column mean alone 0.031
    assert np.mean(losses[:3]) > 0.07 and np.mean(losses[-5:]) < 0.045


def test_prior_windows_need_column_patches():
    with pytest.raises(ValueError, match="prior_windows"):
        tiny(image_size=(8, 12), patch_size=(4, 1), prior_windows=(1, 2))


def test_training_windows_never_read_evaluated_families(data_root):
    from timeartist.data.corpus import EVALUATED_FOLDERS, read_corpus
    from timeartist.training.outpainter import OutpainterDataConfig, RenderBatch, SeriesWindows, load_sources

    sources = load_sources(str(data_root))
    assert sources and not any(s.name.split("/")[0] in EVALUATED_FOLDERS for s in sources)
    assert not any("ETT" in s.name or "m1" in s.name.lower().split("/")[0] for s in sources)
    with pytest.raises(ValueError, match="evaluation data"):
        read_corpus(data_root, folders=("corpus", "ETT"))
    hourly = [s for s in sources if s.name.startswith("corpus/statsmodels/elec_vic_hourly")]
    assert hourly and hourly[0].periods[0] == 24
    config, model = OutpainterDataConfig(), tiny(image_size=(8, 32), patch_size=(8, 1)).config
    data = SeriesWindows(config, model, sources, size=64, seed=0)
    groups = RenderBatch(config, model, seed=0)([data[i] for i in range(64)])
    assert sum(len(group[0]) for group in groups) == 64
    for images, visible, mask, weights in groups:
        assert images.shape[1:] == (3, 8, 32) and 1 <= visible < 32
        assert mask.any(1).all() and not mask[:, :visible].any()  # every window is scored on its future only
        assert torch.isfinite(images).all() and ((weights == 1) | (weights == 0)).all() and weights.mean() > 0.9
    config.loss_scale = "window"
    weighted = RenderBatch(config, model, seed=0)([data[i] for i in range(64)])
    for (images, _, _, _), (same, _, _, weights) in zip(groups, weighted):
        assert torch.equal(images, same) and (weights >= 0).all() and not torch.allclose(weights, torch.ones(len(weights)))
