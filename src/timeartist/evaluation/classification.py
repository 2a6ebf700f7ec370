"""Classification benchmark: UEA/UCR ``.ts`` datasets with the official TRAIN/TEST split, every method in one run.

Methods, each fitted on TRAIN and scored on TEST (accuracy, fit and predict wall times):

- ``timeartist``: the default, ``pipe.fit_classifier(TRAIN)`` (route ``"auto"``) then ``pipe.classify(TEST)``: every
  channel drawn as a line plot and a Gramian angular field, frozen EfficientNet-Lite0 stage features, a ridge head;
  which views (and whether the images the tokenizers generate join as a ``codes`` view) and the ridge strength are
  chosen by leave-one-out on TRAIN (``pipelines.classification``). The ``route`` column says what was chosen.
- ``timeartist_codes``: the paper's route, ``fit_classifier(TRAIN, route="codes")``: nearest class prototype of the
  EfficientNet-Lite0 features of the images the tokenizers generate (aligned or shared codebook chosen by
  leave-one-out on TRAIN).
- ``minirocket``: aeon ``MiniRocketClassifier`` (10,000 kernels, ridge regression with its own cross-validated
  regularisation on TRAIN), the ROCKET family's fast member.
- ``dtw_1nn``: aeon ``KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)``, unconstrained window.
- ``euclidean_1nn``: the same with ``distance="euclidean"``.

Missing values are filled by linear interpolation (``fill_missing``). Unequal lengths (JapaneseVowels, 7-29 steps):
``timeartist`` resamples each case to its image width (and the tokenizer length for the codes), as it does for every
dataset; ``minirocket`` and ``euclidean_1nn`` need one length, so each case is linearly resampled to the longest
TRAIN length; ``dtw_1nn`` takes the cases as they are (DTW aligns series of different lengths).

``quick=True`` is a labelled CI subset: ``QUICK_TEST_CASES`` test cases spread evenly over the file (test files
are often sorted by class) and the first ``QUICK_TRAIN_PER_CLASS`` training cases of each class.

Wall times exclude one-off start-up costs: the EfficientNet-Lite0 weights are loaded, and each aeon model is fitted
once on two training cases per class (compiling its numba kernels for this input layout), before the clock starts.
``timeartist bench classify`` (``add_arguments`` / ``run``) runs it with the bundled model.
"""

from __future__ import annotations

import argparse
import logging
import time
from functools import partial
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from timeartist.data import fill_missing, load_archive, resample_to_length, resolve_data_root  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, load_pipeline, names  # noqa: E402
from timeartist.evaluation.report import ordered, write_results  # noqa: E402
from timeartist.pipelines.classification import image_size_for  # noqa: E402
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)

GROUPS = ("UCR", "UEA")
METHODS = ("timeartist", "timeartist_codes", "minirocket", "dtw_1nn", "euclidean_1nn")
PIPELINE_ROUTES = {"timeartist": "auto", "timeartist_codes": "codes"}  # method -> fit_classifier route
AEON_DISTANCES = {"dtw_1nn": "dtw", "euclidean_1nn": "euclidean"}
QUICK_TEST_CASES = 20
QUICK_TRAIN_PER_CLASS = 5
WARMUP_PER_CLASS = 2
SEED = 0


def available_datasets(data_root=None) -> list[str]:
    """Names of the ``.ts`` datasets under ``<root>/UCR`` and ``<root>/UEA`` with both official split files."""
    root = resolve_data_root(data_root)
    names = [
        folder.name
        for group in GROUPS
        if (root / group).is_dir()
        for folder in (root / group).iterdir()
        if (folder / f"{folder.name}_TRAIN.ts").is_file() and (folder / f"{folder.name}_TEST.ts").is_file()
    ]
    return sorted(names)


def _cases(X) -> list[np.ndarray]:
    return [np.asarray(c, dtype=np.float64) for c in X]


def _equal_length(cases: list[np.ndarray], length: int) -> np.ndarray:
    """Cases of any length -> (n, C, length): unchanged when they already have it, else linearly resampled."""
    if all(c.shape[1] == length for c in cases):
        return np.stack(cases)
    return resample_to_length(cases, length)


def _first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Sorted indices of the first ``per_class`` cases of each class."""
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def _spread(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``range(count)``."""
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int))


def _take(X, index: np.ndarray):
    return X[index] if isinstance(X, np.ndarray) else [X[i] for i in index]


def _aeon_model(method: str, n_jobs: int):
    # imported here: aeon (numba) takes seconds to import and only this bench needs it
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    if method == "minirocket":
        return MiniRocketClassifier(random_state=SEED, n_jobs=n_jobs)
    return KNeighborsTimeSeriesClassifier(distance=AEON_DISTANCES[method], n_neighbors=1, n_jobs=n_jobs)


def _timed(fit, predict) -> tuple[np.ndarray, float, float]:
    began = time.perf_counter()
    fit()
    fitted = time.perf_counter()
    predictions = np.asarray(predict())
    return predictions, fitted - began, time.perf_counter() - fitted


def _evaluate_dataset(name: str, data_root, pipe, methods: Sequence[str], quick: bool, n_jobs: int) -> list[dict]:
    X_train, y_train = load_archive(name, "train", data_root)
    X_test, y_test = load_archive(name, "test", data_root)
    if y_train is None or y_test is None:
        raise ValueError(f"{name}: the .ts files carry no class labels, so they cannot be used for classification")
    train, test = _cases(fill_missing(X_train)), _cases(fill_missing(X_test))
    y_train, y_test = np.asarray(y_train).astype(str), np.asarray(y_test).astype(str)
    keep_train = _first_per_class(y_train, QUICK_TRAIN_PER_CLASS) if quick else np.arange(len(train))
    keep_test = _spread(len(test), QUICK_TEST_CASES) if quick else np.arange(len(test))
    train, y_train = [train[i] for i in keep_train], y_train[keep_train]
    test, y_test = [test[i] for i in keep_test], y_test[keep_test]
    lengths = sorted({c.shape[1] for c in train + test})
    longest = max(c.shape[1] for c in train)
    equal = len(lengths) == 1
    resampled = f"{lengths[0]} steps" if equal else f"resampled to {longest} (longest TRAIN case)"
    inputs = {
        "timeartist": f"drawn at {image_size_for(train)} px",
        "timeartist_codes": f"resampled to {pipe.temporal.seq_len} (tokenizer length)" if pipe is not None else "",
        "minirocket": resampled,
        "dtw_1nn": f"{lengths[0]} steps" if equal else "unequal lengths as given",
        "euclidean_1nn": resampled,
    }
    common = dict(dataset=name, channels=train[0].shape[0], length=str(lengths[0]) if equal else f"{lengths[0]}-{lengths[-1]}",
                  classes=len(np.unique(y_train)), train_cases=len(train), test_cases=len(test))  # fmt: skip
    rows = []
    for method in methods:
        route = ""
        if method in PIPELINE_ROUTES:
            pipe.classifier_network()  # load the weights before the clock starts
            fit = partial(pipe.fit_classifier, train, y_train, route=PIPELINE_ROUTES[method], progress=False)
            predicted, fit_s, predict_s = _timed(fit, lambda: pipe.classify(test))
            route = pipe.classifier_route
        else:
            if method != "dtw_1nn" or equal:
                fit_X, test_X = _equal_length(train, longest), _equal_length(test, longest)
            else:
                fit_X, test_X = train, test
            warm = _first_per_class(y_train, WARMUP_PER_CLASS)
            _aeon_model(method, n_jobs).fit(_take(fit_X, warm), y_train[warm]).predict(_take(fit_X, warm))
            model = _aeon_model(method, n_jobs)
            predicted, fit_s, predict_s = _timed(lambda: model.fit(fit_X, y_train), lambda: model.predict(test_X))
        accuracy = float(np.mean(predicted.astype(str) == y_test))
        logger.info("%s %s: accuracy %.3f (fit %.1f s, predict %.1f s)", name, method, accuracy, fit_s, predict_s)
        timing = {"fit_seconds": fit_s, "predict_seconds": predict_s}
        rows.append({**common, "method": method, "accuracy": accuracy, **timing, "route": route, "input": inputs[method]})
    return rows


def run_classification_bench(
    data_root=None,
    datasets: Sequence[str] | None = None,
    pipe=None,
    out_dir: str | Path | None = None,
    quick: bool = False,
    methods: Sequence[str] = METHODS,
    n_jobs: int = 1,
    command: str | None = None,
) -> pd.DataFrame:
    """Accuracy of the TimeArtist classifiers next to MiniRocket, 1-NN DTW and 1-NN Euclidean on UEA/UCR datasets.

    ``datasets``: names under ``<root>/UCR`` or ``<root>/UEA`` (``None``: every dataset found). ``pipe``: a
    ``TimeArtistPipeline`` (needed for ``timeartist`` and ``timeartist_codes``; its classifier is refitted on each
    dataset, replacing any fitted one). ``n_jobs``: worker threads of the aeon models. Returns one row per (dataset,
    method): dataset, method, accuracy, fit_seconds, predict_seconds, route (what the pipeline chose on TRAIN; empty
    for the baselines), input (how the method saw the series), channels, length, classes, train_cases, test_cases;
    the settings are in ``frame.attrs["meta"]``. With ``out_dir``: ``results.{json,csv,md}`` (``command``: the
    command line, shown first) and ``accuracy.png``.
    """
    unknown_methods = [m for m in methods if m not in METHODS]
    if unknown_methods or not methods:
        raise ValueError(f"unknown methods {unknown_methods or list(methods)}; available: {', '.join(METHODS)}")
    if set(PIPELINE_ROUTES) & set(methods) and pipe is None:
        raise ValueError("the timeartist methods need a pipeline: pass pipe=TimeArtistPipeline.from_pretrained(...)")
    available = available_datasets(data_root)
    datasets = list(available if datasets is None else datasets)
    unknown = [d for d in datasets if d not in available]
    if unknown or not datasets:
        root = resolve_data_root(data_root)
        raise ValueError(f"unknown classification datasets {unknown or datasets}; available under {root}: {', '.join(available)}")
    began = time.perf_counter()
    rows = []
    for name in tqdm(datasets, desc="classification", disable=None):
        rows += _evaluate_dataset(name, data_root, pipe, methods, quick, n_jobs)
    frame = pd.DataFrame(rows)
    frame.attrs["meta"] = {
        "protocol": "official TRAIN/TEST split; fit on TRAIN, accuracy on TEST; no selection on TEST",
        "datasets": datasets,
        "methods": list(methods),
        "quick": f"{QUICK_TEST_CASES} test cases spread over the file, first {QUICK_TRAIN_PER_CLASS} train cases per class" if quick else False,
        "seconds": time.perf_counter() - began,
    }
    if out_dir is not None:
        write_classification_report(frame, out_dir, command)
    return frame


def accuracy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy with rows dataset and one column per method, plus the mean over datasets."""
    table = frame.pivot_table(index="dataset", columns="method", values="accuracy", sort=False)
    table = table[ordered(table.columns, METHODS)]
    table.loc["mean"] = table.mean()
    return table


def write_classification_report(frame: pd.DataFrame, out_dir, command: str | None = None) -> dict[str, Path]:
    """``results.{json,csv,md}`` and a grouped bar chart ``accuracy.png`` under ``out_dir``."""
    tables = {
        "Test accuracy": accuracy_table(frame),
        "Wall time (s): fit + predict": frame.assign(seconds=frame["fit_seconds"] + frame["predict_seconds"])
        .pivot_table(index="dataset", columns="method", values="seconds", sort=False),
        "Route chosen on TRAIN": frame.loc[frame["route"] != "", ["dataset", "method", "route"]],
        "Datasets and inputs": frame[["dataset", "method", "channels", "length", "classes", "train_cases", "test_cases", "input"]],
    }
    paths = write_results(frame, out_dir, frame.attrs["meta"], tables, "Classification benchmark", command)
    paths["accuracy"] = _plot_accuracy(accuracy_table(frame).drop(index="mean"), Path(out_dir) / "accuracy.png")
    return paths


def _plot_accuracy(table: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(table) + 2), 3.4))
    width = 0.8 / len(table.columns)
    for i, method in enumerate(table.columns):
        ax.bar(np.arange(len(table)) + i * width, table[method], width, label=method)
    ax.set_xticks(np.arange(len(table)) + 0.4 - width / 2, table.index, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="test accuracy", ylim=(0, 1))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=len(table.columns), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)  # above the bars
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------------------- timeartist bench classify
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", help="comma-separated UCR/UEA names (default: every dataset found)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--jobs", type=int, default=1, help="worker threads of the aeon models")
    parser.add_argument("--quick", action="store_true",
                        help=f"a labelled CI subset: {QUICK_TEST_CASES} test cases, the first {QUICK_TRAIN_PER_CLASS} train cases per class")  # fmt: skip
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    methods = names(args.methods)
    check_out(args.out)
    pipe = load_pipeline(args) if set(PIPELINE_ROUTES) & set(methods) else None
    return run_classification_bench(data_root=args.data_root, datasets=names(args.datasets) or None, pipe=pipe, out_dir=args.out,
                                    quick=args.quick, methods=methods, n_jobs=args.jobs, command=args.command_line)  # fmt: skip
