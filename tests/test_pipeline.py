"""End-to-end contract of TimeArtistPipeline on a tiny randomly initialised model (``tiny_pipeline`` fixture)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from timeartist.data.images import to_image_batch
from timeartist.errors import DataError
from timeartist.hub import CheckpointError
from timeartist.pipelines.forecasting import bf16_native
from timeartist.pipelines.pipeline import INDEX_NAME, TimeArtistPipeline


@pytest.fixture(scope="module")
def pipe(tiny_pipeline_dir):
    return TimeArtistPipeline.from_pretrained(tiny_pipeline_dir)

def test_series_to_image_any_length_and_both_routes(pipe):
    series = np.sin(np.arange(3 * 100) / 5.0).reshape(3, 100)
    for aligned in (True, False):
        images = pipe.series_to_image(series, aligned=aligned)
        assert images.shape == (3, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    # multichannel (B, L, C) -> one image per channel
    assert pipe.series_to_image(np.random.randn(2, 50, 3)).shape == (6, 3, 32, 32)


def test_untrained_aligner_is_identity(pipe):
    series = np.random.randn(4, 64)
    np.testing.assert_allclose(pipe.series_to_image(series, aligned=True), pipe.series_to_image(series, aligned=False), atol=1e-6)


def test_image_to_series_from_arrays_and_files(pipe, tmp_path):
    from PIL import Image

    images = torch.rand(2, 3, 48, 40)
    out = pipe.image_to_series(images, length=100)
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    path = tmp_path / "x.png"
    Image.fromarray((np.random.rand(50, 70, 3) * 255).astype(np.uint8)).save(path)
    assert pipe.image_to_series([path], aligned=False).shape == (1, 64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pipe.image_to_series(torch.rand(1, 3, 32, 32) * 255)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pipe.image_to_series(torch.rand(1, 2, 32, 32))


def test_the_same_photo_gives_the_same_series_in_every_form(pipe, tmp_path):
    from PIL import Image

    rgb = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    chw = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    reference = pipe.image_to_series(str(tmp_path / "photo.png"), aligned=False)
    for form in (Image.fromarray(rgb), rgb, rgb / 255.0, chw.numpy(), chw, chw[None]):
        np.testing.assert_allclose(np.asarray(pipe.image_to_series(form, aligned=False)), reference, atol=1e-4)


def test_return_types_follow_the_input(pipe, tmp_path):
    from PIL import Image

    series, image = np.sin(np.arange(64) / 3.0), np.random.default_rng(0).random((32, 32, 3))
    Image.fromarray((image * 255).astype(np.uint8)).save(tmp_path / "x.png")
    series_t, image_t = torch.from_numpy(series), torch.from_numpy(image).permute(2, 0, 1)
    calls = {
        "series_to_image": (lambda s, i: pipe.series_to_image(s), "series"),
        "image_to_series": (lambda s, i: pipe.image_to_series(i), "image"),
        "style_transfer": (lambda s, i: pipe.style_transfer(i, series, 0.5), "image"),
        "style_sweep": (lambda s, i: pipe.style_sweep(i, series_t, [0.0, 1.0]), "image"),
        "forecast": (lambda s, i: pipe.forecast(s, 5, period=8), "series"),
        "forecast artist": (lambda s, i: pipe.forecast(s, 5, method="artist"), "series"),
    }
    for name, (call, _) in calls.items():
        assert isinstance(call(series, image), np.ndarray), name
        assert isinstance(call(series_t, image_t), torch.Tensor), name
    assert isinstance(pipe.image_to_series(str(tmp_path / "x.png")), np.ndarray)
    assert isinstance(pipe.image_to_series(Image.open(tmp_path / "x.png")), np.ndarray)
    assert isinstance(pipe.generate_images([1, 2], steps=2), np.ndarray)
    assert isinstance(pipe.generate_images(torch.tensor([1, 2]), steps=2), torch.Tensor)
    assert pipe.series_to_image(series).dtype == np.float32 and pipe.image_to_series(image).dtype == np.float32


def test_style_transfer_endpoints(pipe):
    image, series = torch.rand(3, 32, 32), np.cos(np.arange(64) / 3.0)
    sweep = pipe.style_sweep(image, series, alphas=[0.0, 0.5, 1.0])
    assert sweep.shape == (3, 3, 32, 32)
    assert torch.allclose(sweep[0], pipe.reconstruct_images(image)[0], atol=1e-5)  # alpha 0: the image itself
    assert torch.allclose(sweep[2], pipe.series_to_image(torch.from_numpy(series), aligned=False)[0], atol=1e-5)  # alpha 1: the series
    with pytest.raises(ValueError, match="alpha"):
        pipe.style_transfer(image, series, alpha=1.5)


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_forecast_shape_and_scale_contract(pipe, method):
    rng = np.random.default_rng(0)
    base = 100 + 5 * np.sin(np.arange(120) * 2 * np.pi / 12)
    one = pipe.forecast(base, 10, method=method, period=12)
    assert one.shape == (10,) and np.isfinite(one).all()
    assert 80 < one.mean() < 120  # back in the input's scale, not z-scores
    batch = pipe.forecast(np.stack([base, base * 2]), 7, method=method, period=12)
    assert batch.shape == (2, 7)
    multi = pipe.forecast(torch.tensor(rng.normal(size=(2, 120, 3)), dtype=torch.float32), 5, method=method, period=12)
    assert isinstance(multi, torch.Tensor) and multi.shape == (2, 5, 3)


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_forecast_is_scale_free(pipe, method):
    # forecast(c * x + d) == c * forecast(x) + d to 1e-4 of the series' spread, for c from 1e-8 to 1e12
    t = np.arange(300)
    x = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 7) + 0.2 * np.random.default_rng(0).normal(size=300)
    base = pipe.forecast(x, 30, method=method)  # the period is detected, which must be scale-free too
    for c in (1e-8, 1e-5, 1e-3, 1.0, 1e3, 1e8, 1e12):
        for d in (0.0, -3.5):
            np.testing.assert_allclose(pipe.forecast(c * x + d, 30, method=method), c * base + d, rtol=0, atol=1e-4 * c * x.std(), err_msg=f"c={c}, d={d}")


def test_image_to_series_length_is_two_or_more_or_none(pipe):
    image = np.random.default_rng(0).random((40, 40, 3))
    for length in (0, -1, 1, 2.5, True, "8"):
        with pytest.raises(ValueError, match=r"length must be an integer >= 2, or None for the tokenizer's 64 steps"):
            pipe.image_to_series(image, length=length)
    assert pipe.image_to_series(image, length=2).shape == (1, 2) and pipe.image_to_series(image, length=np.int64(5)).shape == (1, 5)
    assert pipe.image_to_series(image).shape == (1, 64)


def test_a_flat_colour_image_is_refused_like_a_constant_series(pipe):
    rng = np.random.default_rng(0)
    textured = rng.random((40, 40, 3))
    one_pixel = np.array([[[10, 20, 30]]], dtype=np.uint8)
    for flat in (one_pixel, np.full((30, 50, 3), 0.4), Image.new("RGB", (7, 3), (200, 0, 0))):
        with pytest.raises(DataError, match=r"images \[1\]: one flat colour \(e.g. a 1x1 image\); there is no shape to convert"):
            pipe.image_to_series([textured, flat])
    with pytest.raises(ValueError, match="constant; there is no shape"):  # as for a series
        pipe.series_to_image(np.full(50, 3.0))
    faint = np.full((32, 32), 100, dtype=np.uint8)
    faint[::2] = 102  # two 8-bit levels apart: a (faint) picture, converted
    assert np.isfinite(pipe.image_to_series(faint)).all()


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_contexts_of_three_values_or_fewer_are_forecast_naively_with_a_warning(pipe, method, caplog):
    sparse = np.full(100, np.nan)
    sparse[[3, 50, 90]] = (1.0, 4.0, 2.0)
    for context, last in (([1.0, 2.0, 3.0], 3.0), ([1.0, 2.0], 2.0), ([5.0, np.nan, 7.0], 7.0), (sparse, 2.0)):
        caplog.clear()
        forecast = pipe.forecast(np.array(context), 12, method=method)  # artist: longer than a 3-step context
        np.testing.assert_array_equal(forecast, np.full(12, last))
        assert "1 of 1 series with 3 or fewer observed values (rows [0]) are forecast as their last observed value (naive)" in caplog.text
        np.testing.assert_allclose(pipe.forecast(-7.0 * np.array(context) + 2.0, 12, method=method), -7.0 * forecast + 2.0)  # scale-free
    t = np.arange(200)
    long = np.sin(2 * np.pi * t / 24)
    batch = np.stack([long, np.r_[np.full(197, np.nan), 1.0, 2.0, 3.0]])
    mixed = pipe.forecast(batch, 12, method=method, period=24)
    np.testing.assert_allclose(mixed[0], pipe.forecast(long, 12, method=method, period=24), atol=1e-6)  # the long row is modelled as usual
    np.testing.assert_array_equal(mixed[1], np.full(12, 3.0))


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_extreme_magnitudes_are_forecast_or_a_clear_error(pipe, method, caplog):
    t = np.arange(300)
    x = np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 7)
    base = pipe.forecast(x, 24, method=method)
    for c in (1e300, 1e-200, 1e-300):  # sums of squares overflow or underflow at these scales
        np.testing.assert_allclose(pipe.forecast(c * x, 24, method=method), c * base, rtol=1e-9, atol=1e-9 * c, err_msg=f"c={c}")
    np.testing.assert_allclose(pipe.forecast(x + 1e10, 24, method=method) - 1e10, base, atol=1e-4)  # float64 keeps a spread of 1 at 1e10
    caplog.clear()
    flat = pipe.forecast(x + 1e13, 24, method=method)  # a spread of 1e-13 of the level: 2-3 digits left in float64
    assert "vary by less than 1e-12 of their level" in caplog.text and (flat == flat[0]).all()


@pytest.mark.parametrize("method", ["visionts", "artist"])
def test_constant_context_gives_a_constant_forecast(pipe, method):
    for level in (0.0, 1e-8, -5.0, 1e12):
        forecast = pipe.forecast(np.full((2, 100), level), 20, method=method)
        assert (forecast == forecast[:, :1]).all()  # constant, and the context's level
        np.testing.assert_allclose(forecast[:, 0], level, rtol=1e-12, atol=0)


def test_artist_names_its_longest_horizon(pipe):
    with pytest.raises(ValueError, match="longest supported horizon for this 100-step context is 100"):
        pipe.forecast(np.sin(np.arange(100.0)), 101, method="artist")


def test_forecast_bad_input(pipe):
    with pytest.raises(ValueError, match="horizon"):
        pipe.forecast(np.arange(50.0), 0)
    with pytest.raises(ValueError, match="unknown forecasting method"):
        pipe.forecast(np.arange(50.0), 3, method="magic")
    with pytest.raises(ValueError, match="observed"):
        pipe.forecast(np.full(50, np.nan), 3, period=4)


def test_forecast_df_continues_timestamps(pipe):
    ds = pd.date_range("2024-01-01", periods=48, freq="h")
    df = pd.concat([pd.DataFrame({"unique_id": k, "ds": ds, "y": np.sin(np.arange(48) / 4) + i}) for i, k in enumerate("ab")])
    out = pipe.forecast_df(df, horizon=6, period=12)
    assert list(out.columns) == ["unique_id", "ds", "forecast"] and len(out) == 12
    first = out[out.unique_id == "a"].ds
    assert first.iloc[0] == ds[-1] + pd.Timedelta(hours=1) and first.iloc[-1] == ds[-1] + pd.Timedelta(hours=6)
    with pytest.raises(ValueError, match="columns"):
        pipe.forecast_df(df.rename(columns={"y": "value"}), horizon=3)


def test_forecast_df_chooses_the_period_forecast_chooses(pipe):
    # the values decide (issue: the CLI took 168 from hourly stamps where pipe.forecast detected 24)
    x = np.sin(np.arange(400) * 2 * np.pi / 24) + 0.1 * np.random.default_rng(0).normal(size=400)
    hourly = pd.DataFrame({"unique_id": "h", "ds": pd.date_range("2024-01-01", periods=400, freq="h"), "y": x})
    np.testing.assert_allclose(pipe.forecast_df(hourly, horizon=5)["forecast"].to_numpy(), pipe.forecast(x, 5))
    np.testing.assert_allclose(pipe.forecast_df(hourly, horizon=5, period=12)["forecast"].to_numpy(), pipe.forecast(x, 5, period=12))


def test_classifier_prototypes_and_multimodal_hook(pipe):
    rng = np.random.default_rng(1)
    t = np.arange(60)
    X = np.stack([np.sin(t / (2 + c)) + 0.05 * rng.normal(size=60) for c in (0, 0, 0, 3, 3, 3)])[:, None]
    y = np.array(["slow", "slow", "slow", "fast", "fast", "fast"])
    pipe.fit_classifier(X, y)
    assert set(pipe.classify(X)) <= {"slow", "fast"}
    seen = {}

    def hook(queries, prototypes, labels):
        seen.update(q=queries.shape, p=prototypes.shape, labels=labels)
        return ["slow"] * len(queries)

    assert list(pipe.classify(X[:2], multimodal=hook)) == ["slow", "slow"]
    assert seen["p"][0] == 2 and seen["q"][0] == 2 and sorted(seen["labels"]) == ["fast", "slow"]


def test_save_load_round_trip_ties_quantizer(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / INDEX_NAME).read_text())
    assert set(index["components"]) == {"temporal", "visual", "align_t2v", "align_v2t", "outpainter", "generator"}
    loaded = TimeArtistPipeline.from_pretrained(tmp_path)
    assert loaded.visual.quantize is loaded.temporal.quantize
    series = np.random.randn(2, 64)
    np.testing.assert_array_equal(loaded.series_to_image(series), pipe.series_to_image(series))


def test_load_errors(pipe, tmp_path):
    with pytest.raises(FileNotFoundError, match=INDEX_NAME):
        TimeArtistPipeline.from_pretrained(tmp_path / "none")
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / INDEX_NAME).read_text())
    index["components"]["outpainter"] = "Mystery"
    (tmp_path / INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="unknown class"):
        TimeArtistPipeline.from_pretrained(tmp_path)


def test_constant_series_is_a_clear_error(pipe):
    with pytest.raises(ValueError, match="constant"):
        pipe.series_to_image(np.ones((1, 64)))


def test_pipeline_forecaster_matches_forecast(pipe):
    context = np.sin(np.arange(3 * 96) / 4.0).reshape(3, 96)
    forecaster = pipe.forecaster("visionts")
    assert forecaster.name == "visionts"
    np.testing.assert_allclose(forecaster(context, 8, 24), pipe.forecast(context, 8, period=24))
    with pytest.raises(ValueError, match="available"):
        pipe.forecaster("nope")


def test_benchmark_report_shows_the_context_the_forecast_defaults_allow(pipe):
    from timeartist.evaluation.ltsf import context_used

    forecaster = pipe.forecaster("visionts")
    saved = dict(pipe.forecast_defaults)
    try:
        pipe.forecast_defaults.clear()
        assert context_used(forecaster, lookback=720, period=24) == 720
        pipe.forecast_defaults.update(context_periods=10)
        assert context_used(forecaster, lookback=720, period=24) == 240
        pipe.forecast_defaults.update(max_context=100)
        assert context_used(forecaster, lookback=720, period=24) == 100
    finally:
        pipe.forecast_defaults.clear()
        pipe.forecast_defaults.update(saved)


def test_generate_images_and_sampled_conversion(pipe):
    images = pipe.generate_images([1, 2, 3], steps=4, seed=0)
    assert images.shape == (3, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(images, pipe.generate_images([1, 2, 3], steps=4, seed=0))  # seeded
    assert pipe.generate_images(None, n=2, guidance=0.0, seed=1).shape == (2, 3, 32, 32)
    series = np.sin(np.arange(64) / 3.0)
    a, b = pipe.series_to_image(series, sample=True, seed=0), pipe.series_to_image(series, sample=True, seed=1)
    assert a.shape == (1, 3, 32, 32) and not np.array_equal(a, b)  # several images for one series


def test_forecast_defaults_are_saved_and_used(pipe, tmp_path):
    import copy

    context = np.sin(np.arange(240) * 2 * np.pi / 12) + np.linspace(0, 3, 240)
    other = copy.copy(pipe)
    other.forecast_defaults = {"context_periods": 3}
    expected = pipe.forecast(context[-36:], 6, period=12)  # 3 periods of context
    np.testing.assert_allclose(other.forecast(context, 6, period=12), expected)
    other.save_pretrained(tmp_path)
    assert TimeArtistPipeline.from_pretrained(tmp_path).forecast_defaults == {"context_periods": 3}


def test_saved_files_are_world_readable(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    assert (tmp_path / "temporal" / "model.safetensors").stat().st_mode & 0o444 == 0o444


def test_leave_one_out_accuracy_by_hand():
    from timeartist.pipelines.pipeline import _leave_one_out_accuracy

    feats = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.5, 0.5]])
    labels = np.array(["a", "a", "b", "b", "c"])  # "c" is alone: skipped
    assert _leave_one_out_accuracy(feats, labels) == 1.0
    assert _leave_one_out_accuracy(feats[:4], np.array(["a", "b", "a", "b"])) == 0.0


def test_classifier_route_is_chosen_on_train_and_saved(pipe, tmp_path):
    import copy

    from timeartist.pipelines.pipeline import _leave_one_out_accuracy

    t = np.arange(60)
    X = np.stack([np.sin(t / (2 + c)) + 0.01 * k for c in (0, 4) for k in range(3)])[:, None]
    y = np.array(["a"] * 3 + ["b"] * 3)
    other = copy.copy(pipe)
    other.fit_classifier(X, y, route="codes", aligned=False)
    assert other.classifier_route == "codes (shared codebook)"
    assert other.classifier_loo_accuracy == _leave_one_out_accuracy(other._class_features(X, False)[0], y)
    other.save_pretrained(tmp_path)
    loaded = TimeArtistPipeline.from_pretrained(tmp_path)
    assert loaded.classifier_route == "codes (shared codebook)"
    assert loaded.classifier_loo_accuracy == other.classifier_loo_accuracy
    np.testing.assert_array_equal(loaded.classify(X), other.classify(X))


def test_detected_period_forecaster_ignores_the_protocol_period(pipe, monkeypatch):
    seen = []
    monkeypatch.setattr(pipe, "forecast", lambda context, horizon, **k: seen.append(k["period"]) or np.zeros((len(context), horizon)))
    given, detected = pipe.forecaster("visionts"), pipe.forecaster("visionts", detect_period=True)
    per_channel = pipe.forecaster("visionts", detect_period="per_channel")
    assert (given.name, detected.name, per_channel.name) == ("visionts", "visionts_detected", "visionts_detected_per_channel")
    assert (given.multivariate, detected.multivariate, per_channel.multivariate) == (False, True, False)
    given(np.zeros((2, 48)), 4, 12)
    detected(np.zeros((2, 48)), 4, 12)
    per_channel(np.zeros((2, 48)), 4, 12)
    assert seen == [12, None, None]
    with pytest.raises(ValueError, match="detect_period must be"):
        pipe.forecaster("visionts", detect_period="sometimes")


def test_vision_route_is_the_default_and_saved(pipe, tmp_path):
    import copy

    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 40)
    X = np.stack([t + 0.05 * rng.normal(size=40) for _ in range(4)] + [np.sin(8 * t) + 0.05 * rng.normal(size=40) for _ in range(4)])
    y = np.array(["ramp"] * 4 + ["wave"] * 4)
    other = copy.copy(pipe)
    other.fit_classifier(X, y, progress=False)
    assert other.classifier_route.startswith("vision")
    assert "codes" in " ".join(other._vision.candidates_)  # the generated images were a candidate view
    assert other.classifier_loo_accuracy == max(other._vision.candidates_.values())  # the chosen route's score
    assert np.mean(other.classify(X) == y) == 1.0
    other.save_pretrained(tmp_path)
    loaded = TimeArtistPipeline.from_pretrained(tmp_path)
    assert loaded.classifier_route == other.classifier_route
    np.testing.assert_array_equal(loaded.classify(X), other.classify(X))
    with pytest.raises(ValueError, match="unknown classifier route 'pixels'"):
        other.fit_classifier(X, y, route="pixels")
    with pytest.raises(ValueError, match="fitted on 1-channel cases, got 2"):
        other.fit_classifier(X, y, route="codes").classify(np.stack([X, X], 1))


def test_reconstruct_images_is_the_token_round_trip(pipe, tiny_pipeline_dir):
    photo = np.random.default_rng(0).random((40, 50, 3))
    size = pipe.visual.image_size
    x = to_image_batch(photo, size)
    expected = pipe.visual.decode_tokens(pipe.visual.encode(x)[1]).clamp(0, 1).detach().numpy()
    default = pipe.bf16_decode
    try:
        pipe.bf16_decode = False
        out = pipe.reconstruct_images(photo)
        assert isinstance(out, np.ndarray) and out.shape == (1, 3, size, size) and 0 <= out.min() and out.max() <= 1
        np.testing.assert_allclose(out, expected, atol=1e-6)
        # bfloat16 decoding moves pixels only slightly: the tokens are chosen before it
        pipe.bf16_decode = True
        assert out.dtype == pipe.reconstruct_images(photo).dtype and np.abs(pipe.reconstruct_images(photo) - expected).max() < 0.05
    finally:
        pipe.bf16_decode = default
    assert TimeArtistPipeline.from_pretrained(tiny_pipeline_dir).bf16_decode == bf16_native(torch.device("cpu"))
    assert isinstance(pipe.reconstruct_images(torch.from_numpy(photo).permute(2, 0, 1).float()), torch.Tensor)