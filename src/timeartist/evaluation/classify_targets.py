"""Stage-3 class targets: encoded sample images against generated token banks, on UEA/UCR TEST accuracy.

For every dataset and target source (``sample_images``: one encoded ImageNet sample image per class;
``generated``: ``--bank-per-class`` sequences per class from a ``TokenGenerator``), stage 3
(``timeartist.training.classify.run_classify``) finetunes the t2v aligner of ``--model`` with the same run config,
seed and ImageNet class assignment, selects its weights on a stratified validation split of TRAIN, and the
selected weights score every TEST series against every class bank (s_c, the mean bank log-likelihood); the
accuracy of the argmax is reported beside chance (1 / classes) and the majority-class rate. TEST is read only for
this scoring. The number of distinct target sequences (over all classes, per class, and distinct banks) shows how
much the image tokenizer / generator tells the assigned classes apart. Every run is repeated for ``--seeds``
(the training seed, which also fixes the validation split, and the seed of the generated banks); tables give the
mean and standard deviation over seeds; ``classify_targets.png`` draws them.

``--quick`` is a labelled smoke run: ``QUICK_STEPS`` training steps, at most ``QUICK_TEST_CASES`` TEST cases
spread over the file. Each run writes under ``<runs>/<dataset>/<source>/seed<k>`` (``--runs``, default
``<out>/runs``), which is emptied first so an earlier run (e.g. with other tokenizers) is never resumed.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from timeartist.data import LabelEncoder, archive_path, load_archive  # noqa: E402
from timeartist.evaluation.common import add_common_arguments, check_out, names  # noqa: E402
from timeartist.evaluation.report import write_results  # noqa: E402
from timeartist.hub import DEFAULT_MODEL_DIR  # noqa: E402
from timeartist.training.classify import (  # noqa: E402
    SELECTION_FILE, TARGET_SOURCES, bank_histograms, class_scores, load_stage3, prepare_series, run_classify,
)  # fmt: skip
from timeartist.viz import save_figure  # noqa: E402

logger = logging.getLogger(__name__)

DATASETS = ("JapaneseVowels", "BasicMotions", "Handwriting")
QUICK_STEPS = 4
QUICK_TEST_CASES = 20


def score_test(best_dir: Path, name: str, data_root, quick: bool) -> dict:
    """TEST accuracy of a stage-3 folder, with chance and majority-class rates of the scored cases."""
    temporal, t2v, banks, metadata = load_stage3(best_dir)
    X, y = load_archive(name, "test", data_root)
    labels = LabelEncoder(tuple(metadata["labels"])).encode(np.asarray(y).astype(str))
    series = prepare_series(X, temporal.seq_len)
    if quick:
        keep = np.unique(np.linspace(0, len(series) - 1, min(len(series), QUICK_TEST_CASES)).round().astype(int))
        series, labels = series[keep], labels[keep]
    scores = class_scores(temporal, t2v, bank_histograms(banks, t2v.codebook_size), torch.from_numpy(series))
    predicted = scores.argmax(-1).numpy()
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "chance": 1.0 / len(metadata["labels"]),
        "majority": float(np.bincount(labels).max() / len(labels)),
        "test_cases": len(labels),
        "predicted_classes": len(np.unique(predicted)),
    }


def run_one(args, name: str, source: str, seed: int) -> dict:
    run_dir = Path(args.runs or Path(args.out) / "runs") / name / source / f"seed{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    overrides = [
        f"experiment.init_weight={args.model}", f"experiment.output_dir={run_dir}", f"dataset.params.ts_dataset={name}",
        f"dataset.params.class_targets.source={source}", f"dataset.params.class_targets.generator_checkpoint={args.generator}",
        f"dataset.params.class_targets.bank_per_class={args.bank_per_class}",
        f"dataset.params.class_targets.guidance={args.guidance}", f"dataset.params.class_targets.steps={args.gen_steps}",
        f"dataset.params.class_targets.temperature={args.temperature}",
        f"dataset.params.class_targets.seed={seed}", f"training.seed={seed}", "experiment.save_every=100000",
    ]  # fmt: skip
    if args.data_root:
        overrides.append(f"dataset.params.data_root={args.data_root}")
    if args.quick:
        overrides += [f"training.max_train_steps={QUICK_STEPS}", "experiment.eval_every=2", "lr_scheduler.params.warmup_steps=1"]
    elif args.train_steps:
        overrides.append(f"training.max_train_steps={args.train_steps}")
    overrides += args.set
    began = time.perf_counter()
    best = run_classify(args.config, overrides)
    seconds = time.perf_counter() - began
    metadata = json.loads((best / "classes.json").read_text())
    row = {
        "dataset": name,
        "targets": source,
        "seed": seed,
        "classes": len(metadata["labels"]),
        "bank_per_class": len(metadata["target_tokens"][0]),
        **metadata["target_summary"],
        "val_accuracy": json.loads((best / SELECTION_FILE).read_text())["val_accuracy"],
        **score_test(best, name, args.data_root, args.quick),
        "train_seconds": seconds,
    }
    logger.info("%s %s seed %d: %s", name, source, seed, row)
    return row


def plot(frame: pd.DataFrame, path: Path) -> Path:
    """Grouped bars of mean TEST accuracy per dataset and target source (std over seeds as error bars), chance as
    a dashed line per dataset."""
    table = frame.pivot_table(index="dataset", columns="targets", values="test_accuracy", sort=False)
    spread = frame.pivot_table(index="dataset", columns="targets", values="test_accuracy", aggfunc="std", sort=False)
    chance = frame.groupby("dataset", sort=False)["chance"].first()
    fig, ax = plt.subplots(figsize=(max(4.5, 1.4 * len(table) + 2), 3.4))
    width = 0.8 / len(table.columns)
    x = np.arange(len(table))
    for i, source in enumerate(table.columns):
        error = spread[source].fillna(0) if source in spread else None
        ax.bar(x + i * width, table[source], width, yerr=error, capsize=2, label=f"{source} targets")
    ax.hlines(chance.loc[table.index], x - width / 2, x + 0.8 - width / 2, colors="k", linestyles="--", label="chance (1/C)")
    ax.set_xticks(x + 0.4 - width / 2, table.index, fontsize=8)
    ax.set(ylabel="TEST accuracy", ylim=(0, 1), title="Stage-3 class targets")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", required=True, help="TokenGenerator folder in the model's code space")
    parser.add_argument("--config", default="configs/default/classify.yaml", help="stage-3 run config (relative to the repository root)")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated UCR/UEA names (e.g. add GunPoint)")
    parser.add_argument("--runs", help="folder of the stage-3 runs (default: <out>/runs)")
    parser.add_argument("--sources", default=",".join(TARGET_SOURCES), help=f"comma-separated target sources: {', '.join(TARGET_SOURCES)}")
    parser.add_argument("--bank-per-class", type=int, default=16, help="generated sequences per class")
    parser.add_argument("--guidance", type=float, default=3.0, help="guidance of the generated banks")
    parser.add_argument("--gen-steps", type=int, default=8, help="decoding steps of the generator")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the generator")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training and bank seeds, one run each")
    parser.add_argument("--train-steps", type=int, help="stage-3 steps (default: the config's)")
    parser.add_argument("--set", nargs="*", default=[], help="extra key=value overrides of the run config")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_STEPS} steps, <= {QUICK_TEST_CASES} TEST cases")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> pd.DataFrame:
    args.model = args.model or str(DEFAULT_MODEL_DIR)
    datasets, sources, seeds = names(args.datasets), names(args.sources), [int(s) for s in names(args.seeds)]
    if not datasets or not seeds or not sources or set(sources) - set(TARGET_SOURCES):
        raise ValueError(f"need datasets, seeds and sources among {', '.join(TARGET_SOURCES)}; got {datasets}, {seeds}, {sources}")
    for path, flag in ((args.generator, "--generator"), (args.config, "--config"), (args.model, "--model")):
        if not Path(path).exists():
            raise FileNotFoundError(f"{flag} {path} not found")
    for name in datasets:
        archive_path(name, "test", args.data_root)  # unknown names fail before any training
    check_out(args.out)
    began = time.perf_counter()
    rows = [run_one(args, name, source, seed) for name in datasets for source in sources for seed in seeds]
    frame = pd.DataFrame(rows)
    meta = {
        "protocol": "stage 3 per target source with one config and seed; weights selected on a stratified split of "
        "TRAIN; TEST accuracy of argmax_c s_c (mean log-likelihood of class c's target bank)",
        "model": args.model,
        "generator": args.generator,
        "config": args.config,
        "generated_banks": {"bank_per_class": args.bank_per_class, "guidance": args.guidance, "steps": args.gen_steps,
                            "temperature": args.temperature},
        "seeds": seeds,
        "quick": f"{QUICK_STEPS} training steps, <= {QUICK_TEST_CASES} TEST cases" if args.quick else False,
        "seconds": time.perf_counter() - began,
    }  # fmt: skip
    accuracy = frame.pivot_table(index="dataset", columns="targets", values="test_accuracy", sort=False)
    spread = frame.pivot_table(index="dataset", columns="targets", values="test_accuracy", aggfunc="std", sort=False)
    accuracy = accuracy.join(spread.add_suffix(" std"))
    accuracy["chance (1/C)"] = frame.groupby("dataset", sort=False)["chance"].first()
    accuracy["majority class"] = frame.groupby("dataset", sort=False)["majority"].first()
    columns = ["classes", "bank_per_class", "distinct_sequences", "distinct_per_class", "shared_sequences",
               "distinct_banks", "codes_used", "val_accuracy", "test_accuracy", "predicted_classes", "train_seconds"]  # fmt: skip
    tables = {
        f"TEST accuracy (mean and std over seeds {seeds})": accuracy,
        "Targets and selection (mean over seeds)": frame.groupby(["dataset", "targets"], sort=False)[columns].mean(),
    }
    write_results(frame, args.out, meta, tables, "Stage-3 class targets: sample images vs generated banks", args.command_line)
    plot(frame, Path(args.out) / "classify_targets.png")
    return frame
