"""Property-based checks (hypothesis) on the tiny pipeline: random series, horizons, images and CLI inputs.

- From finite input the pipeline never returns a non-finite value, and it raises nothing but the documented error
  types (``ValueError``, including ``CheckpointError``, or ``FileNotFoundError``), never ``NonFiniteOutputError``
  from a healthy model.
- The CLI never prints a traceback without ``--debug``: exit code 0, or 2 with one line on stderr.

Small ``max_examples`` and no deadline keep the whole file well within a minute.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from timeartist.cli import main  # noqa: E402
from timeartist.data.images import to_image_batch  # noqa: E402
from timeartist.errors import DataError, NonFiniteOutputError  # noqa: E402
from timeartist.pipelines.pipeline import TimeArtistPipeline  # noqa: E402

DOCUMENTED = (ValueError, FileNotFoundError)
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PIL_MODES = ("1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F", "LA", "PA", "RGBa", "La", "RGBX")


@pytest.fixture(scope="module")
def pipe(tiny_pipeline_dir):
    return TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)


@st.composite
def series(draw, max_length: int = 5000) -> np.ndarray:
    """A seasonal-ish series of any length, dtype and scale, with constant stretches and (floats) NaN runs."""
    length = draw(st.integers(1, max_length))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "int32", "bool"]))
    scale, offset = 10.0 ** draw(st.floats(-8, 12)), draw(st.floats(-3, 3))
    t = np.arange(length)
    x = np.sin(2 * np.pi * t / draw(st.integers(2, 300))) + draw(st.floats(0, 1)) * rng.normal(size=length)
    for _ in range(draw(st.integers(0, 3))):  # constant stretches
        start = int(rng.integers(0, length))
        x[start : start + int(rng.integers(1, length + 1))] = x[start]
    x = (x + offset) * scale
    if dtype == "bool":
        return x > np.median(x)
    if dtype.startswith("int"):
        limit = np.iinfo(dtype).max // 2
        return np.clip(np.round(x), -limit, limit).astype(dtype)
    x = x.astype(dtype)
    for _ in range(draw(st.integers(0, 3))):  # NaN runs
        start = int(rng.integers(0, length))
        x[start : start + int(rng.integers(1, max(2, length // 4)))] = np.nan
    return x


def _check_finite_or_documented(call):
    """Run ``call``; a result must be finite, an error documented (and not a NaN from a healthy model)."""
    try:
        result = call()
    except NonFiniteOutputError:
        raise
    except DOCUMENTED:
        return None
    values = result.numpy() if isinstance(result, torch.Tensor) else np.asarray(result)
    assert np.isfinite(values).all()
    return values


@settings(max_examples=40, **SETTINGS)
@given(x=series(), horizon=st.integers(1, 3000), as_torch=st.booleans())
def test_forecast_is_finite_or_a_documented_error(pipe, x, horizon, as_torch):
    context = torch.from_numpy(x) if as_torch and x.dtype != bool else x
    values = _check_finite_or_documented(lambda: pipe.forecast(context, horizon))
    if values is not None:
        assert values.shape == (horizon,)
        if np.isfinite(np.asarray(x, dtype=float)).sum() >= 2 and np.nanstd(np.asarray(x, dtype=float)) == 0:
            assert (values == values[0]).all()  # a constant context: a constant forecast


@settings(max_examples=10, **SETTINGS)
@given(x=series(max_length=600), data=st.data())
def test_artist_forecast_and_series_to_image_are_finite_or_documented_errors(pipe, x, data):
    horizon = data.draw(st.integers(1, max(1, len(x))))
    _check_finite_or_documented(lambda: pipe.forecast(x, horizon, method="artist"))
    images = _check_finite_or_documented(lambda: pipe.series_to_image(x))
    if images is not None:
        assert images.min() >= 0 and images.max() <= 1


@st.composite
def images(draw):
    """One image as a PIL image of any mode, a numpy array in any supported layout or a torch tensor, 1-2000 px."""
    height, width = draw(st.integers(1, 2000)), draw(st.integers(1, 2000))
    if height * width > 1_000_000:  # keep memory and time small: one long side at most, the other shorter
        width = max(1, 1_000_000 // height)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    form = draw(st.sampled_from(["pil", "numpy uint8", "numpy float", "numpy grey", "numpy rgba", "torch", "torch batch"]))
    if form == "pil":
        mode = draw(st.sampled_from(PIL_MODES))
        if mode in ("I;16", "F"):
            return Image.fromarray(rgba[..., 0].astype(np.uint16 if mode == "I;16" else np.float32) * (257 if mode == "I;16" else 1))
        return Image.fromarray(rgba, mode="RGBA").convert(mode)
    if form == "numpy uint8":
        return rgba[..., :3]
    if form == "numpy float":
        return rgba[..., :3] / 255.0
    if form == "numpy grey":
        return rgba[..., 0]
    if form == "numpy rgba":
        return rgba
    chw = torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).float() / 255
    return chw if form == "torch" else chw[None]


@settings(max_examples=40, **SETTINGS)
@given(image=images())
def test_any_valid_image_converts_to_a_finite_series(pipe, image):
    square = to_image_batch(image, pipe.visual.config.image_size)
    if (square.amax(dim=(-2, -1)) - square.amin(dim=(-2, -1))).max() < 1 / 255:  # one flat colour, e.g. 1 pixel wide
        with pytest.raises(DataError, match="one flat colour"):
            pipe.image_to_series(image, aligned=False)
        return
    series = pipe.image_to_series(image, aligned=False)
    values = series.numpy() if isinstance(series, torch.Tensor) else series
    assert values.shape == (1, pipe.temporal.seq_len) and np.isfinite(values).all()


@settings(max_examples=15, **SETTINGS)
@given(image=images(), factor=st.floats(-300, 300))
def test_out_of_range_images_are_value_errors(pipe, image, factor):
    scaled = np.asarray(image, dtype=np.float64) * factor if not isinstance(image, (torch.Tensor, Image.Image)) else None
    if scaled is not None:
        _check_finite_or_documented(lambda: pipe.image_to_series(scaled, aligned=False))


HOURLY = st.integers(1, 400).map(lambda n: "date,load\n" + "\n".join(f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00,{np.sin(i / 4):.4f}" for i in range(n) if i % 7))
CSV_BODIES = st.one_of(
    st.sampled_from(["", "date,load\n"]),
    st.text(max_size=200),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=300).map(
        lambda values: "load\n" + "\n".join(str(v) for v in values)
    ),
    HOURLY,  # hourly with gaps: needs --freq
    HOURLY.map(lambda text: text.replace("date,", "step,")),  # no timestamps
)


@settings(max_examples=30, **SETTINGS)
@given(
    body=CSV_BODIES,
    horizon=st.one_of(st.integers(1, 3000).map(str), st.integers(1, 200).map(str), st.sampled_from(["0", "-3", "ten"])),
    extra=st.lists(st.sampled_from([["--freq", "h"], ["--freq", "often"], ["--period", "24"], ["--period", "0"], ["--context", "50"],
                                    ["--method", "artist"], ["--column", "load"], ["--column", "nope"], ["--plot", "{dir}"]]), max_size=3),
)
def test_the_cli_never_prints_a_traceback(tiny_pipeline_dir, tmp_path, body, horizon, extra):
    csv = tmp_path / "input.csv"
    csv.write_text(body)
    argv = ["forecast", "--model", str(tiny_pipeline_dir), "--csv", str(csv), "--horizon", horizon, "--out", str(tmp_path / "fc.csv")]
    argv += [a.replace("{dir}", str(tmp_path)) for pair in extra for a in pair]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse usage errors
            code = stop.code
    assert "Traceback" not in err.getvalue()
    assert code in (0, 2), err.getvalue()
    if code == 2 and not err.getvalue().startswith("usage:"):
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
