"""Stage-3 class targets from token banks: generated banks, the bank loss and score, a generated-target run, the
comparison benchmark's quick mode, and the generator-quality (FED) benchmark's quick mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from timeartist.cli import main
from timeartist.models import AdapterAlignment, TimeArtist, VisionModel
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.training.align import token_cross_entropy
from timeartist.training.classify import (
    ClassTargetConfig, ClassifyTask, bank_histograms, bank_summary, class_scores, generate_class_banks, load_stage3,
    run_classify,
)  # fmt: skip

REPO = Path(__file__).resolve().parents[1]
FAST = [
    "training.max_train_steps=4", "training.per_gpu_batch_size=8", "experiment.save_every=100",
    "experiment.eval_every=2", "experiment.log_every=1", "lr_scheduler.params.warmup_steps=1",
]  # fmt: skip
IMAGENET_IDS = [948, 950, 954]


@pytest.fixture(autouse=True)
def _one_thread(_seed_and_threads):
    torch.set_num_threads(1)


def imagenet_generator(**overrides) -> TokenGenerator:
    """A tiny generator over the tiny pipeline's code space (8 tokens x 64 codes) that knows the 1000 ImageNet ids."""
    values = dict(codebook_size=64, image_seq_len=8, condition_num_classes=1000, hidden_size=32, num_hidden_layers=1,
                  num_attention_heads=2, intermediate_size=64)  # fmt: skip
    torch.manual_seed(1)
    return TokenGenerator(TokenGeneratorConfig(**{**values, **overrides}))


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory) -> Path:
    return imagenet_generator().save_pretrained(tmp_path_factory.mktemp("generator"))


@pytest.fixture(scope="module")
def visual(tiny_pipeline_dir) -> VisionModel:
    return VisionModel.from_pretrained(tiny_pipeline_dir / "visual")


def settings(**overrides) -> ClassTargetConfig:
    return ClassTargetConfig(**{"source": "generated", "generator_checkpoint": "unused", "bank_per_class": 5, **overrides})


def test_generated_banks_have_one_row_of_sequences_per_class_and_follow_the_seed(visual):
    generator = imagenet_generator()
    banks = generate_class_banks(generator, visual, IMAGENET_IDS, settings(seed=3))
    assert banks.shape == (3, 5, 8) and banks.dtype == torch.long
    assert int(banks.min()) >= 0 and int(banks.max()) < 64
    assert torch.equal(banks, generate_class_banks(generator, visual, IMAGENET_IDS, settings(seed=3)))
    assert not torch.equal(banks, generate_class_banks(generator, visual, IMAGENET_IDS, settings(seed=4)))
    # bank c is the generator's own draw for class c: the same as asking it directly with the same seed
    direct = generator.generate(torch.tensor(IMAGENET_IDS).repeat_interleave(5), guidance=3.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(banks.flatten(0, 1), direct)


def test_a_generator_of_another_code_space_or_class_set_is_rejected(tiny_pipeline_dir, visual):
    with pytest.raises(ValueError, match="draws 8 tokens over 32 codes but the image tokenizer has 8 tokens over 64"):
        generate_class_banks(imagenet_generator(codebook_size=32), visual, IMAGENET_IDS, settings())
    with pytest.raises(ValueError, match="draws 4 tokens"):
        generate_class_banks(imagenet_generator(image_seq_len=4), visual, IMAGENET_IDS, settings())
    ten_classes = TokenGenerator.from_pretrained(tiny_pipeline_dir / "generator")  # conftest: 10 classes
    with pytest.raises(ValueError, match="knows 10 classes but the targets need ImageNet class 954"):
        generate_class_banks(ten_classes, visual, IMAGENET_IDS, settings())


def test_target_settings_are_validated():
    assert ClassTargetConfig.from_config(None).source == "sample_images"
    with pytest.raises(ValueError, match="must be one of"):
        ClassTargetConfig(source="images")
    with pytest.raises(ValueError, match="needs class_targets.generator_checkpoint"):
        ClassTargetConfig(source="generated")
    with pytest.raises(ValueError, match="bank_per_class must be a positive int"):
        settings(bank_per_class=0)
    with pytest.raises(ValueError, match="unknown config keys.*bank_size"):
        ClassTargetConfig.from_config({"source": "generated", "bank_size": 4})


def test_a_bank_of_one_trains_and_scores_as_the_plain_token_targets(tiny_pipeline_dir, tmp_path):
    """Bank loss = cross-entropy against the bank's per-position histogram, score = mean bank log-likelihood; with
    one sequence per class they are the token cross-entropy and sum_n log p(t_c[n])."""
    temporal = TimeArtist.from_pretrained(tiny_pipeline_dir / "temporal")
    visual = VisionModel.from_pretrained(tiny_pipeline_dir / "visual")
    t2v = AdapterAlignment.from_pretrained(tiny_pipeline_dir / "align_t2v")
    torch.nn.init.normal_(t2v.head.weight, std=0.5)  # make the prediction depend on the input
    targets = torch.randint(0, 64, (3, 8))
    series, labels = torch.randn(6, 64), torch.tensor([0, 1, 2, 2, 1, 0])
    task = ClassifyTask(temporal, visual, t2v, targets[:, None], series, labels, tmp_path / "best", {})
    loss, _ = task.training_step((series, labels))
    logits = t2v(temporal.encode(series)[1])
    torch.testing.assert_close(loss, token_cross_entropy(logits, targets[labels]))
    logp = logits.log_softmax(-1)
    expected = torch.stack([logp.gather(-1, targets[c].expand(6, 8)[..., None])[..., 0].sum(1) for c in range(3)], dim=1)
    torch.testing.assert_close(class_scores(temporal, t2v, task.target_histograms, series), expected)
    # a bank of two is the mean of its members' scores
    pair = torch.stack([targets, torch.randint(0, 64, (3, 8))], dim=1)  # (3, 2, 8)
    mean = (class_scores(temporal, t2v, bank_histograms(pair[:, :1], 64), series) + class_scores(temporal, t2v, bank_histograms(pair[:, 1:], 64), series)) / 2
    torch.testing.assert_close(class_scores(temporal, t2v, bank_histograms(pair, 64), series), mean)
    summary = bank_summary(torch.cat([pair, pair[:1]]))  # class 3 has class 0's bank
    assert summary == {"distinct_sequences": 6, "distinct_per_class": 2.0, "shared_sequences": 2, "distinct_banks": 3,
                       "codes_used": len(torch.unique(pair))}  # fmt: skip
    with pytest.raises(ValueError, match=r"expected class target banks \(C, B, 8\)"):
        ClassifyTask(temporal, visual, t2v, targets, series, labels, tmp_path / "best", {})


def test_stage3_with_generated_targets_writes_its_best_folder(tiny_pipeline_dir, generator_dir, data_root, tmp_path):
    best = run_classify(
        REPO / "configs/tiny/classify.yaml",
        FAST + [f"experiment.output_dir={tmp_path / 'cls'}", f"experiment.init_weight={tiny_pipeline_dir}",
                f"dataset.params.data_root={data_root}", "dataset.params.ts_dataset=GunPoint",
                "dataset.params.class_targets.source=generated", f"dataset.params.class_targets.generator_checkpoint={generator_dir}",
                "dataset.params.class_targets.bank_per_class=4"],
    )  # fmt: skip
    assert best == tmp_path / "cls" / "best"
    classes = json.loads((best / "classes.json").read_text())
    assert classes["imagenet_classes"] == [950, 954] and classes["class_targets"]["source"] == "generated"
    temporal, t2v, banks, metadata = load_stage3(best)
    assert banks.shape == (2, 4, 8) and metadata["labels"] == ["1", "2"]
    visual = VisionModel.from_pretrained(tiny_pipeline_dir / "visual")
    expected = generate_class_banks(TokenGenerator.from_pretrained(generator_dir), visual, [950, 954], settings(bank_per_class=4))
    assert torch.equal(banks, expected)  # the run's banks are the seeded draw
    assert 0.0 <= json.loads((best / "selection.json").read_text())["val_accuracy"] <= 1.0
    assert class_scores(temporal, t2v, bank_histograms(banks, 64), torch.randn(3, 64)).shape == (3, 2)


def test_benchmark_quick_mode_writes_its_report(tiny_pipeline_dir, generator_dir, data_root, tmp_path):
    out = tmp_path / "bench"
    assert main([
        "bench", "classify-targets", "--model", str(tiny_pipeline_dir), "--generator", str(generator_dir),
        "--config", str(REPO / "configs/tiny/classify.yaml"), "--datasets", "GunPoint", "--data-root", str(data_root), "--out", str(out),
        "--bank-per-class", "3", "--seeds", "0", "--quick", "--set", "training.per_gpu_batch_size=8",
    ]) == 0  # fmt: skip
    frame = pd.read_csv(out / "results.csv")
    assert list(frame["targets"]) == ["sample_images", "generated"] and list(frame["seed"]) == [0, 0]
    assert list(frame["bank_per_class"]) == [1, 3]
    assert frame["test_accuracy"].between(0, 1).all() and (frame["chance"] == 0.5).all()
    assert (frame["test_cases"] == 20).all()
    for name in ("results.csv", "results.json", "results.md", "classify_targets.png"):
        assert (out / name).stat().st_size > 0
    assert "TEST accuracy" in (out / "results.md").read_text()
    assert np.isfinite(frame["train_seconds"]).all()
