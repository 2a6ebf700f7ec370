"""The three training stages on the tiny configs, the unpaired matching objective, and the classification helpers.

This file is also a script (``python tests/test_training_stages.py ddp-warmup OUT IMAGE_DIR``), launched with
torchrun by the data-parallel warm-up test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from timeartist.cli import main
from timeartist.models import AdapterAlignment, AdapterAlignmentConfig, VisionModel
from timeartist.pipelines.pipeline import TimeArtistPipeline
from timeartist.training import list_checkpoints
from timeartist.training.align import AlignTask, run_align, soft_alignment_logits
from timeartist.training.classify import SEED_IMAGENET_CLASSES, assign_imagenet_classes, run_classify, stratified_split
from timeartist.training.losses import PerceptualLoss, code_distance, code_entropy_loss, match_pairs, sinkhorn
from timeartist.training.config import load_run_config
from timeartist.training.warmup import WarmupTask, build_warmup_task, load_tokenizer_pair, run_warmup, save_tokenizer_pair

HERE = Path(__file__).resolve()
CONFIGS = HERE.parents[1] / "configs" / "tiny"
FAST = [
    "training.max_train_steps=4", "training.per_gpu_batch_size=8", "experiment.save_every=2",
    "experiment.eval_every=2", "experiment.log_every=1", "lr_scheduler.params.warmup_steps=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return folder


def data_overrides(image_dir: Path) -> list[str]:
    # synthetic series and generated images only, so these runs need no data folder
    return [
        "dataset.params.series_datasets=[]", "dataset.params.synthetic_series=32",
        "dataset.params.heldout_series_datasets=[]", "dataset.params.heldout_synthetic_series=8",
        f"dataset.params.image_dirs=[{image_dir}]", f"dataset.params.heldout_image_dirs=[{image_dir}]",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def warmup_export(tmp_path_factory, image_dir) -> Path:
    out = tmp_path_factory.mktemp("warmup")
    return run_warmup(CONFIGS / "warmup.yaml", FAST + data_overrides(image_dir) + [f"experiment.output_dir={out}"])


def test_warmup_writes_checkpoints_and_a_loadable_shared_pair(warmup_export):
    run = warmup_export.parent
    assert [p.name for p in list_checkpoints(run)] == ["checkpoint-00000002", "checkpoint-00000004"]
    temporal, visual = load_tokenizer_pair(warmup_export)
    assert temporal.quantize is visual.quantize and temporal.quantize.heads == 2
    index = json.loads((warmup_export / "timeartist_index.json").read_text())
    assert index["components"] == {"temporal": "TimeArtist", "visual": "VisionModel"}
    series = torch.randn(3, temporal.seq_len)
    assert temporal(series)[0].shape == series.shape
    q, _ = temporal.encode(series)
    assert visual.decode(q).shape == (3, 3, 32, 32)  # series codes decode through the image decoder
    assert any((run / "logs").glob("events.out.tfevents.*"))


def same_weights(folder_a: Path, folder_b: Path) -> bool:
    a, b = load_file(folder_a / "model.safetensors"), load_file(folder_b / "model.safetensors")
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_export_checkpoint_writes_the_runs_ema_weights_as_a_loadable_pair(warmup_export, tmp_path, capsys):
    run = warmup_export.parent
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "ema")]) == 0  # a run folder: its latest
    assert "EMA weights of step 4" in capsys.readouterr().out
    temporal, visual = load_tokenizer_pair(tmp_path / "ema")  # the layout temporal_init and export --base read
    assert temporal.quantize is visual.quantize
    for part in ("temporal", "visual"):  # the step-4 checkpoint's EMA is what the run exported at its end
        assert same_weights(tmp_path / "ema" / part, warmup_export / part)
        assert (tmp_path / "ema" / part / "config.json").read_text() == (warmup_export / part / "config.json").read_text()

    step2 = run / "checkpoints" / "checkpoint-00000002"
    assert main(["export", "--checkpoint", str(step2), "--raw-weights", "--out", str(tmp_path / "raw")]) == 0
    raw = load_file(tmp_path / "raw" / "temporal" / "model.safetensors")
    task = torch.load(step2 / "trainer_state.pt", weights_only=True)["task"]
    assert all(torch.equal(value, task[f"temporal.{key}"]) for key, value in raw.items())
    assert not same_weights(tmp_path / "raw" / "temporal", tmp_path / "ema" / "temporal")

    # a run started before run.json existed: the stage and the YAML it was started with
    old_run = tmp_path / "old_run"
    shutil.copytree(run / "checkpoints", old_run / "checkpoints")
    argv = ["export", "--checkpoint", str(old_run), "--out", str(tmp_path / "old")]
    assert main(argv) == 2
    assert "pass --stage and --config" in capsys.readouterr().err
    assert main(argv + ["--stage", "warmup", "--config", str(CONFIGS / "warmup.yaml"), "model.vq_model.codebook_size=64"]) == 0
    assert same_weights(tmp_path / "old" / "temporal", tmp_path / "ema" / "temporal")
    assert main(argv + ["--stage", "warmup", "--config", str(CONFIGS / "warmup.yaml"), "model.vq_model.num_latent_tokens=16"]) == 2
    assert "does not fit the run config's models" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(old_run), "--base", str(warmup_export), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_warmup_checkpoints_carry_the_quantizer_usage_statistics(warmup_export):
    temporal, visual = load_tokenizer_pair(warmup_export)
    task = WarmupTask(temporal, visual, dead_code_threshold=1.0)
    for _ in range(3):
        task.training_step({"series": torch.randn(4, 64), "images": torch.rand(4, 3, 32, 32)})
    state = task.state_dict()
    fresh = WarmupTask(*load_tokenizer_pair(warmup_export), dead_code_threshold=1.0)
    fresh.load_state_dict(state)
    assert fresh.temporal.quantize._usage_calls == task.temporal.quantize._usage_calls == 6  # series + images per step
    assert torch.equal(fresh.temporal.quantize.code_usage, task.temporal.quantize.code_usage)


def test_continuous_warmup_decodes_latents_first_then_codes(warmup_export):
    temporal, visual = load_tokenizer_pair(warmup_export)
    task = WarmupTask(temporal, visual, continuous_warmup_steps=2)
    batch = {"series": torch.randn(4, 64), "images": torch.rand(4, 3, 32, 32)}
    q, result = temporal.quantize_input(batch["series"])
    continuous = torch.nn.functional.normalize(result["latents"], dim=1)
    task.step = 1
    recon, quantizer_loss, _ = task.reconstruct(temporal, batch["series"])
    assert torch.allclose(recon, temporal.decode(continuous)) and quantizer_loss == 0
    assert task.training_step(batch)[1]["quantizer_t"] == 0.0
    task.step = 2
    recon, quantizer_loss, _ = task.reconstruct(temporal, batch["series"])
    assert torch.allclose(recon, temporal.decode(q)) and quantizer_loss > 0


def test_code_entropy_loss_rewards_confident_tokens_spread_over_all_codes():
    spread = torch.eye(4).repeat(8, 1)  # confident tokens, every code used equally
    collapsed = torch.eye(4)[[0] * 32]  # confident tokens, one code
    unsure = torch.full((32, 4), 0.25)  # every token undecided
    assert code_entropy_loss([spread]).item() == pytest.approx(-1.0, abs=1e-5)
    assert code_entropy_loss([collapsed]).item() == pytest.approx(0.0, abs=1e-5)
    assert code_entropy_loss([unsure]).item() == pytest.approx(0.0, abs=1e-5)
    assert code_entropy_loss([spread, collapsed]).item() == pytest.approx(-1.0, abs=1e-5)  # summed over heads
    with pytest.raises(ValueError, match="assignments"):
        code_entropy_loss([torch.ones(3)])


def test_entropy_regulariser_spreads_one_modality_over_the_codebook(warmup_export):
    """A few steps on the regulariser alone move tokens that all share one code onto more codes."""
    temporal, _ = load_tokenizer_pair(warmup_export)
    quantizer = temporal.quantize
    torch.manual_seed(0)
    z = (torch.randn(1, quantizer.token_size, 1, 1) + 0.05 * torch.randn(64, quantizer.token_size, 1, 1)).requires_grad_()
    used = lambda: quantizer(z)[1]["min_encoding_indices"].unique().numel()  # noqa: E731
    before = used()
    optimiser = torch.optim.Adam([z, *quantizer.parameters()], lr=0.05)
    for _ in range(30):
        optimiser.zero_grad()
        code_entropy_loss(quantizer.soft_assignments(z, temperature=0.05)).backward()
        optimiser.step()
    assert used() > 2 * before


def test_warmup_adds_the_entropy_term_after_the_continuous_phase(warmup_export):
    temporal, visual = load_tokenizer_pair(warmup_export)
    series = torch.randn(4, 64)
    plain = WarmupTask(temporal, visual).reconstruct(temporal, series)[1]
    task = WarmupTask(temporal, visual, entropy_weight=0.5, entropy_temperature=0.05)
    _, result = temporal.quantize_input(series)
    expected = plain + 0.5 * code_entropy_loss(temporal.quantize.soft_assignments(result["latents"], 0.05))
    assert torch.allclose(task.reconstruct(temporal, series)[1], expected)
    with pytest.raises(ValueError, match="entropy"):
        WarmupTask(temporal, visual, entropy_temperature=0.0)


def test_images_only_warmup_trains_the_image_side_with_the_perceptual_loss(tmp_path, image_dir):
    """No training series configured: the run trains only the image tokenizer (and reports held-out PSNR)."""
    overrides = FAST + data_overrides(image_dir) + [
        f"experiment.output_dir={tmp_path / 'run'}", "dataset.params.synthetic_series=0",
        "dataset.params.heldout_synthetic_series=0", "losses.perceptual_weight=0.1", "+losses.perceptual_stages=2",
        "+dataset.preprocessing.crop_scale=[0.5,1.0]", "+dataset.preprocessing.color_jitter=0.1",
    ]  # fmt: skip
    torch.manual_seed(0)
    task, data = build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", overrides))
    assert set(data[0]) == {"images"} and task.heldout_series is None and task.perceptual is not None
    series_before = {k: v.clone() for k, v in task.temporal.state_dict().items() if "quantize" not in k}
    loss, logs = task.training_step({"images": torch.stack([data[i]["images"] for i in range(4)])})
    loss.backward()
    assert "perceptual" in logs and "loss_t" not in logs
    assert all(p.grad is None for n, p in task.temporal.named_parameters() if "quantize" not in n)
    assert any(p.grad is not None for p in task.visual.encoder.parameters())
    assert 0 < task.evaluate()["images_psnr"] < 60
    assert all(torch.equal(v, task.temporal.state_dict()[k]) for k, v in series_before.items())


def frozen_image_task(tmp_path, image_dir, freeze: str) -> tuple[WarmupTask, torch.Tensor, list[str]]:
    """An images-only warm-up task with the ``freeze`` override (e.g. "+training.freeze_codebook=true"), 4 of its
    training images and the overrides."""
    overrides = FAST + data_overrides(image_dir) + [
        f"experiment.output_dir={tmp_path / 'run'}", "dataset.params.synthetic_series=0", "dataset.params.heldout_synthetic_series=0",
        freeze, "losses.dead_code_threshold=0", "losses.continuous_warmup_steps=0",
    ]  # fmt: skip
    torch.manual_seed(0)
    task, data = build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", overrides))
    return task, torch.stack([data[i]["images"] for i in range(4)]), overrides


def sgd_step(task: WarmupTask, batch: dict[str, torch.Tensor]) -> None:
    optimizer = torch.optim.SGD([p for p in task.parameters() if p.requires_grad], lr=0.5)
    loss, _ = task.training_step(batch)
    loss.backward()
    optimizer.step()


def test_frozen_codebook_keeps_the_shared_code_space_while_the_image_tokenizer_trains(tmp_path, image_dir):
    task, images, overrides = frozen_image_task(tmp_path, image_dir, "+training.freeze_codebook=true")
    codebook = task.visual.quantize.codebook.clone()
    encoder = task.visual.encoder.patch_embed.weight.clone()
    sgd_step(task, {"images": images})
    assert torch.equal(task.visual.quantize.codebook, codebook) and not torch.equal(task.visual.encoder.patch_embed.weight, encoder)
    with pytest.raises(ValueError, match="dead_code_threshold"):
        build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", overrides[:-2] + ["losses.dead_code_threshold=1.0"]))


def test_frozen_encoder_trains_only_the_decoder_so_every_image_keeps_its_tokens(tmp_path, image_dir):
    task, images, _ = frozen_image_task(tmp_path, image_dir, "+training.freeze_encoder=true")
    tokens = task.visual.encode(images)[1].clone()
    decoder = {k: v.clone() for k, v in task.visual.decoder.state_dict().items()}
    sgd_step(task, {"images": images})
    assert torch.equal(task.visual.encode(images)[1], tokens)
    assert any(not torch.equal(v, task.visual.decoder.state_dict()[k]) for k, v in decoder.items())


def test_series_decoder_stage_starts_from_a_series_tokenizer_and_keeps_its_tokens(tmp_path, image_dir):
    base = FAST + data_overrides(image_dir) + [f"experiment.output_dir={tmp_path / 'run'}", "losses.dead_code_threshold=0"]
    torch.manual_seed(0)
    first, _ = build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", base))
    save_tokenizer_pair(first.temporal, first.visual, tmp_path / "pair")
    overrides = base + [
        f"+model.visual_init={tmp_path / 'pair' / 'visual'}", f"+model.temporal_init={tmp_path / 'pair' / 'temporal'}",
        "training.freeze_visual=true", "+training.freeze_encoder=true", "losses.continuous_warmup_steps=0",
    ]  # fmt: skip
    task, data = build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", overrides))
    assert task.temporal.quantize is task.visual.quantize
    assert all(torch.equal(v, first.temporal.state_dict()[k]) for k, v in task.temporal.state_dict().items())
    series = torch.stack([data[i]["series"] for i in range(4)])
    tokens = task.temporal.encode(series)[1].clone()
    decoder = {k: v.clone() for k, v in task.temporal.decoder.state_dict().items()}
    sgd_step(task, {"series": series})
    assert torch.equal(task.temporal.encode(series)[1], tokens)
    assert any(not torch.equal(v, task.temporal.decoder.state_dict()[k]) for k, v in decoder.items())
    with torch.no_grad():
        for param in first.temporal.quantize.parameters():
            param.add_(0.1)
    first.temporal.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="another codebook"):
        build_warmup_task(load_run_config(CONFIGS / "warmup.yaml", overrides[:-4] + [f"+model.temporal_init={tmp_path / 'other'}"] + overrides[-3:]))


def test_frozen_visual_route_trains_only_the_series_side(tmp_path, image_dir):
    pretrained = VisionModel(
        {"codebook_size": 64, "token_size": 4, "vit_enc_model_size": "tiny", "vit_dec_model_size": "tiny",
         "vit_enc_patch_size": 8, "vit_dec_patch_size": 8, "num_latent_tokens": 8, "image_size": 32,
         "is_legacy": False, "finetune_decoder": False}
    )  # fmt: skip
    pretrained.save_pretrained(tmp_path / "titok")
    overrides = FAST + data_overrides(image_dir) + [
        f"experiment.output_dir={tmp_path / 'run'}", f"+model.visual_init={tmp_path / 'titok'}",
        "training.freeze_visual=true", "model.vq_model.quantizer_heads=1", "model.vq_model.head_codebook_sizes=null",
        "losses.dead_code_threshold=0",
    ]  # fmt: skip
    temporal, visual = load_tokenizer_pair(run_warmup(CONFIGS / "warmup.yaml", overrides))
    before = pretrained.state_dict()
    for k, v in visual.state_dict().items():
        assert torch.equal(v, before[k]), k  # image tokenizer and codebook untouched
    first = torch.load(list_checkpoints(tmp_path / "run")[0] / "trainer_state.pt", weights_only=True)["task"]
    assert not torch.equal(first["temporal.encoder.patch_embed.weight"], temporal.encoder.patch_embed.weight)
    assert temporal.quantize.heads == 1


def test_align_and_classify_stages_write_loadable_exports(tmp_path, warmup_export, image_dir, data_root):
    align_export = run_align(
        CONFIGS / "align.yaml",
        FAST + data_overrides(image_dir) + [f"experiment.output_dir={tmp_path / 'align'}", f"experiment.init_weight={warmup_export}"],
    )
    pipe = TimeArtistPipeline.from_pretrained(align_export)  # the export is a pipeline folder
    assert pipe.align_t2v is not None and pipe.align_v2t is not None
    t2v = AdapterAlignment.from_pretrained(align_export / "align_t2v")
    temporal, visual = load_tokenizer_pair(align_export)
    ids = temporal.encode(torch.randn(2, temporal.seq_len))[1]
    assert visual.decode_tokens(t2v(ids).argmax(-1)).shape == (2, 3, 32, 32)

    best = run_classify(
        CONFIGS / "classify.yaml",
        FAST + [f"experiment.output_dir={tmp_path / 'cls'}", f"experiment.init_weight={align_export}",
                f"dataset.params.data_root={data_root}", "dataset.params.ts_dataset=GunPoint"],
    )  # fmt: skip
    classes = json.loads((best / "classes.json").read_text())
    assert classes["labels"] == ["1", "2"] and classes["imagenet_classes"] == [950, 954]  # first two with images
    assert np.array(classes["target_tokens"]).shape == (2, 1, 8)  # (C, B, N): one encoded sample image per class
    assert 0.0 <= json.loads((best / "selection.json").read_text())["val_accuracy"] <= 1.0
    AdapterAlignment.from_pretrained(best / "align_t2v")


def test_sinkhorn_plan_is_balanced_and_recovers_a_hidden_permutation():
    torch.manual_seed(0)
    a = torch.randn(12, 4, 1, 8)
    perm = torch.randperm(12)
    b = a[perm] + 0.01 * torch.randn(12, 4, 1, 8)  # image j is series perm[j], slightly perturbed
    cost = code_distance(a, b)
    plan = sinkhorn(cost)
    assert torch.allclose(plan.sum(1), torch.full((12,), 1 / 12), atol=1e-4)
    assert torch.allclose(plan.sum(0), torch.full((12,), 1 / 12), atol=1e-4)
    row, col = match_pairs(cost)
    assert torch.equal(col, perm) and torch.equal(row[perm], torch.arange(12))
    with pytest.raises(ValueError, match="cost matrix"):
        sinkhorn(torch.full((3, 3), float("nan")))


def test_perceptual_loss_keeps_its_network_frozen_in_eval_mode():
    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)

        def stage_features(self, images, stages):
            return [self.norm(self.conv(images))] * (stages + 1)

    loss_fn = PerceptualLoss(Features(), stages=2).train()
    assert not loss_fn.network.training and not any(p.requires_grad for p in loss_fn.parameters())
    stats = loss_fn.network.norm.running_mean.clone()
    reconstruction = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 8, 8)
    loss = loss_fn(reconstruction, target)
    loss.backward()
    assert loss > 0 and reconstruction.grad.abs().sum() > 0
    assert torch.equal(loss_fn.network.norm.running_mean, stats)
    assert loss_fn(target, target) == 0


def test_soft_aligner_equals_the_aligner_on_one_hot_tokens():
    aligner = AdapterAlignment(AdapterAlignmentConfig(codebook_size=64, num_latent_tokens=8, model_size="tiny"))
    torch.nn.init.normal_(aligner.head.weight, std=0.02)  # leave the zero init so the network part counts
    ids = torch.randint(0, 64, (3, 8))
    soft = torch.nn.functional.one_hot(ids, 64).float()
    assert torch.allclose(soft_alignment_logits(aligner, soft), aligner(ids), atol=1e-5)


def test_alignment_loss_decreases_when_a_perfect_matching_exists(warmup_export):
    """Image tokens are the series tokens mapped to their nearest other code and shuffled across the batch: the
    OT matching must find the shuffle at every step and the aligners must learn the token map."""
    torch.manual_seed(0)
    temporal, visual = load_tokenizer_pair(warmup_export)
    config = AdapterAlignmentConfig(codebook_size=64, num_latent_tokens=8, model_size="tiny")
    task = AlignTask(temporal, visual, AdapterAlignment(config), AdapterAlignment(config))
    codebook = temporal.quantize.codebook.detach()
    distance = torch.cdist(codebook, codebook).fill_diagonal_(float("inf"))
    nearest_other = distance.argmin(1)  # the token map the aligner has to learn (never the identity)

    def code_of(ids):
        return codebook[ids].permute(0, 2, 1).unsqueeze(2)  # (B, N) -> (B, D, 1, N)

    optimizer = torch.optim.Adam([*task.t2v.parameters(), *task.v2t.parameters()], lr=3e-3)
    losses = []
    for _ in range(40):
        a = torch.randint(0, 64, (16, 8))
        perm = torch.randperm(16)
        b = nearest_other[a][perm]
        loss, _, logs = task.alignment_loss(a, code_of(a), b, code_of(b))
        row, _ = match_pairs(code_distance(code_of(a), code_of(b)))
        assert torch.equal(row[perm], torch.arange(16)) and logs["match_consistency"] == 1.0
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_classification_helpers_keep_every_class_and_the_seed_order():
    labels = np.array([0] * 5 + [1] * 2 + [2] * 1)
    train, val = stratified_split(labels, 0.2, seed=0)
    assert set(train) | set(val) == set(range(8)) and not set(train) & set(val)
    assert sorted(labels[val].tolist()) == [0, 1]  # one per class with >= 2 cases, never a whole class
    assert assign_imagenet_classes(2, {954, 950, 1}) == [950, 954]
    with pytest.raises(ValueError, match="only 1"):
        assign_imagenet_classes(2, {SEED_IMAGENET_CLASSES[5]})


def test_two_process_warmup_keeps_ranks_identical(tmp_path, image_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(port), str(HERE), "ddp-warmup", str(tmp_path), str(image_dir),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1] / "src")}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for k in rank0:
        if isinstance(rank0[k], torch.Tensor):
            assert torch.equal(rank0[k], rank1[k]), k
    TimeArtistPipeline.from_pretrained(tmp_path / "run" / "export")


def _ddp_warmup(out: Path, image_dir: Path) -> None:
    from timeartist.training import Trainer, load_run_config, trainer_config
    from timeartist.training.warmup import build_warmup_task

    torch.set_num_threads(1)
    overrides = FAST + data_overrides(image_dir) + [
        f"experiment.output_dir={out / 'run'}", "training.max_train_steps=3", "losses.continuous_warmup_steps=1",
    ]  # step 1 decodes latents (unused codebook), steps 2-3 codes
    cfg = load_run_config(CONFIGS / "warmup.yaml", overrides)
    settings = trainer_config(cfg)
    torch.manual_seed(settings.seed)
    task, data = build_warmup_task(cfg)
    trainer = Trainer(task, settings, data)
    trainer.fit()
    if trainer.accelerator.num_processes != 2:
        raise SystemExit(f"expected 2 processes, got {trainer.accelerator.num_processes}")
    state = {k: v for k, v in task.state_dict().items() if k != "_extra_state"}
    torch.save(state, out / f"rank{trainer.accelerator.process_index}.pt")


if __name__ == "__main__":
    if sys.argv[1:2] != ["ddp-warmup"]:
        raise SystemExit(f"usage: {sys.argv[0]} ddp-warmup OUT IMAGE_DIR")
    _ddp_warmup(Path(sys.argv[2]), Path(sys.argv[3]))
