"""The demo end to end (quick mode) on the tiny pipeline: every listed figure, and a gallery that links only real files."""

import re

from PIL import Image

from timeartist.cli import main

EXPECTED = [
    "round_trip.png", "image2series.png", "series2image.png", "style_transfer.png", "forecast_airline.png", "forecast_solar.png",
    "classification.png", "generated.png",
]  # fmt: skip


def test_demo_writes_gallery(tiny_pipeline_dir, tmp_path, capsys):
    assert main(["demo", "--quick", "--model", str(tiny_pipeline_dir), "--out", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    linked = re.findall(r'src="([^"]+)"', index)
    assert sorted(linked) == sorted(EXPECTED)
    for name in linked:
        assert Image.open(tmp_path / name).format == "PNG"
    assert "accuracy" in index


def test_demo_photos_are_held_out_when_the_data_folder_is_there(data_root):
    from timeartist.data.images import is_heldout
    from timeartist.demo import HELDOUT_PHOTOS, _photos

    photos, titles, source = _photos(data_root)
    assert photos.shape == (HELDOUT_PHOTOS, 3, 256, 256) and "held-out" in source and len(titles) == HELDOUT_PHOTOS
    assert all(is_heldout(p.name) for p in sorted((data_root / "images" / "imagenet_samples").glob("*.JPEG")) if p.stem.split("_", 1)[1].replace("_", " ") in titles)
