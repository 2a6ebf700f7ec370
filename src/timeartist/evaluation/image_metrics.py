"""Image reconstruction metrics: PSNR, SSIM, and a Frechet distance on EfficientNet-Lite0 features.

``frechet_efficientnet_distance`` is "FED (EfficientNet-Lite0 features), not Inception FID": the same
Frechet formula as FID, on the 1280-d pooled features of the bundled EfficientNet-Lite0. Its values are
comparable only with other FED values, never with published FID numbers. Real Inception FID is opt-in:
``inception_fid`` takes the path of a TorchScript FID Inception-v3 file the user supplies, since no
installed package ships those weights.

Images are (B, C, H, W) float tensors (or arrays) with values in [0, data_range].
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from timeartist.models.efficientnet import EfficientNetLite, load_efficientnet_lite0

logger = logging.getLogger(__name__)

FED_LABEL = "FED (EfficientNet-Lite0 features), not Inception FID"


def _as_image_pair(pred, target) -> tuple[Tensor, Tensor]:
    pred, target = torch.as_tensor(pred), torch.as_tensor(target)
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two image batches of the same shape (B, C, H, W), got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred.double(), target.double()


def psnr(pred, target, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB per image: (B, C, H, W) x2 -> (B,). Identical images give +inf."""
    pred, target = _as_image_pair(pred, target)
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)


def _gaussian_window(sigma: float, truncate: float = 3.5) -> Tensor:
    """1-D Gaussian taps, radius int(truncate * sigma + 0.5) as in scipy.ndimage (11 taps for sigma 1.5)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(pred, target, data_range: float = 1.0, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Structural similarity per image (Wang et al. 2004): (B, C, H, W) x2 -> (B,), mean over channels.

    Local statistics use a Gaussian window (sigma 1.5, 11 taps) and population variances, over "valid"
    positions only; this equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range)`` per channel.
    """
    pred, target = _as_image_pair(pred, target)
    w = _gaussian_window(sigma)
    if min(pred.shape[-2:]) < w.numel():
        raise ValueError(f"SSIM needs images at least {w.numel()}x{w.numel()} pixels, got {tuple(pred.shape[-2:])}")
    channels = pred.shape[1]
    kernel = (w[:, None] * w[None, :]).expand(channels, 1, -1, -1)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(x, kernel, groups=channels)

    mu_x, mu_y = blur(pred), blur(target)
    var_x = blur(pred * pred) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(pred * target) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(dim=1)


class GaussianStats:
    """Running mean and covariance of feature vectors, accumulated in float64 over batches of (N, D)."""

    def __init__(self):
        self.n = 0
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, features) -> None:
        f = np.asarray(torch.as_tensor(features).detach().cpu(), dtype=np.float64)
        if f.ndim != 2 or (self._sum is not None and f.shape[1] != self._sum.shape[0]):
            expected = "(N, D)" if self._sum is None else f"(N, {self._sum.shape[0]})"
            raise ValueError(f"expected features of shape {expected}, got {f.shape}")
        if self._sum is None:
            self._sum, self._outer = np.zeros(f.shape[1]), np.zeros((f.shape[1], f.shape[1]))
        self.n += f.shape[0]
        self._sum += f.sum(axis=0)
        self._outer += f.T @ f

    @property
    def mean(self) -> np.ndarray:
        """(D,)"""
        self._require(1)
        return self._sum / self.n

    @property
    def cov(self) -> np.ndarray:
        """(D, D) sample covariance (divides by N - 1, as numpy.cov and the FID reference code)."""
        self._require(2)
        mean = self.mean
        return (self._outer - self.n * np.outer(mean, mean)) / (self.n - 1)

    def _require(self, n: int) -> None:
        if self.n < n:
            raise ValueError(f"need at least {n} feature vectors for these statistics, got {self.n}")


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Frechet distance between Gaussians N(mu1, cov1) and N(mu2, cov2):
    |mu1 - mu2|^2 + tr(cov1) + tr(cov2) - 2 tr((cov1 cov2)^(1/2)).

    The trace term is computed as the sum of square roots of the eigenvalues of the symmetric PSD matrix
    cov1^(1/2) cov2 cov1^(1/2), which is stable for singular covariances (fewer samples than dimensions).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"expected means (D,) and covariances (D, D) of one D, got {mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    eigval, eigvec = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (eigvec * np.sqrt(np.clip(eigval, 0, None))) @ eigvec.T
    middle = root1 @ cov2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt)


def _batches(images: Tensor | np.ndarray | Iterable[Tensor], batch_size: int) -> Iterable[Tensor]:
    if isinstance(images, (Tensor, np.ndarray)):
        images = torch.as_tensor(images)
        return (images[i : i + batch_size] for i in range(0, len(images), batch_size))
    return images


@torch.no_grad()
def feature_stats(
    images: Tensor | np.ndarray | Iterable[Tensor], extract: Callable[[Tensor], Tensor], batch_size: int = 32, desc: str = "features"
) -> GaussianStats:
    """Gaussian fit of ``extract(batch) -> (b, D)`` over images (N, 3, H, W) in [0, 1], given as one tensor
    (split into ``batch_size`` chunks) or as an iterable of batches."""
    stats = GaussianStats()
    for batch in tqdm(_batches(images, batch_size), desc=desc, disable=not sys.stderr.isatty(), leave=False):
        stats.update(extract(torch.as_tensor(batch, dtype=torch.float32)))
    return stats


def efficientnet_feature_stats(
    images: Tensor | np.ndarray | Iterable[Tensor], model: EfficientNetLite | None = None, batch_size: int = 32
) -> GaussianStats:
    """Mean/covariance of EfficientNet-Lite0 pooled features (1280-d) over images (N, 3, H, W) in [0, 1]."""
    model = load_efficientnet_lite0() if model is None else model
    return feature_stats(images, model.features, batch_size, desc="FED features")


@torch.no_grad()
def efficientnet_features(
    images: Tensor | np.ndarray | Iterable[Tensor], model: EfficientNetLite | None = None, batch_size: int = 32
) -> Tensor:
    """Pooled EfficientNet-Lite0 features (N, 1280) on the CPU of images (N, 3, H, W) in [0, 1] (one tensor or an
    iterable of batches), computed on the model's device."""
    model = load_efficientnet_lite0() if model is None else model
    device = next(model.parameters()).device
    batches = tqdm(_batches(images, batch_size), desc="EfficientNet-Lite0 features", disable=not sys.stderr.isatty(), leave=False)
    return torch.cat([model.features(torch.as_tensor(b, dtype=torch.float32).to(device)).cpu() for b in batches])


def fed_of_features(features_a, features_b) -> float:
    """Frechet distance between the Gaussian fits of two feature sets (N, D) and (M, D), N, M >= 2: the FED of the
    images they came from when they are ``efficientnet_features``.

    With fewer vectors than dimensions (max(N, M) < D) the covariances have rank < N and the trace term is computed
    exactly from the centred sets X (N, D), Y (M, D) instead: the eigenvalues of cov_x cov_y that are not 0 are those
    of the N x N matrix X Y^T Y X^T / ((N - 1)(M - 1)); this takes milliseconds where D x D matrices take seconds.
    """
    a, b = (np.asarray(torch.as_tensor(f).detach().cpu(), dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"expected two feature sets (N, D) and (M, D) of at least 2 vectors each, got {a.shape} and {b.shape}")
    if max(len(a), len(b)) >= a.shape[1]:
        stats = []
        for features in (a, b):
            stats.append(GaussianStats())
            stats[-1].update(features)
        return frechet_distance(stats[0].mean, stats[0].cov, stats[1].mean, stats[1].cov)
    x, y = a - a.mean(axis=0), b - b.mean(axis=0)
    scale_x, scale_y = len(a) - 1, len(b) - 1
    cross = x @ y.T  # (N, M)
    product = cross @ cross.T / (scale_x * scale_y)  # (N, N), symmetric PSD
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0, None)).sum()
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(diff @ diff + (x * x).sum() / scale_x + (y * y).sum() / scale_y - 2 * trace_sqrt)


def mean_pairwise_distance(features) -> float:
    """Mean Euclidean distance over all pairs i < j of features (N, D), N >= 2: how spread out a set is."""
    features = torch.as_tensor(features).double()
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected at least 2 feature vectors (N, D), got shape {tuple(features.shape)}")
    return float(torch.pdist(features).mean())


def frechet_efficientnet_distance(
    images_a: Tensor | np.ndarray | Iterable[Tensor],
    images_b: Tensor | np.ndarray | Iterable[Tensor],
    model: EfficientNetLite | None = None,
    batch_size: int = 32,
) -> float:
    """FED (EfficientNet-Lite0 features), not Inception FID: Frechet distance between the Gaussian fits of
    the pooled EfficientNet-Lite0 features of two image sets (each (N, 3, H, W) in [0, 1] or an iterable of
    such batches). Needs at least 2 images per set; like FID it is biased upward for small sets, so
    compare values only at equal set sizes.
    """
    model = load_efficientnet_lite0() if model is None else model
    a = efficientnet_feature_stats(images_a, model, batch_size)
    b = efficientnet_feature_stats(images_b, model, batch_size)
    logger.info("%s over %d and %d images", FED_LABEL, a.n, b.n)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


class InceptionFeatures:
    """Pool3 features (B, 2048) of the TorchScript FID Inception-v3 ``inception-2015-12-05.pt`` (the file
    clean-fid and the StyleGAN2-ADA / StyleGAN3 metrics use), loaded from a path the user supplies.

    Images (B, 3, H, W) in [0, 1] are quantised to uint8 levels like saved images and passed as 0..255
    floats at their own size: the network resizes to 299 x 299 (TF-style bilinear) and normalises internally,
    as in the StyleGAN metrics and clean-fid's "legacy_tensorflow" mode.
    """

    def __init__(self, weights_path: str | Path, device: torch.device | str = "cpu"):
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"Inception FID weights not found: expected the TorchScript file inception-2015-12-05.pt at {path}")
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format this file ships in
                warnings.simplefilter("ignore", DeprecationWarning)
                self.network = torch.jit.load(str(path), map_location=device).eval()
        except RuntimeError as err:
            raise ValueError(
                f"{path} is not a TorchScript module: Inception FID expects the TorchScript inception-2015-12-05.pt "
                "(clean-fid / StyleGAN metrics), not a state dict"
            ) from err
        self.device = torch.device(device)

    @torch.no_grad()
    def __call__(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 2048)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images of shape (B, 3, H, W) in [0, 1], got shape {tuple(images.shape)}")
        x = (images.to(self.device, torch.float32).clamp(0, 1) * 255).round()
        return self.network(x, return_features=True).reshape(len(x), -1)


def inception_fid(
    images_a: Tensor | np.ndarray | Iterable[Tensor],
    images_b: Tensor | np.ndarray | Iterable[Tensor],
    weights_path: str | Path,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> float:
    """Opt-in Frechet Inception Distance with user-supplied weights (no library bundles them and nothing is
    downloaded). Image sets as in ``frechet_efficientnet_distance``. Published rFID / gFID use 50k images;
    small sets give larger values."""
    extract = InceptionFeatures(weights_path, device)
    a = feature_stats(images_a, extract, batch_size, desc="FID features")
    b = feature_stats(images_b, extract, batch_size, desc="FID features")
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)
