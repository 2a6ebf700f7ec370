"""Token generator: mask schedules, MaskGIT decoding with classifier-free guidance, series conditioning,
checkpoints, and training through the shared trainer."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from timeartist.hub import CheckpointError
from timeartist.models import TimeArtist, TimeArtistConfig, VisionModel, VisionModelConfig
from timeartist.models.generator import TokenGenerator, TokenGeneratorConfig
from timeartist.modules.masking import MASK_SCHEDULES, mask_ratio, masked_counts, random_token_mask
from timeartist.training import Trainer, TrainerConfig, load_run_config
from timeartist.training.generator import BANK_FILE, GeneratorTask, TokenBank, masked_token_loss, run_generator
from timeartist.training.warmup import save_tokenizer_pair

K, N, S, C = 32, 8, 6, 5  # codes, image tokens, series tokens, classes
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def tiny_config(**overrides) -> TokenGeneratorConfig:
    values = dict(
        codebook_size=K, image_seq_len=N, condition_num_classes=C, num_series_tokens=S, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, dropout=0.1,
    )
    return TokenGeneratorConfig(**{**values, **overrides})


@pytest.fixture(autouse=True)
def _one_thread(_seed_and_threads):
    torch.set_num_threads(1)  # ops this small run fastest on one thread (after conftest's setting of 2)


@pytest.fixture
def model() -> TokenGenerator:
    torch.manual_seed(0)
    return TokenGenerator(tiny_config())


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("schedule", sorted(MASK_SCHEDULES))
def test_schedule_starts_all_masked_ends_none_and_never_increases(schedule):
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    ratio = mask_ratio(t, schedule)
    assert ratio[0] == pytest.approx(1.0) and ratio[-1] == pytest.approx(0.0, abs=1e-12)
    assert bool((ratio[1:] <= ratio[:-1] + 1e-12).all())


@pytest.mark.parametrize("schedule", sorted(MASK_SCHEDULES))
@pytest.mark.parametrize("num_tokens,steps", [(64, 8), (64, 64), (8, 1), (8, 3), (7, 7), (256, 12)])
def test_masked_counts_are_integers_that_reveal_every_token_once(schedule, num_tokens, steps):
    counts = masked_counts(num_tokens, steps, schedule)
    assert len(counts) == steps + 1 and all(isinstance(c, int) for c in counts)
    assert counts[0] == num_tokens and counts[-1] == 0
    reveals = [a - b for a, b in zip(counts, counts[1:])]
    assert min(reveals) >= 1 and sum(reveals) == num_tokens


def test_cosine_counts_follow_the_schedule():
    # floor(64 cos(pi s / 16)) for s = 0..8
    assert masked_counts(64, 8, "cosine") == [64, 62, 59, 53, 45, 35, 24, 12, 0]
    assert masked_counts(64, 8, "linear") == [64, 56, 48, 40, 32, 24, 16, 8, 0]


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps must lie in"):
        masked_counts(8, 9)
    with pytest.raises(ValueError, match="unknown mask schedule"):
        masked_counts(8, 2, "exponential")
    with pytest.raises(ValueError, match="progress must lie in"):
        mask_ratio(1.5)


def test_training_masks_follow_the_schedule_and_the_seed():
    masks = random_token_mask(4000, 16, "cosine", generator=seeded(1))
    per_row = masks.sum(dim=1)
    assert int(per_row.min()) >= 1 and int(per_row.max()) <= 16
    # E[cos(pi t / 2)] for t ~ U(0, 1) is 2 / pi
    assert float(masks.float().mean()) == pytest.approx(2 / math.pi, abs=0.02)
    assert torch.equal(masks, random_token_mask(4000, 16, "cosine", generator=seeded(1)))


# ------------------------------------------------------------------------------------------ generation
def test_generation_gives_codes_only(model):
    model.train()  # generate must switch dropout off itself and restore the mode
    ids = model.generate(torch.tensor([0, 3, 4]), guidance=2.0, generator=seeded())
    assert ids.shape == (3, N) and ids.dtype == torch.long
    assert int(ids.min()) >= 0 and int(ids.max()) < K  # no mask or null ids left
    assert model.training
    assert model.generate(None, n=2, steps=N, generator=seeded()).shape == (2, N)


def test_generation_is_deterministic_under_a_seed(model):
    classes = torch.tensor([1, 2, 2, 0])
    a = model.generate(classes, guidance=3.0, generator=seeded(7))
    b = model.generate(classes, guidance=3.0, generator=seeded(7))
    c = model.generate(classes, guidance=3.0, generator=seeded(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_guidance_zero_is_unconditional_sampling(model):
    """logits = uncond + g (cond - uncond): at g = 0 neither class nor series is used, so the draw equals the
    null-condition draw token for token (same seed), and an unconditioned draw ignores g."""
    classes = torch.tensor([0, 1, 2, 3])
    series = torch.randint(0, K, (4, S), generator=seeded(3))
    unconditional = model.generate(None, n=4, guidance=0.0, generator=seeded(5))
    assert torch.equal(model.generate(classes, guidance=0.0, generator=seeded(5)), unconditional)
    assert torch.equal(model.generate(classes, series_tokens=series, guidance=0.0, generator=seeded(5)), unconditional)
    assert torch.equal(model.generate(None, n=4, guidance=4.0, generator=seeded(5)), unconditional)


def test_guided_logits_combine_the_two_passes(model):
    model.eval()
    ids = torch.randint(0, K + 1, (3, N), generator=seeded(2))
    classes = torch.tensor([4, 0, 2])
    with torch.no_grad():
        uncond, cond = model(ids), model(ids, classes)
        assert torch.equal(model.guided_logits(ids, classes, None, 0.0), uncond)
        assert torch.equal(model.guided_logits(ids, classes, None, 1.0), cond)
        assert not torch.allclose(cond, uncond, atol=1e-4)  # the class does change the prediction
        guided = model.guided_logits(ids, classes, None, 2.5)
    torch.testing.assert_close(guided, uncond + 2.5 * (cond - uncond), rtol=1e-5, atol=1e-5)


def test_series_conditioned_generation(model):
    series = torch.randint(0, K, (2, S), generator=seeded(4))
    ids = model.generate(None, series_tokens=series, guidance=1.5, generator=seeded())
    assert ids.shape == (2, N) and int(ids.max()) < K
    same = model.generate(None, series_tokens=series[:, None], guidance=1.5, generator=seeded())  # (B, 1, S)
    assert torch.equal(ids, same)
    model.eval()
    tokens = torch.full((2, N), model.mask_token_id)
    with torch.no_grad():
        null_rows = torch.full((2, S), model.null_series_id)
        assert torch.equal(model(tokens, None, null_rows), model(tokens))
        assert not torch.allclose(model(tokens, None, series), model(tokens), atol=1e-4)
    with pytest.raises(ValueError, match=r"token ids of shape \(B, 6\)"):
        model.generate(None, series_tokens=torch.zeros(2, S + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="no series conditioning"):
        TokenGenerator(tiny_config(num_series_tokens=0)).generate(None, series_tokens=series)


def test_generation_rejects_bad_input(model):
    with pytest.raises(ValueError, match=r"class_ids in \[0, 5\]"):
        model.generate(torch.tensor([6]))
    with pytest.raises(ValueError, match="needs class_ids, series_tokens or n"):
        model.generate(None)
    with pytest.raises(ValueError, match="batch sizes disagree"):
        model.generate(torch.tensor([1, 2]), n=3)
    with pytest.raises(ValueError, match="steps must lie in"):
        model.generate(None, n=1, steps=N + 1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(None, n=1, temperature=-1.0)
    with pytest.raises(ValueError, match="expected integer tokens"):
        model(torch.zeros(1, N))


def test_greedy_generation_from_a_zero_temperature(model):
    ids = model.generate(torch.tensor([1, 1]), guidance=1.0, temperature=0.0, generator=seeded())
    assert ids.shape == (2, N) and int(ids.max()) < K


# ------------------------------------------------------------------------------------------ checkpoints
def test_save_load_round_trip(model, tmp_path):
    model.save_pretrained(tmp_path / "gen")
    loaded = TokenGenerator.from_pretrained(tmp_path / "gen")
    assert loaded.config == model.config
    classes = torch.tensor([0, 4])
    expected = model.generate(classes, guidance=2.0, generator=seeded(9))
    assert torch.equal(loaded.generate(classes, guidance=2.0, generator=seeded(9)), expected)
    TokenGenerator(tiny_config(hidden_size=64)).save_pretrained(tmp_path / "wider")
    (tmp_path / "wider" / "config.json").write_text((tmp_path / "gen" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="wrong shapes"):
        TokenGenerator.from_pretrained(tmp_path / "wider")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        TokenGenerator.from_pretrained(tmp_path)


def test_b64_config_matches_titok_generator_size():
    config = TokenGeneratorConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 24, 16)
    assert (config.codebook_size, config.image_seq_len) == (4096, 64)
    seed = {"model": {"vq_model": {"codebook_size": 64, "num_latent_tokens": 8}, "generator": {"hidden_size": 32,
            "num_attention_heads": 4, "guidance_scale": 3.0, "class_label_dropout": 0.1}}}
    parsed = TokenGeneratorConfig.from_seed(seed)
    assert (parsed.codebook_size, parsed.image_seq_len, parsed.hidden_size) == (64, 8, 32)
    with pytest.raises(ValueError, match="unknown model.generator keys"):
        TokenGeneratorConfig.from_seed({"model": {"generator": {"hiden_size": 32}}})


# ------------------------------------------------------------------------------------------- training
def test_masked_token_loss_weights_positions():
    logits = torch.zeros(1, 2, 4)
    logits[0, 0, 1] = 10.0  # position 0 predicts its target well, position 1 is uniform
    targets = torch.tensor([[1, 2]])
    only_first = masked_token_loss(logits, targets, torch.tensor([[True, False]]), label_smoothing=0.0)
    assert float(only_first) == pytest.approx(-torch.log_softmax(logits[0, 0], -1)[1].item(), rel=1e-5)
    both = masked_token_loss(logits, targets, torch.tensor([[True, False]]), label_smoothing=0.0, unmasked_weight=1.0)
    assert float(both) == pytest.approx((float(only_first) + math.log(4)) / 2, rel=1e-5)


def test_training_learns_class_conditional_sequences(tmp_path):
    """Class c is always the same sequence; after a short run the conditional greedy draw reproduces it."""
    torch.manual_seed(0)
    targets = torch.randint(0, K, (C, N), generator=seeded(11))
    bank = TokenBank(targets.repeat(16, 1), torch.arange(C).repeat(16))
    generator = TokenGenerator(tiny_config(num_series_tokens=0, dropout=0.0, hidden_size=64, intermediate_size=128))
    task = GeneratorTask(generator, condition_dropout=0.1, label_smoothing=0.0)
    settings = TrainerConfig(
        output_dir=str(tmp_path), max_train_steps=80, per_gpu_batch_size=16, learning_rate=3e-3, end_lr=1e-4,
        warmup_steps=10, use_ema=False, save_every=0, log_every=0,
    )
    export = Trainer(task, settings, bank).fit()
    trained = TokenGenerator.from_pretrained(export)
    drawn = trained.generate(torch.arange(C), guidance=1.0, temperature=0.0, generator=seeded())
    assert float((drawn == targets).float().mean()) > 0.9


def _tiny_image_folder(root, count: int = 6) -> list[int]:
    root.mkdir()
    rng = np.random.default_rng(0)
    labels = [3, 1, 4, 1, 0, 2][:count]
    with (root / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "wnid", "class_index", "class_name"])
        for i, label in enumerate(labels):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / f"img{i}.png")
            writer.writerow([f"img{i}.png", "n0", label, "x"])
    return labels


def test_run_generator_on_an_image_folder(tmp_path):
    """The tiny run config end to end: encode a labelled folder (2 views), train 2 steps, export, reload."""
    labels = _tiny_image_folder(tmp_path / "images")
    tokenizer_cfg = VisionModelConfig.from_seed(load_run_config(CONFIGS / "tiny" / "timeartist_tiny.yaml"))
    VisionModel(tokenizer_cfg).save_pretrained(tmp_path / "tokenizer")
    out = tmp_path / "run"
    overrides = [
        f"experiment.output_dir={out}", f"experiment.tokenizer_checkpoint={tmp_path / 'tokenizer'}",
        f"dataset.params.image_dirs=[{tmp_path / 'images'}]", "dataset.params.views=2",
        "training.max_train_steps=2", "training.per_gpu_batch_size=4", "model.generator.hidden_size=32",
        "model.generator.num_hidden_layers=1", "model.generator.intermediate_size=64",
    ]
    export = run_generator(CONFIGS / "tiny" / "generator.yaml", overrides)
    bank = load_file(out / BANK_FILE)
    assert bank["image_tokens"].shape == (2 * len(labels), tokenizer_cfg.num_latent_tokens)
    assert bank["class_ids"].tolist() == labels * 2
    trained = TokenGenerator.from_pretrained(export)
    assert trained.config.codebook_size == tokenizer_cfg.codebook_size
    ids = trained.generate(torch.tensor([3, 1]), guidance=2.0, generator=seeded())
    assert ids.shape == (2, tokenizer_cfg.num_latent_tokens)
    assert VisionModel.from_pretrained(tmp_path / "tokenizer").decode_tokens(ids).shape == (2, 3, 32, 32)

    # model.generator_init starts from exported weights: at a vanishing learning rate the next export is those weights
    frozen = run_generator(CONFIGS / "tiny" / "generator.yaml", [*overrides[1:], f"experiment.output_dir={tmp_path / 'on'}",
                                                                  f"model.generator_init={export}", "optimizer.params.learning_rate=1e-12", "lr_scheduler.params.end_lr=0"])  # fmt: skip
    for name, value in TokenGenerator.from_pretrained(frozen).state_dict().items():
        torch.testing.assert_close(value, trained.state_dict()[name])
    with pytest.raises(ValueError, match="model.generator_init .* but the run config builds"):
        run_generator(CONFIGS / "tiny" / "generator.yaml", [*overrides[1:], f"experiment.output_dir={tmp_path / 'bad'}",
                                                           f"model.generator_init={export}", "model.generator.hidden_size=16"])  # fmt: skip


def test_series_conditioned_training_needs_series_in_the_bank(tmp_path):
    bank = TokenBank(torch.zeros(4, N, dtype=torch.long), torch.full((4,), -1))
    with pytest.raises(ValueError, match="has no series_tokens"):
        bank.check_fits(tiny_config())
    bank.check_fits(tiny_config(num_series_tokens=0))
    assert bank.class_ids.tolist() == [C] * 4  # unlabelled -> null class
    paired = TokenBank(torch.zeros(8, N, dtype=torch.long), torch.zeros(8), torch.ones(8, S, dtype=torch.long))
    paired.check_fits(tiny_config())
    task = GeneratorTask(TokenGenerator(tiny_config()))
    loss, logs = task.training_step({k: torch.stack([paired[i][k] for i in range(8)]) for k in paired[0]})
    assert torch.isfinite(loss) and 0 < logs["mask_ratio"] <= 1
    TokenBank.load(paired.save(tmp_path / "bank.safetensors")).check_fits(tiny_config())


def test_run_generator_pairs_series_with_images(tmp_path):
    """Series-conditioned run: a warm-up export's two tokenizers encode synthetic series and the images, optimal
    transport pairs them, and the trained generator draws images for a series' tokens."""
    _tiny_image_folder(tmp_path / "images")
    tiny = load_run_config(CONFIGS / "tiny" / "timeartist_tiny.yaml")
    visual = VisionModel(VisionModelConfig.from_seed(tiny))
    temporal = TimeArtist(TimeArtistConfig.from_seed(tiny), quantizer=visual.quantize)
    save_tokenizer_pair(temporal, visual, tmp_path / "warmup")
    out = tmp_path / "run"
    overrides = [
        f"experiment.output_dir={out}", f"experiment.tokenizer_checkpoint={tmp_path / 'warmup'}",
        f"dataset.params.image_dirs=[{tmp_path / 'images'}]", "dataset.params.series_datasets=[]",
        "dataset.params.synthetic_series=20", "model.generator.num_series_tokens=8", "training.max_train_steps=2",
        "training.per_gpu_batch_size=4", "model.generator.hidden_size=32", "model.generator.num_hidden_layers=1",
        "model.generator.intermediate_size=64",
    ]
    export = run_generator(CONFIGS / "tiny" / "generator.yaml", overrides)
    bank = TokenBank.load(out / BANK_FILE)
    assert bank.series_tokens.shape == (20, 8) and bank.image_tokens.shape == (20, 8)
    series = torch.stack([torch.from_numpy(np.sin(np.linspace(0, 8, 64)).astype(np.float32))] * 2)
    series_tokens = temporal.encode(series)[1]
    ids = TokenGenerator.from_pretrained(export).generate(None, series_tokens=series_tokens, guidance=2.0, generator=seeded())
    assert ids.shape == (2, 8) and int(ids.max()) < 64
    with pytest.raises(ValueError, match="warm-up export with temporal/ and visual/"):
        run_generator(CONFIGS / "tiny" / "generator.yaml", [*overrides[2:], f"experiment.output_dir={tmp_path / 'x'}",
                                                       f"experiment.tokenizer_checkpoint={tmp_path / 'warmup' / 'visual'}"])
