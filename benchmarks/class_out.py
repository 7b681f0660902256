"""Leave-one-class-out AUROC of mcdsvdd, deepsvdd, ae-recon, iforest and DRAMA with a convolutional reducer.

Datasets:

- ``digits``: scikit-learn's 8 × 8 handwritten digits (1797 rows, 10 classes);
- ``shapes``: DRAMA's ten simulated signal shapes (SPEC §6), 300 signals of each, n_f = 100.

Protocol, per seed and held-out class: :func:`drama2.datasets.leave_one_class_out` makes a stratified
80/20 split of all rows (split seed = the seed); the detectors are fitted on the training rows of the
other classes (MCDSVDD with their class labels, the others without) and scored on the test rows of the
inlier classes plus *every* row of the held-out class (the split would keep only its 20 % test share;
using all its rows lowers the variance of the AUROC and changes nothing else, as no detector saw them).
Detectors are seeded with the seed. Every detector runs in the same process one after another, on the
same splits, so their times compare.

``Drama(reducer="conv2d-ae", metric="l2")`` runs on the digits (flat 64-pixel rows are folded into
8 × 8 images) and ``Drama(reducer="conv1d-ae")`` on the signals: a check that the convolutional reducers
run on these benchmarks, with their default settings.

Writes ``results/class_out.csv`` (one row per dataset × seed × held-out class × detector) and
``results/class_out.md``.

Usage (one thread; the development machine is shared, hence ``nice``)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/class_out.py [--seeds 0 1] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
import warnings
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"

#: Reduced training settings of the two SVDD detectors, so that the whole run fits in about 15 minutes
#: on 2 shared cores (the defaults are max_epochs=100 for both phases and batch_size="auto").
SVDD_SETTINGS = dict(batch_size=128, max_epochs=50, pretrain_epochs=30)
N_PER_SHAPE = 300
N_FEATURES = 100


def shapes_dataset(random_state: int):
    """The ten DRAMA signal shapes, ``N_PER_SHAPE`` signals each, as a multi-class dataset."""
    from drama2.datasets.base import Dataset
    from drama2.datasets.synthetic import CITATION, SHAPE_IDS, signals

    rng = np.random.default_rng(random_state)
    X = np.vstack([signals(i, N_PER_SHAPE, N_FEATURES, random_state=rng) for i in SHAPE_IDS])
    classes = np.repeat(np.asarray(SHAPE_IDS, dtype=np.int64), N_PER_SHAPE)
    return Dataset(name="shapes", X=X, y=None, source="drama2.datasets.synthetic.signals", citation=CITATION,
                   metadata=dict(n_per_shape=N_PER_SHAPE, n_features=N_FEATURES, random_state=random_state),
                   classes=classes)


def detectors(dataset: str, seed: int, quick: bool) -> dict:
    """name -> (factory, uses class labels)."""
    import drama2
    from drama2.scorers.baselines import IForest
    from drama2.scorers.recon import AERecon
    from drama2.scorers.svdd import DeepSVDD, MCDSVDD

    svdd = dict(SVDD_SETTINGS, random_state=seed)
    conv = None
    if quick:
        svdd.update(max_epochs=2, pretrain_epochs=1, hidden_sizes=(32,), n_components=4)
        conv = dict(max_epochs=2)
    found = {
        "mcdsvdd": (lambda: MCDSVDD(**svdd), True),
        "deepsvdd": (lambda: DeepSVDD(**svdd), False),
        "ae-recon": (lambda: AERecon(model="ae", random_state=seed,
                                     model_params=dict(max_epochs=2) if quick else None), False),
        "iforest": (lambda: IForest(random_state=seed), False),
    }
    if dataset == "digits":
        found["drama-conv2d-ae"] = (lambda: drama2.Drama(reducer="conv2d-ae", metric="l2", random_state=seed,
                                                         reducer_params=conv), False)
    else:
        found["drama-conv1d-ae"] = (lambda: drama2.Drama(reducer="conv1d-ae", random_state=seed,
                                                         reducer_params=conv), False)
    return found


def run(seeds: list[int], quick: bool, held_out_limit: int | None) -> tuple[list[dict], dict]:
    import drama2
    from drama2.datasets import leave_one_class_out
    from drama2.evaluation import auc

    rows, notes = [], defaultdict(set)
    for seed in seeds:
        datasets = {"digits": drama2.load_dataset("digits"), "shapes": shapes_dataset(seed)}
        for name, ds in datasets.items():
            held = np.unique(ds.classes)[:held_out_limit]
            for split in leave_one_class_out(ds, held_out=held, test_size=0.2, random_state=seed):
                inliers = split.X_test[split.y_test == 0]
                anomalies = ds.X[ds.classes == split.held_out]
                X_test = np.vstack([inliers, anomalies])
                y_test = np.r_[np.zeros(len(inliers), dtype=np.int64), np.ones(len(anomalies), dtype=np.int64)]
                for det, (make, labelled) in detectors(name, seed, quick).items():
                    model = make()
                    start = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        if labelled:
                            model.fit(split.X_train, split.classes_train)
                        else:
                            model.fit(split.X_train)
                        fit_seconds = time.perf_counter() - start
                        scores = model.score_samples(X_test)
                    for w in caught:
                        notes[(name, det)].add(f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}")
                    rows.append(dict(dataset=name, seed=seed, held_out=int(split.held_out), detector=det,
                                     auc=auc(y_test, scores), fit_seconds=fit_seconds,
                                     seconds=time.perf_counter() - start, n_train=len(split.X_train),
                                     n_test_inliers=len(inliers), n_test_anomalies=len(anomalies)))
                    print(f"{name:6s} seed {seed} held-out {split.held_out!s:>2} {det:16s} "
                          f"AUROC {rows[-1]['auc']:.4f}  {rows[-1]['seconds']:6.1f} s", flush=True)
    return rows, notes


FIELDS = ["dataset", "seed", "held_out", "detector", "auc", "fit_seconds", "seconds", "n_train", "n_test_inliers",
          "n_test_anomalies"]


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})


def code_version() -> str:
    """The git commit of the code measured, marked when drama2/ had uncommitted changes."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "drama2"],
                               cwd=HERE.parent, capture_output=True, text=True, check=True).stdout.strip()
        tracked = subprocess.run(["git", "ls-files", "drama2/scorers/svdd.py"], cwd=HERE.parent,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    version = f"{commit} + uncommitted changes in drama2/" if dirty else commit
    return version if tracked else f"{version} (drama2/scorers/svdd.py not yet committed)"


def markdown(rows: list[dict], notes: dict, seeds: list[int], total: float, command: str, version: str) -> str:
    import torch

    lines = [
        "# Leave-one-class-out AUROC: mcdsvdd, deepsvdd, ae-recon, iforest, DRAMA with a conv reducer",
        "",
        f"Command: `{command}`",
        "",
        f"Measured on {date.today().isoformat()} on the development machine ({len(os.sched_getaffinity(0))} usable "
        f"core(s) of {os.cpu_count()}, "
        f"shared with other jobs; {platform.processor() or platform.machine()}), torch {torch.__version__} on "
        f"CPU with 1 thread, Python {platform.python_version()}, code at {version}. Whole run: {total / 60:.1f} min.",
        "",
        "**Protocol.** For each seed and each class: `drama2.datasets.leave_one_class_out(ds, test_size=0.2, "
        "random_state=seed)` (stratified 80/20 split of all rows); detectors are fitted on the training rows of "
        "the other classes (mcdsvdd with their class labels, the others without) and scored on the test rows "
        "of the inlier classes plus **all** rows of the held-out class (the anomalies). Detectors are seeded "
        "with the seed.",
        "",
        "**Data.** `digits`: scikit-learn's 8 × 8 digits, 1797 rows, 10 classes (≈ 1290 training rows, "
        "≈ 324 test inliers, ≈ 180 anomalies per fold). `shapes`: DRAMA's ten simulated signal shapes "
        f"(`drama2.datasets.synthetic.signals`, σ = 0.2), {N_PER_SHAPE} per shape, n_f = {N_FEATURES}, "
        f"generated with the seed ({int(N_PER_SHAPE * 0.8 * 9)} training rows, {int(N_PER_SHAPE * 0.2 * 9)} "
        f"test inliers, {N_PER_SHAPE} anomalies per fold).",
        "",
        "**Settings.** mcdsvdd and deepsvdd: default architecture (hidden 512-256-128, latent 32, "
        "LeakyReLU, batch norm), Adam 5e-4, validation 10 %, patience 10, but **reduced training to fit the "
        f"time budget**: {', '.join(f'{k}={v}' for k, v in SVDD_SETTINGS.items())} (defaults: 100 epochs in "
        "each phase, batch \"auto\" = n_train // 32 in [16, 256]). ae-recon: `AERecon(model=\"ae\")` with the "
        "defaults of the commit above (latent max(2, min(16, d // 4)), 100 epochs, early stopping). iforest: "
        "100 trees, ψ = 256. drama-conv2d-ae: `Drama(reducer=\"conv2d-ae\", metric=\"l2\")` on digits; "
        "drama-conv1d-ae: `Drama(reducer=\"conv1d-ae\")` on shapes (defaults: latent 2, one split level, "
        "min-max scaling, 100 epochs).",
        "",
    ]
    by = defaultdict(list)
    for r in rows:
        by[(r["dataset"], r["detector"], r["held_out"])].append(r["auc"])
    seconds = defaultdict(list)
    for r in rows:
        seconds[(r["dataset"], r["detector"])].append(r["seconds"])
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        dets = list(dict.fromkeys(r["detector"] for r in rows if r["dataset"] == dataset))
        held = sorted({r["held_out"] for r in rows if r["dataset"] == dataset})
        title = "digit" if dataset == "digits" else "shape"
        lines += [f"## {dataset}: AUROC per held-out {title} (mean over seeds {seeds})", "",
                  f"| held-out {title} | " + " | ".join(dets) + " |",
                  "|---:|" + "---:|" * len(dets)]
        means = {d: [] for d in dets}
        for h in held:
            cells = []
            for d in dets:
                value = float(np.mean(by[(dataset, d, h)]))
                means[d].append(value)
                cells.append(f"{value:.3f}")
            best = max(float(c) for c in cells)
            cells = [f"**{c}**" if float(c) == best else c for c in cells]
            lines.append(f"| {h} | " + " | ".join(cells) + " |")
        overall = {d: float(np.mean(v)) for d, v in means.items()}
        best = max(overall.values())
        lines.append("| **mean** | " + " | ".join(f"**{v:.3f}**" if v == best else f"{v:.3f}"
                                                 for v in overall.values()) + " |")
        per_seed = []
        for d in dets:
            vals = [float(np.mean([r["auc"] for r in rows if r["dataset"] == dataset and r["detector"] == d
                                   and r["seed"] == s])) for s in seeds]
            per_seed.append(" / ".join(f"{v:.3f}" for v in vals))
        lines.append("| mean per seed | " + " | ".join(per_seed) + " |")
        lines.append("| seconds per fold (fit + score) | " + " | ".join(
            f"{np.mean(seconds[(dataset, d)]):.1f}" for d in dets) + " |")
        lines.append("")
    if notes:
        lines += ["## Warnings raised during the run", ""]
        for (dataset, det), messages in sorted(notes.items()):
            for m in sorted(messages):
                lines.append(f"- {dataset} / {det}: {m}")
        lines.append("")
    lines += ["Raw numbers: [class_out.csv](class_out.csv) (one row per dataset × seed × held-out class × "
              "detector)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--quick", action="store_true", help="tiny networks, 2 held-out classes, no files written")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    version = code_version()  # before the run: the modules are imported from this state
    started = time.perf_counter()
    rows, notes = run(args.seeds, args.quick, 2 if args.quick else None)
    total = time.perf_counter() - started
    if args.quick:
        print(markdown(rows, notes, args.seeds, total, "quick", version))
        return
    command = "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/class_out.py " + " ".join(sys.argv[1:])
    OUT.mkdir(exist_ok=True)
    write_csv(OUT / "class_out.csv", rows)
    (OUT / "class_out.md").write_text(markdown(rows, notes, args.seeds, total, command.strip(), version))
    print(f"wrote {OUT / 'class_out.csv'} and {OUT / 'class_out.md'} in {total / 60:.1f} min")


if __name__ == "__main__":
    main()
