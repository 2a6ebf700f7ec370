"""PSNR / SSIM against scikit-image, Frechet distance math, and FED on EfficientNet-Lite0 features."""

import numpy as np
import pytest
import torch
from scipy import linalg
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from timeartist.evaluation.image_metrics import (
    FED_LABEL,
    GaussianStats,
    InceptionFeatures,
    frechet_distance,
    frechet_efficientnet_distance,
    inception_fid,
    psnr,
    ssim,
)
from timeartist.models.efficientnet import EfficientNetLite, EfficientNetLiteConfig


def _pair(channels=3, size=24, data_range=1.0):
    rng = np.random.default_rng(0)
    target = rng.random((2, channels, size, size)) * data_range
    pred = np.clip(target + rng.normal(0, 0.1 * data_range, target.shape), 0, data_range)
    return pred, target


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_psnr_matches_skimage(data_range):
    pred, target = _pair(data_range=data_range)
    ours = psnr(torch.from_numpy(pred), torch.from_numpy(target), data_range=data_range)
    expected = [peak_signal_noise_ratio(t, p, data_range=data_range) for p, t in zip(pred, target)]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10)
    assert psnr(target, target).isinf().all()


@pytest.mark.parametrize("channels,size,data_range", [(3, 24, 1.0), (1, 17, 1.0), (3, 20, 255.0)])
def test_ssim_matches_skimage(channels, size, data_range):
    pred, target = _pair(channels, size, data_range)
    ours = ssim(pred, target, data_range=data_range)
    expected = [
        structural_similarity(t, p, data_range=data_range, channel_axis=0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for p, t in zip(pred, target)
    ]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-7)
    np.testing.assert_allclose(ssim(target, target).numpy(), 1.0)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    a, b = rng.random(4) + 0.1, rng.random(4) + 0.1
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-10)


def test_frechet_distance_matches_sqrtm_formula_on_full_covariances():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov1, cov2 = x @ x.T + 0.1 * np.eye(6), y @ y.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2) - 2 * np.trace(linalg.sqrtm(cov1 @ cov2).real)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(reference, rel=1e-8)


def test_gaussian_stats_accumulate_over_batches():
    feats = np.random.default_rng(3).normal(size=(50, 5))
    stats = GaussianStats()
    for chunk in np.array_split(feats, 4):
        stats.update(torch.from_numpy(chunk))
    np.testing.assert_allclose(stats.mean, feats.mean(axis=0))
    np.testing.assert_allclose(stats.cov, np.cov(feats, rowvar=False))
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        stats.update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        GaussianStats().cov


def test_fed_is_zero_for_identical_sets_and_grows_with_difference():
    # A tiny random EfficientNet keeps this fast; the pretrained Lite0 path is covered in test_efficientnet.py.
    config = EfficientNetLiteConfig(stages=((3, 1, 1, 8, 1), (3, 2, 6, 16, 1)), stem_channels=8, head_channels=24, image_size=32)
    model = EfficientNetLite(config).eval()
    images = torch.rand(6, 3, 32, 32)
    assert "not Inception FID" in FED_LABEL
    same = frechet_efficientnet_distance(images, list(images.split(4)), model=model, batch_size=4)
    darker = frechet_efficientnet_distance(images, images * 0.3, model=model)
    assert darker > 0 and abs(same) < 1e-6 * darker  # identical sets differ by float64 round-off only


class _FakeInception(torch.nn.Module):
    """Stands in for the TorchScript FID Inception: same call signature, tiny random projection."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3 * 4 * 4, 8)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert torch.equal(x, x.round()) and float(x.max()) <= 255.0  # uint8 levels
        return self.proj(torch.nn.functional.adaptive_avg_pool2d(x / 255, 4).flatten(1))


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_inception_fid_runs_a_user_supplied_torchscript_file(tmp_path):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(_FakeInception()), str(path))
    images = torch.rand(5, 3, 40, 40)
    assert inception_fid(images, images, path, batch_size=2) == pytest.approx(0, abs=1e-8)
    assert inception_fid(images, images.flip(-1) * 0.5, path) > 0
    assert InceptionFeatures(path)(images).shape == (5, 8)


def test_inception_fid_errors_name_the_expected_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        inception_fid(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), tmp_path / "missing.pt")
    state_dict = tmp_path / "pt_inception.pth"
    torch.save({"w": torch.zeros(2)}, state_dict)
    with pytest.raises(ValueError, match="not a TorchScript module"):
        InceptionFeatures(state_dict)
