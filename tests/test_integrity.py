"""Damaged model files and non-finite outputs: a typed error naming the file (exit code 2 from the CLI), never NaN."""

import json
import shutil

import numpy as np
import pytest
import torch

from timeartist.cli import main
from timeartist.errors import CheckpointError, NonFiniteOutputError
from timeartist.hub import file_sha256
from timeartist.pipelines.pipeline import DEFAULT_MODEL_DIR, INDEX_NAME, TimeArtistPipeline, record_checksums

WEIGHTS = "outpainter/model.safetensors"


@pytest.fixture
def pipe_dir(tiny_pipeline_dir, tmp_path):
    """A copy of the tiny pipeline folder that a test may damage."""
    return shutil.copytree(tiny_pipeline_dir, tmp_path / "pipe")


def _overwrite_middle(path, data=b"\x7f" * 64):
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + len(data)] = data
    path.write_bytes(bytes(raw))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def _bad_header(path):
    raw = path.read_bytes()
    path.write_bytes(raw[:8] + b"#" * 16 + raw[24:])


def test_index_records_the_sha256_of_every_weight_file(pipe_dir):
    index = json.loads((pipe_dir / INDEX_NAME).read_text())
    assert set(index["sha256"]) == {f"{name}/model.safetensors" for name in index["components"]}
    assert all(file_sha256(pipe_dir / f) == h for f, h in index["sha256"].items())


def test_bundled_model_records_and_matches_its_hashes():
    index = json.loads((DEFAULT_MODEL_DIR / INDEX_NAME).read_text())
    assert set(index["sha256"]) >= {f"{name}/model.safetensors" for name in index["components"]}
    assert all(file_sha256(DEFAULT_MODEL_DIR / f) == h for f, h in index["sha256"].items())


@pytest.mark.parametrize("damage", [_overwrite_middle, _truncate, _bad_header])
def test_damaged_weights_are_a_checkpoint_error_naming_the_file(pipe_dir, damage):
    damage(pipe_dir / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"outpainter/model\.safetensors.*(reinstall|export)"):
        TimeArtistPipeline.from_pretrained(pipe_dir)


@pytest.mark.parametrize("damage", [_truncate, _bad_header])
def test_folders_without_hashes_load_with_structural_checks(pipe_dir, damage):
    index = json.loads((pipe_dir / INDEX_NAME).read_text())
    del index["sha256"]
    (pipe_dir / INDEX_NAME).write_text(json.dumps(index))
    TimeArtistPipeline.from_pretrained(pipe_dir)  # an old folder still loads
    damage(pipe_dir / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"outpainter/model\.safetensors"):
        TimeArtistPipeline.from_pretrained(pipe_dir)


def test_record_checksums_accepts_a_replaced_file(pipe_dir, tiny_pipeline_dir):
    shutil.copy(tiny_pipeline_dir / "temporal" / "model.safetensors", pipe_dir / "temporal" / "model.safetensors")
    _overwrite_middle(pipe_dir / "generator" / "model.safetensors", b"\x00" * 8)
    with pytest.raises(CheckpointError, match="generator"):
        TimeArtistPipeline.from_pretrained(pipe_dir)
    record_checksums(pipe_dir)  # a deliberate replacement: record what is there now
    TimeArtistPipeline.from_pretrained(pipe_dir)


@pytest.mark.parametrize("broken", [INDEX_NAME, "visual/config.json"])
def test_broken_json_names_the_file(pipe_dir, broken):
    (pipe_dir / broken).write_text('{"components": ')
    with pytest.raises(CheckpointError, match=broken.replace(".", r"\.")):
        TimeArtistPipeline.from_pretrained(pipe_dir)


@pytest.mark.parametrize("damage", [_overwrite_middle, _truncate, _bad_header])
def test_cli_damaged_weights_one_line_exit_2(pipe_dir, damage, tmp_path, capsys):
    damage(pipe_dir / WEIGHTS)
    csv = tmp_path / "s.csv"
    csv.write_text("y\n" + "\n".join(str(np.sin(i / 3)) for i in range(100)))
    assert main(["forecast", "--model", str(pipe_dir), "--csv", str(csv), "--horizon", "5", "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and WEIGHTS in err
    assert not (tmp_path / "f.csv").exists()


@pytest.fixture
def nan_pipe(tiny_pipeline_dir):
    """A pipeline whose outpainter and image decoder hold NaN weights (damage that no hash recorded)."""
    pipe = TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)
    with torch.no_grad():
        for module in (pipe.outpainter, pipe.visual.decoder, pipe.temporal.decoder):
            next(module.parameters()).fill_(float("nan"))
    return pipe


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_nan_forecast_from_finite_input_raises(nan_pipe, method):
    with pytest.raises(NonFiniteOutputError, match="the model produced NaN"):
        nan_pipe.forecast(np.sin(np.arange(200) / 4.0), 12, method=method, period=24)


def test_nan_conversions_from_finite_input_raise(nan_pipe):
    series, image = np.sin(np.arange(64) / 4.0), torch.rand(3, 32, 32)
    for convert in (
        lambda: nan_pipe.series_to_image(series, aligned=False),
        lambda: nan_pipe.image_to_series(image, aligned=False),
        lambda: nan_pipe.style_transfer(image, series, 0.5),
    ):
        with pytest.raises(NonFiniteOutputError):
            convert()
