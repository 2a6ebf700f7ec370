"""Series classification with a frozen pretrained vision network: draw, read features, fit a ridge head on TRAIN.

    clf = VisionClassifier().fit(X_train, y_train)   # views and ridge strength chosen by leave-one-out on TRAIN
    labels = clf.predict(X_test)
    clf.route, clf.loo_accuracy                      # what was chosen, and its leave-one-out accuracy on TRAIN

1. Cases ``(n, T)``, ``(n, C, T)`` or a list of ``(C, T_i)`` arrays (unequal lengths; NaNs filled by linear
   interpolation along time) are resampled to ``S`` steps, ``S`` the image side: 64 px when every TRAIN case has
   at most ``SHORT_SERIES`` steps, else 128 px. Each channel is z-scored on its own.
2. Every channel is drawn as one image per view (``series_images``: ``line`` plot, Gramian angular field ``gaf``),
   and a multivariate case also as one ``heatmap`` of all its channels (which keeps their relative levels); extra
   per-channel views such as the code-space images of a ``TimeArtistPipeline`` can be plugged in as ``extra_views``.
3. The frozen EfficientNet-Lite0 reads each image at its own size; the feature maps after each of ``STAGES``
   (stages 3-7 of 7: 40, 80, 112, 192 and 320 channels) are averaged over a ``GRID`` x ``GRID`` grid, so coarse
   position survives (time runs left to right in a line plot): 2,976 numbers per image.
4. The features of all channels and views of a case are concatenated; every feature is standardised on TRAIN and
   every (channel, view, stage) block is scaled by 1 / sqrt(its width), so each block weighs the same.
5. ``fit_ridge``: one-vs-rest ridge regression on +-1 targets with an unpenalised intercept. Its strength is
   chosen on a log grid by exact leave-one-out predictions (one eigendecomposition of the n x n Gram matrix serves
   every strength): best leave-one-out accuracy first, lower leave-one-out squared error on ties.
6. Which views to use is chosen the same way: every candidate view set (every non-empty subset of ``line``,
   ``gaf`` and, for multivariate cases, ``heatmap``; each extra view added to the best of them) is scored by the leave-one-out accuracy (then squared error) of its best
   ridge strength on TRAIN, and the best one is kept (exact ties: the fewer views). TEST cases are only ever drawn
   and predicted.

Cost: each image costs one Lite0 pass (about 40 images/s at 128 px and 300 images/s at 64 px on one CPU thread),
so fitting draws every TRAIN channel once per candidate view and predicting draws every TEST channel once per
chosen view.

Bad input: no cases, labels of another count, a single class, labels that mix numbers and strings, cases whose
channel counts differ (or differ from the fitted ones), a channel with no observed value and a case of one step
are ``ValueError`` naming the problem. A class with a single TRAIN case is allowed (its leave-one-out prediction
simply counts as a miss). A constant channel is drawn as a flat line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Number

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from timeartist.data.archives import fill_missing, resample_to_length
from timeartist.models.efficientnet import EfficientNetLite, load_efficientnet_lite0
from timeartist.pipelines.series_images import CASE_RENDERERS, render_views

logger = logging.getLogger(__name__)

VIEWS = ("line", "gaf", "heatmap")
STAGES = (3, 4, 5, 6, 7)
GRID = 2
SHORT_SERIES = 32  # cases with at most this many steps are drawn at SMALL_SIZE px
SMALL_SIZE, LARGE_SIZE = 64, 128
ALPHA_RATIOS = np.logspace(-6, 2, 17)  # ridge strengths, relative to the mean eigenvalue of the Gram matrix
BATCH_SIZE = 64

ViewRenderer = Callable[[np.ndarray, int], np.ndarray]  # (rows (B, L), size) -> images (B, 3, size', size') in [0, 1]



# ---------------------------------------------------------------------------------------------- input checks
def as_cases(X, what: str = "X") -> list[np.ndarray]:
    """``(n, T)``, ``(n, C, T)`` or a list of ``(T_i,)`` / ``(C, T_i)`` arrays -> list of ``(C, T_i)`` float64 with
    NaNs filled by linear interpolation. Raises ValueError on no cases, differing channel counts, a channel with
    no observed value, a case of fewer than 2 steps, or infinite values."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim not in (2, 3):
            raise ValueError(f"{what}: expected cases of shape (n, T) or (n, C, T), got an array of shape {X.shape}")
        cases = list(X.astype(np.float64)[:, None] if X.ndim == 2 else X.astype(np.float64))
    else:
        cases = [np.atleast_2d(np.asarray(c, dtype=np.float64)) for c in X]
    if not cases:
        raise ValueError(f"{what}: expected at least one case")
    channels = sorted({c.shape[0] for c in cases})
    if len(channels) > 1 or any(c.ndim != 2 for c in cases):
        raise ValueError(f"{what}: every case needs the same number of channels, got {channels}")
    short = next((i for i, c in enumerate(cases) if c.shape[1] < 2), None)
    if short is not None:
        raise ValueError(f"{what}: case {short} has {cases[short].shape[1]} step(s); a series needs at least 2 steps to be drawn")
    if any(np.isinf(c).any() for c in cases):
        raise ValueError(f"{what}: cases contain infinite values")
    try:
        return fill_missing(cases)
    except ValueError as err:  # "case i, dimension c has no values at all"
        raise ValueError(f"{what}: {err}") from None


def _label_kind(value) -> str:
    if isinstance(value, (Number, np.number)) and not isinstance(value, (bool, np.bool_)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def as_labels(y, count: int) -> np.ndarray:
    """Labels -> ``(count,)`` array of one kind (all numbers or all strings); at least two classes."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(f"got {count} cases but labels of shape {labels.shape}")
    if not isinstance(y, np.ndarray) or labels.dtype == object:  # a list [1, "a"] would silently become strings
        values = list(y)
        kinds = {_label_kind(v) for v in values}
        if len(kinds) > 1:
            raise ValueError(f"labels mix types ({', '.join(sorted(kinds))}); pass labels of one type, e.g. all strings")
        labels = np.array(values)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got only {np.unique(labels).tolist()}")
    return labels


def image_size_for(cases: Sequence[np.ndarray]) -> int:
    """Image side for these cases: SMALL_SIZE when none is longer than SHORT_SERIES steps, else LARGE_SIZE."""
    return SMALL_SIZE if max(c.shape[1] for c in cases) <= SHORT_SERIES else LARGE_SIZE


# ---------------------------------------------------------------------------------------------- features
@torch.no_grad()
def pooled_stage_features(net: EfficientNetLite, images: torch.Tensor, stages: Sequence[int] = STAGES, grid: int = GRID) -> torch.Tensor:
    """Images (B, 3, H, W) in [0, 1] -> (B, sum(channels of stages) * grid**2): each stage's feature map
    averaged over a grid x grid layout of cells (adaptive average pooling), flattened."""
    maps = net.stage_features(images, max(stages))
    return torch.cat([F.adaptive_avg_pool2d(maps[s], grid).flatten(1) for s in stages], dim=1)


def stage_widths(net: EfficientNetLite, stages: Sequence[int] = STAGES, grid: int = GRID) -> list[int]:
    """Widths of the blocks of ``pooled_stage_features``, in order."""
    return [net.config.stages[s - 1][3] * grid * grid for s in stages]


class FeatureReader:
    """Draws cases as images and reads pooled Lite0 features: ``read(cases, views) -> {view: (n, C or 1, D)}``."""

    def __init__(self, net: EfficientNetLite, size: int, extra_views: Mapping[str, ViewRenderer] | None = None, progress: bool | None = None):
        self.net, self.size, self.progress = net, size, progress
        self.extra_views = dict(extra_views or {})

    def render(self, cases: np.ndarray, views: Sequence[str]) -> dict[str, np.ndarray]:
        """Cases (B, C, size) -> {view: (B * C, 3, s, s) per-channel images, or (B, 3, s, s) for a whole-case view}."""
        drawn = render_views(cases, [v for v in views if v not in self.extra_views], self.size)
        rows = cases.reshape(-1, cases.shape[-1])
        drawn.update({v: self.extra_views[v](rows, self.size) for v in views if v in self.extra_views})
        return drawn

    def read(self, cases: list[np.ndarray], views: Sequence[str]) -> dict[str, np.ndarray]:
        """Cases (list of (C, T_i), NaN-free) -> {view: features (n, C, D) float32; (n, 1, D) for whole-case views}."""
        n, channels = len(cases), cases[0].shape[0]
        resampled = resample_to_length(cases, self.size)  # (n, C, size)
        chunks: dict[str, list[np.ndarray]] = {v: [] for v in views}
        step = max(1, BATCH_SIZE // channels)
        bar = tqdm(range(0, n, step), desc=f"drawing + features ({'+'.join(views)})", disable=None if self.progress is None else not self.progress)
        for start in bar:
            for view, images in self.render(resampled[start : start + step], views).items():
                chunks[view].append(pooled_stage_features(self.net, torch.as_tensor(images)).cpu().numpy())
        return {v: np.concatenate(c).reshape(n, 1 if v in CASE_RENDERERS else channels, -1) for v, c in chunks.items()}


# ---------------------------------------------------------------------------------------------- ridge head
@dataclass
class RidgeFit:
    """A ridge head fitted on standardised features: ``scores = ((x - mean) / scale) @ coef + intercept``."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,): feature std divided by the block weight
    coef: np.ndarray  # (D, K)
    intercept: np.ndarray  # (K,)
    alpha: float
    loo_accuracy: float
    loo_error: float

    @property
    def key(self) -> tuple[float, float]:
        """Model-selection key: leave-one-out accuracy, then lower leave-one-out squared error."""
        return self.loo_accuracy, -self.loo_error

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Features (n, D) -> class scores (n, K)."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept


def block_scale(train: np.ndarray, widths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale (std * sqrt(block width), constant features scale 1) of TRAIN features (n, D)."""
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    return mean, std * np.sqrt(np.repeat(np.asarray(widths, dtype=np.float64), widths))


def fit_ridge(features: np.ndarray, widths: Sequence[int], targets: np.ndarray, alpha_ratios: Sequence[float] = ALPHA_RATIOS) -> RidgeFit:
    """Ridge on TRAIN features (n, D) in blocks of ``widths`` and class ids ``targets`` (n,) in 0..K-1.

    Targets are +-1 per class. Each strength alpha = ratio * trace(G) / n (G the centred Gram matrix) is scored by
    exact leave-one-out predictions y_i - r_i / (1 - h_ii) (the standardisation is computed once, on all cases);
    the best accuracy wins, then the lower squared error."""
    features = np.asarray(features, dtype=np.float64)
    n, classes = len(features), int(targets.max()) + 1
    mean, scale = block_scale(features, widths)
    A = (features - mean) / scale
    Y = -np.ones((n, classes))
    Y[np.arange(n), targets] = 1
    y_mean = Y.mean(0)
    eigval, U = np.linalg.eigh(A @ A.T)  # A is centred: the intercept is the mean target
    eigval = np.clip(eigval, 0, None)
    UtY = U.T @ (Y - y_mean)
    best = None
    for ratio in alpha_ratios:
        alpha = float(ratio * max(eigval.sum() / n, 1e-12))
        shrink = eigval / (eigval + alpha)
        hat = (U**2) @ shrink + 1 / n
        fitted = U @ (shrink[:, None] * UtY) + y_mean
        loo = Y - (Y - fitted) / np.maximum(1 - hat, 1e-9)[:, None]
        key = (float(np.mean(loo.argmax(1) == targets)), -float(np.mean((loo - Y) ** 2)))
        if best is None or key > best[0]:
            best = (key, alpha)
    (accuracy, neg_error), alpha = best
    coef = A.T @ (U @ (UtY / (eigval + alpha)[:, None]))
    return RidgeFit(mean, scale, coef, y_mean, alpha, accuracy, -neg_error)


# ---------------------------------------------------------------------------------------------- classifier
class VisionClassifier:
    """Frozen EfficientNet-Lite0 features of series drawn as images, with a ridge head chosen on TRAIN.

    Args:
        views: candidate built-in views (``series_images.RENDERERS``); every non-empty subset of them is a
            candidate (the default, ``line`` and ``gaf``: three candidates).
        extra_views: name -> renderer ``(rows (B, L), size) -> images (B, 3, s, s)`` of further candidate views
            (e.g. the code-space images of a ``TimeArtistPipeline``); each is tried added to the best built-in set.
        image_size: image side in pixels (None: 64 for series of at most 32 steps, else 128).
        net: the feature network (None: the bundled EfficientNet-Lite0, loaded on first use).
        progress: progress bars (None: on a terminal only).

    After ``fit``: ``route`` (e.g. ``"vision (line+gaf)"``), ``views_`` (chosen views), ``loo_accuracy`` (of the
    chosen head on TRAIN), ``candidates_`` ({views: leave-one-out accuracy}), ``classes_``.
    """

    def __init__(
        self,
        views: Sequence[str] = VIEWS,
        extra_views: Mapping[str, ViewRenderer] | None = None,
        image_size: int | None = None,
        net: EfficientNetLite | None = None,
        progress: bool | None = None,
    ):
        if not views:
            raise ValueError("VisionClassifier needs at least one view")
        self.views, self.extra_views, self.image_size, self.progress = tuple(views), dict(extra_views or {}), image_size, progress
        self._net = net
        self.head: RidgeFit | None = None

    @property
    def net(self) -> EfficientNetLite:
        if self._net is None:
            self._net = load_efficientnet_lite0()
        return self._net

    def _reader(self) -> FeatureReader:
        return FeatureReader(self.net, self.size_, self.extra_views, self.progress)

    def _stack(self, features: Mapping[str, np.ndarray], views: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """{view: (n, C_v, D)} -> (n, sum_v C_v * D) and the block widths."""
        widths = stage_widths(self.net) * sum(features[v].shape[1] for v in views)
        return np.concatenate([features[v].reshape(len(features[v]), -1) for v in views], axis=1), widths

    def fit(self, X, y) -> "VisionClassifier":
        """Fit on TRAIN cases X and labels y (see the module docstring); returns self."""
        cases = as_cases(X, "training cases")
        labels = as_labels(y, len(cases))
        self.classes_, targets = np.unique(labels, return_inverse=True)
        self.channels_ = cases[0].shape[0]
        self.size_ = self.image_size or image_size_for(cases)
        # A whole-case view of a single channel adds nothing to the per-channel drawings.
        views = [v for v in self.views if self.channels_ > 1 or v not in CASE_RENDERERS] or list(self.views)
        features = self._reader().read(cases, [*views, *self.extra_views])
        builtin = [tuple(v for k, v in enumerate(views) if mask >> k & 1) for mask in range(1, 2 ** len(views))]
        fits = {views: fit_ridge(*self._stack(features, views), targets) for views in sorted(builtin, key=len)}
        best = max(fits, key=lambda v: fits[v].key)  # exact ties keep the first: the fewest views
        for extra in self.extra_views:
            with_extra = (*best, extra)
            fits[with_extra] = fit_ridge(*self._stack(features, with_extra), targets)
            if fits[with_extra].key > fits[best].key:
                best = with_extra
        self.views_, self.head = best, fits[best]
        self.candidates_ = {"+".join(v): f.loo_accuracy for v, f in fits.items()}
        train_scores = self.head.decision_function(self._stack(features, best)[0])
        # The most typical TRAIN case of each class (highest score for its own class), e.g. for a multimodal hook.
        self.prototype_index_ = np.array([np.flatnonzero(targets == k)[np.argmax(train_scores[targets == k, k])] for k in range(len(self.classes_))])
        self.prototype_images_ = self.draw([cases[i] for i in self.prototype_index_])
        logger.info("vision classifier: %s at %d px, alpha %.3g (leave-one-out accuracy on TRAIN: %s)", self.route, self.size_, self.head.alpha, self.candidates_)
        return self

    def _require_fit(self) -> RidgeFit:
        if self.head is None:
            raise ValueError("call fit(X, y) before using the classifier")
        return self.head

    @property
    def route(self) -> str:
        """Which route the fitted classifier uses, e.g. ``"vision (line+gaf)"`` or ``"vision+codes (line+codes)"``."""
        self._require_fit()
        name = "vision+" + "+".join(v for v in self.views_ if v in self.extra_views) if set(self.views_) & set(self.extra_views) else "vision"
        return f"{name} ({'+'.join(self.views_)})"

    @property
    def loo_accuracy(self) -> float:
        """Leave-one-out accuracy on TRAIN of the chosen views and ridge strength."""
        return self._require_fit().loo_accuracy

    def draw(self, X) -> torch.Tensor:
        """Cases X in the first chosen view, channel 0 of a per-channel view: (n, 3, S, S) in [0, 1] (what the
        network reads)."""
        self._require_fit()
        cases = as_cases(X)
        view = self.views_[0]
        images = self._reader().render(resample_to_length(cases, self.size_), [view])[view]
        return torch.as_tensor(images if view in CASE_RENDERERS else images[:: cases[0].shape[0]])

    def decision_function(self, X) -> np.ndarray:
        """Cases -> class scores (n, K), columns in the order of ``classes_``."""
        head = self._require_fit()
        cases = as_cases(X, "cases to classify")
        if cases[0].shape[0] != self.channels_:
            raise ValueError(f"the classifier was fitted on {self.channels_}-channel cases, got {cases[0].shape[0]} channel(s)")
        return head.decision_function(self._stack(self._reader().read(cases, self.views_), self.views_)[0])

    def predict(self, X) -> np.ndarray:
        """Cases -> predicted labels (n,)."""
        scores = self.decision_function(X)  # checks that the classifier is fitted
        return self.classes_[scores.argmax(1)]

    # ------------------------------------------------------------------ saving
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays (for ``np.savez``); ``from_arrays`` restores it."""
        head = self._require_fit()
        return {
            "classes": self.classes_, "views": np.array(self.views_), "builtin_views": np.array(self.views),
            "size": np.array(self.size_), "channels": np.array(self.channels_), "prototype_images": self.prototype_images_.numpy(),
            **{f"head_{k}": np.asarray(getattr(head, k)) for k in ("mean", "scale", "coef", "intercept", "alpha", "loo_accuracy", "loo_error")},
        }  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], extra_views: Mapping[str, ViewRenderer] | None = None, progress: bool | None = None) -> "VisionClassifier":
        """Inverse of ``to_arrays``; ``extra_views`` must provide every chosen view that is not built in."""
        clf = cls(views=[str(v) for v in arrays["builtin_views"]], extra_views=extra_views, progress=progress)
        clf.views_ = tuple(str(v) for v in arrays["views"])
        missing = [v for v in clf.views_ if v not in clf.views and v not in clf.extra_views]
        if missing:
            raise ValueError(f"the saved classifier uses views {missing}, which this pipeline cannot draw")
        clf.classes_, clf.size_, clf.channels_ = arrays["classes"], int(arrays["size"]), int(arrays["channels"])
        clf.prototype_images_ = torch.from_numpy(arrays["prototype_images"])
        clf.head = RidgeFit(**{k: arrays[f"head_{k}"] for k in ("mean", "scale", "coef", "intercept")},
                            **{k: float(arrays[f"head_{k}"]) for k in ("alpha", "loo_accuracy", "loo_error")})  # fmt: skip
        return clf
