"""Image folder and webdataset shard loading: odd modes, resize / crop / flip, unreadable files."""

from __future__ import annotations

import io
import logging
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from timeartist.data import ImageFolderDataset, ImageTransform, WebImageDataset, load_image, to_rgb


def _gradient(width=48, height=32) -> np.ndarray:
    """(H, W, 3) uint8 with a horizontal ramp, so crops and flips are visible."""
    ramp = np.linspace(0, 255, width).astype(np.uint8)
    return np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)


def test_odd_modes_become_rgb_with_sensible_values(tmp_path):
    grey16 = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    half16 = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    assert grey16.mode == "I;16"
    transparent = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    palette_t = Image.new("P", (8, 8), 0)
    palette_t.info["transparency"] = 0
    cases = {
        "L": (Image.new("L", (8, 8), 100), 100 / 255),
        "LA": (Image.new("LA", (8, 8), (50, 255)), 50 / 255),
        "RGBA transparent": (transparent, 1.0),  # composited over white, not black
        "P transparent": (palette_t, 1.0),
        "I;16 white": (grey16, 1.0),  # not clipped to garbage
        "I;16 half": (half16, 128 / 255),
        "CMYK": (Image.new("CMYK", (8, 8), (0, 0, 0, 0)), 1.0),
        "1": (Image.new("1", (8, 8), 1), 1.0),
    }
    for name, (image, expected) in cases.items():
        rgb = to_rgb(image)
        assert rgb.mode == "RGB", name
        np.testing.assert_allclose(np.asarray(rgb) / 255, expected, atol=1 / 255, err_msg=name)


def test_saved_odd_mode_files_load_as_unit_range_tensors(tmp_path):
    rgb = _gradient()
    Image.fromarray(rgb).convert("L").save(tmp_path / "l.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = ImageFolderDataset(tmp_path, size=16, crop="center", flip=False)
    assert [p.name for p in dataset.files] == ["cmyk.jpg", "grey16.png", "l.png", "p.png", "rgba.png"]
    for image in dataset:
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert float(image[0, :, -1].mean() - image[0, :, 0].mean()) > 0.5  # the ramp survived


def test_resize_shorter_edge_centre_crop_and_flip():
    image = Image.fromarray(_gradient(width=64, height=32))
    centre = ImageTransform(size=16, crop="center")(image)
    # shorter edge 32 -> 16, width 64 -> 32, centre crop keeps columns 8..23 of the 32-wide image (Pillow rounds its
    # bicubic result to 8 bits; the rule keeps float values)
    expected = np.asarray(image.resize((32, 16), Image.Resampling.BICUBIC), dtype=np.float32)[:, 8:24] / 255
    np.testing.assert_allclose(centre.permute(1, 2, 0).numpy(), expected, atol=0.5 / 255 + 1e-6)
    torch.manual_seed(0)
    flips = {bool(torch.equal(ImageTransform(size=16, flip=True)(image), centre.flip(-1))) for _ in range(20)}
    assert flips == {True, False}  # both orientations occur


def test_random_crop_follows_torch_seed():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 90, 3), dtype=np.uint8))
    transform = ImageTransform(size=24, resize=40, crop="random")
    torch.manual_seed(3)
    first = transform(image)
    torch.manual_seed(3)
    assert torch.equal(first, transform(image))
    assert first.shape == (3, 24, 24)


def test_recursive_folder_and_real_images(data_root):
    dataset = ImageFolderDataset(data_root / "images" / "skimage", size=64, crop="random")
    assert len(dataset) >= 10 and all(p.suffix.lower() in (".png", ".jpg") for p in dataset.files)
    nested = ImageFolderDataset(data_root / "images", size=32)
    assert len(nested) > len(dataset)
    assert nested[0].shape == (3, 32, 32)


def test_unreadable_images_raise_or_are_skipped(tmp_path, caplog):
    (tmp_path / "a_broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    Image.fromarray(_gradient()).save(tmp_path / "b_good.png")
    with pytest.raises(ValueError, match="a_broken.jpg: cannot read image"):
        ImageFolderDataset(tmp_path, size=16)[0]
    skipping = ImageFolderDataset(tmp_path, size=16, crop="center", flip=False, on_error="skip")
    with caplog.at_level(logging.WARNING, logger="timeartist.data.images"):
        image = skipping[0]
    assert "skipping unreadable image" in caplog.text
    assert torch.equal(image, skipping[1])


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        ImageFolderDataset(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no .jpg/.jpeg/.png files"):
        ImageFolderDataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="image file not found"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ValueError, match="crop must be"):
        ImageTransform(crop="left")


def _shard(path, members: dict[str, bytes]):
    with tarfile.open(path, "w") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_webdataset_shards_stream_images(tmp_path):
    rgb = _gradient()
    _shard(tmp_path / "shard-0.tar", {"s0.jpg": _encoded(rgb, "JPEG"), "s0.cls": b"3", "s1.png": _encoded(rgb[..., 0], "PNG")})
    _shard(tmp_path / "shard-1.tar", {"s2.png": _encoded(rgb, "PNG")})
    dataset = WebImageDataset(str(tmp_path / "shard-{0..1}.tar"), size=16, crop="center", flip=False, shuffle=0)
    images = list(dataset)
    assert len(images) == 3 and all(i.shape == (3, 16, 16) for i in images)
    reference = ImageTransform(size=16)(Image.fromarray(rgb))
    torch.testing.assert_close(images[2], reference)


def test_webdataset_errors(tmp_path):
    with pytest.raises(ValueError, match="only local tar shards"):
        WebImageDataset("https://example.com/shard-0.tar")
    with pytest.raises(FileNotFoundError, match="tar shards not found"):
        WebImageDataset(str(tmp_path / "missing-{0..2}.tar"))
    _shard(tmp_path / "text.tar", {"s0.txt": b"hello"})
    with pytest.raises(ValueError, match="no jpg/jpeg/png member"):
        list(WebImageDataset(str(tmp_path / "text.tar"), shuffle=0))
    assert list(WebImageDataset(str(tmp_path / "text.tar"), shuffle=0, on_error="skip")) == []


def test_heldout_split_is_fixed_by_file_name_and_disjoint(tmp_path):
    from timeartist.data.images import is_heldout

    names = [f"img_{i:03d}.png" for i in range(60)]
    for name in names:
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / name)
    train = {p.name for p in ImageFolderDataset(tmp_path, size=8, split="train").files}
    heldout = {p.name for p in ImageFolderDataset(tmp_path, size=8, split="heldout").files}
    assert train.isdisjoint(heldout) and train | heldout == set(names) and 0 < len(heldout) < 20
    assert heldout == {n for n in names if is_heldout(n)}
    Image.new("RGB", (8, 8)).save(tmp_path / "added.png")  # a new file does not move the others
    assert heldout <= {p.name for p in ImageFolderDataset(tmp_path, size=8, split="heldout").files}
    with pytest.raises(ValueError, match="split must be one of"):
        ImageFolderDataset(tmp_path, split="test")


def test_random_scaled_crops_and_jitter_stay_in_range_and_vary():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
    transform = ImageTransform(size=16, crop="random", scale=(0.3, 1.0), jitter=0.2)
    crops = torch.stack([transform(image) for _ in range(8)])
    assert crops.shape == (8, 3, 16, 16) and crops.min() >= 0 and crops.max() <= 1
    assert len({tuple(c.flatten()[:5].tolist()) for c in crops}) == 8
    # the centre crop ignores the training augmentations
    centre = ImageTransform(size=16, crop="center", scale=(0.3, 1.0), jitter=0.2)
    assert torch.equal(centre(image), ImageTransform(size=16, crop="center")(image))
    with pytest.raises(ValueError, match="scale must be"):
        ImageTransform(scale=(0.5, 1.5))
    with pytest.raises(ValueError, match="jitter must lie in"):
        ImageTransform(jitter=1.0)


def _photo(height=50, width=70) -> np.ndarray:
    """(H, W, 3) uint8, smooth enough that resampling differences stay small."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([128 + 100 * np.sin(x / 7), 128 + 100 * np.cos(y / 5), (x + y) * 255 // (height + width)], -1).astype(np.uint8)


def test_one_preprocessing_rule_for_every_input_type(tmp_path):
    from timeartist.data.images import to_image_batch

    rgb = _photo()
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    as_float = rgb.astype(np.float32) / 255
    chw = torch.from_numpy(as_float).permute(2, 0, 1)
    forms = {
        "path": str(tmp_path / "photo.png"),
        "PIL RGB": Image.fromarray(rgb),
        "PIL RGBA opaque": Image.fromarray(rgb).convert("RGBA"),
        "numpy HxWx3 uint8": rgb,
        "numpy HxWx3 float": as_float,
        "numpy HxWx4 uint8": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1),
        "numpy BxHxWx3 float64": as_float[None].astype(np.float64),
        "torch 3xHxW": chw,
        "torch Bx3xHxW": chw[None],
        "list of mixed": [Image.fromarray(rgb)],
    }
    reference = to_image_batch(forms.pop("path"), 32)
    assert reference.shape == (1, 3, 32, 32)
    for name, form in forms.items():
        torch.testing.assert_close(to_image_batch(form, 32), reference, atol=1e-5, rtol=0, msg=name)
    grey = rgb[..., 0]
    grey_reference = to_image_batch(Image.fromarray(grey), 32)
    for form in (grey, grey.astype(np.float32) / 255, torch.from_numpy(grey)[None].float() / 255):
        torch.testing.assert_close(to_image_batch(form, 32), grey_reference, atol=1e-5, rtol=0)
    # the rule: the largest centred square (columns 10..59 of 70) resized to S x S
    square = to_image_batch(rgb[:, 10:60], 32)
    torch.testing.assert_close(square, reference)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((8, 8, 3), 200.0), r"float pixels must be in \[0, 1\]"),
        (np.full((8, 8, 3), -0.5), r"float pixels must be in \[0, 1\]"),
        (np.full((8, 8), 300), r"integer pixels must be in \[0, 255\]"),
        (np.full((8, 8, 3), np.nan), "finite"),
        (np.zeros((8, 8, 2)), r"\(H, W, C\)"),
        (torch.zeros(8, 8, 3), r"torch \(C, H, W\)"),
        ([], "at least one image"),
    ],
)
def test_unsupported_images_are_clear_errors(bad, message):
    from timeartist.data.images import to_image_batch

    with pytest.raises(ValueError, match=message):
        to_image_batch(bad, 16)
