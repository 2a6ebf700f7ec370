"""The seed README's walkthrough (steps 1-5) with ``timeartist.*`` imports, on tiny checkpoints in its folder layout:

    checkpoints/stage1/model.safetensors
    checkpoints/stage2/pytorch_model.bin
    checkpoints/tokenizer_vm_b64_imagenet/{config.json, model.safetensors}

The seed's code is followed line by line except: CPU, tiny configs, a PIL resize instead of torchvision (not a
dependency), pixel values divided by 255 once (the seed divides twice), and fewer windows.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from safetensors.torch import load_file, save_file

from timeartist.data import MultiDomainSelfSupervisionDataset
from timeartist.models import AdapterAlignment, TimeArtist, VisionModel

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tiny"
STAGE1_YAML = CONFIGS / "timeartist_tiny.yaml"
ALIGN_YAML = CONFIGS / "timeartist_tiny_align.yaml"
device = "cpu"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """Tiny tokenizers sharing one codebook and an untrained aligner, saved the way the seed ships its weights."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("seed") / "checkpoints"
    stage1 = OmegaConf.load(STAGE1_YAML)
    series = TimeArtist(stage1)
    vision = VisionModel(stage1, quantizer=series.quantize)

    def tensors(model):
        return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}

    for sub in ("stage1", "stage2", "tokenizer_vm_b64_imagenet"):
        (root / sub).mkdir(parents=True)
    save_file(tensors(series), str(root / "stage1" / "model.safetensors"))
    torch.save(AdapterAlignment(OmegaConf.load(ALIGN_YAML)).state_dict(), root / "stage2" / "pytorch_model.bin")
    visual_dir = root / "tokenizer_vm_b64_imagenet"
    (visual_dir / "config.json").write_text(json.dumps(OmegaConf.to_container(stage1)))  # TiTok's HF layout
    save_file(tensors(vision), str(visual_dir / "model.safetensors"))
    return root


def _load_tokenizers(checkpoints: Path):
    # 1. Load the Visual Autoencoder
    tokenizer_visual = VisionModel.from_pretrained(checkpoints / "tokenizer_vm_b64_imagenet")
    tokenizer_visual.eval()
    tokenizer_visual.requires_grad_(False)
    tokenizer_visual = tokenizer_visual.to(device)

    # 2. Load Times Series Autoencoder
    config = OmegaConf.load(STAGE1_YAML)
    tokenizer_time = TimeArtist(config)
    state_dict = load_file(checkpoints / "stage1" / "model.safetensors")
    tokenizer_time.load_state_dict(state_dict)
    tokenizer_time.eval()
    tokenizer_time.requires_grad_(False)
    tokenizer_time = tokenizer_time.to(device)
    return tokenizer_visual, tokenizer_time


def _to_png(image: torch.Tensor, path: Path) -> None:
    image = torch.clamp(image, 0.0, 1.0)
    image = (image * 255.0).permute(0, 2, 3, 1).to("cpu", dtype=torch.uint8).numpy()[0]
    Image.fromarray(image).save(path)


def test_steps_1_to_3_image_to_series(checkpoints, tmp_path):
    tokenizer_visual, tokenizer_time = _load_tokenizers(checkpoints)
    assert torch.equal(tokenizer_visual.quantize.codebook, tokenizer_time.quantize.codebook)

    # 3. Convert an image to a time series
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)).save(tmp_path / "any_size.png")
    pil = Image.open(tmp_path / "any_size.png").convert("RGB").resize((32, 32), Image.BICUBIC)
    image = torch.from_numpy(np.array(pil)).permute(2, 0, 1).float().to(device)
    image = image.unsqueeze(0) / 255.0
    q, _ = tokenizer_visual.encode(image)
    series_recon = tokenizer_time.decode(q)
    assert series_recon.shape == (1, 64) and torch.isfinite(series_recon).all()


def test_steps_4_and_5_series_to_image_before_and_after_alignment(checkpoints, tmp_path, data_root):
    tokenizer_visual, tokenizer_time = _load_tokenizers(checkpoints)

    # 4. Before alignment, convert the time series into an image
    dataset = MultiDomainSelfSupervisionDataset(data_name="etth1", seq_len=64, data_root=data_root)
    os.makedirs(tmp_path / "series2image", exist_ok=True)
    before = []
    for i in range(min(len(dataset), 3)):
        series = dataset.__getitem__(i)
        series = series.unsqueeze(0).to(device).float()
        q, q_ind = tokenizer_time.encode(series)
        image = tokenizer_visual.decode(q)
        before.append(image)
        _to_png(image, tmp_path / "series2image" / f"{i}_image.png")

    # 5. After alignment, the time series is converted into an image
    config = OmegaConf.load(ALIGN_YAML)
    align_time2image = AdapterAlignment(config)
    state_dict = torch.load(checkpoints / "stage2" / "pytorch_model.bin")
    align_time2image.load_state_dict(state_dict)
    align_time2image.eval()
    align_time2image.requires_grad_(False)
    align_time2image = align_time2image.to(device)
    os.makedirs(tmp_path / "series2image_align", exist_ok=True)
    for j in range(min(len(dataset), 3)):
        series = dataset.__getitem__(j)
        series = series.unsqueeze(0).to(device).float()
        q, q_ind = tokenizer_time.encode(series)
        logits = align_time2image.forward(q_ind)
        image_q_ind = torch.argmax(logits, dim=-1)
        image = tokenizer_visual.decode_tokens(image_q_ind)
        _to_png(image, tmp_path / "series2image_align" / f"{j}_image.png")
        # an untrained aligner is the identity, so "after" reproduces "before"
        assert torch.equal(image_q_ind, q_ind[:, 0])
        torch.testing.assert_close(image, before[j], atol=1e-5, rtol=1e-5)

    for folder in ("series2image", "series2image_align"):
        pngs = sorted((tmp_path / folder).glob("*.png"))
        assert len(pngs) == 3 and all(Image.open(p).size == (32, 32) for p in pngs)
