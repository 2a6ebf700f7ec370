"""The demo end to end (quick mode) on the tiny pipeline: every listed figure, and a gallery that links only real files."""

import re

from PIL import Image

from timeartist.cli import main

EXPECTED = [
    "image2series.png", "series2image.png", "style_transfer.png", "forecast_airline.png", "forecast_solar.png",
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
