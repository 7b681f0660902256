"""drama2's Extended Isolation Forest (``eif``) vs isotree's extended model: test AUC on the 25 ODDS sets.

Protocol, per dataset and seed (1 to 5): a stratified 70/30 split
(``train_test_split(stratify=y, random_state=seed)``), a MinMax scaler fitted on the training part,
each model fitted on the scaled training part, AUC of its scores on the scaled test part. All models
see the same split in the same run.

Models (100 trees, 256 rows per tree, height limit ceil(log2 256) = 8, fully extended: all d
components of each normal nonzero):

* ``eif box``: ``EIF(extension_level=None)``, the paper's algorithm and drama2's default: the
  intercept is uniform in the node's bounding box (children may be empty).
* ``eif range``: ``EIF(extension_level=None, threshold="range")``: isotree's extended model. The split
  point is uniform along the range of the projections, a node whose samples are all equal is a leaf, and
  the columns that are constant within a node take no part in its normal.
* ``isotree``: ``isotree.IsolationForest(ndim=d, sample_size=256, ntrees=100, max_depth="auto", ...)``
  with the options closest to the paper (see ``ISOTREE_OPTIONS``): ``coefs="normal"`` (i.i.d. N(0, 1)
  components, i.e. a direction uniform on the sphere, as in the paper; isotree's default "uniform"
  draws them from U(-1, 1)), ``standardize_data=False`` (the paper projects the raw features; isotree
  would otherwise rescale every feature by its standard deviation within the node),
  ``missing_action="fail"`` (no missing values; the paper has no imputation),
  ``penalize_range=False`` (no depth penalty for values outside the node's range; the paper has none),
  ``prob_pick_*=0`` and ``ntry=1`` (purely random splits, no gain criterion), ``weigh_by_kurtosis=False``,
  ``sample_with_replacement=False`` and ``scoring_metric="depth"`` (the paper's 2 ** (-E[h] / c(psi))).
  The last two node rules of ``eif range`` are isotree's and no option turns them off; ``eif box`` keeps
  the paper's (every component drawn, and a node of equal samples split on up to the height limit).
  isotree seeds tree ``t`` with ``random_seed + t``, so ``random_seed`` 1, 2 and 3 would give forests
  sharing 98 of their 100 trees; it gets ``random_seed = 1000 * seed`` here so that its runs are as
  independent as eif's.

Usage: ``DRAMA2_DATA=../shared/data python benchmarks/eif_vs_isotree.py [dataset ...]``; writes
``results/eif_vs_isotree.{md,csv}`` (only when run on all 25 sets; ``--md-only`` rewrites the report
from the CSV).
"""

from __future__ import annotations

import csv
import os
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATASETS = ("annthyroid", "arrhythmia", "breastw", "cardio", "cover", "glass", "http", "ionosphere", "letter",
            "lympho", "mammography", "mnist", "musk", "optdigits", "pendigits", "pima", "satellite", "satimage-2",
            "shuttle", "smtp", "thyroid", "vertebral", "vowels", "wbc", "wine")
SEEDS = (1, 2, 3, 4, 5)
ISOTREE_SEED_STEP = 1000  # isotree gets random_seed = 1000 * seed: independent forests for the seeds
MODELS = ("eif box", "eif range", "isotree")
ISOTREE_OPTIONS = dict(sample_size=256, ntrees=100, max_depth="auto", ntry=1, coefs="normal", standardize_data=False,
                       missing_action="fail", penalize_range=False, prob_pick_pooled_gain=0.0, prob_pick_avg_gain=0.0,
                       prob_pick_full_gain=0.0, prob_pick_dens=0.0, prob_pick_col_by_range=0.0,
                       prob_pick_col_by_var=0.0, prob_pick_col_by_kurt=0.0, weigh_by_kurtosis=False,
                       sample_with_replacement=False, scoring_metric="depth", nthreads=2)


def run_one(model: str, X_train, X_test, seed: int):
    """Fit ``model`` on X_train and return (test scores, fit seconds, score seconds)."""
    d = X_train.shape[1]
    start = time.perf_counter()
    if model == "isotree":
        import isotree

        # isotree seeds tree t with random_seed + t, so seeds 1, 2, 3 would share 98 of their 100 trees.
        fitted = isotree.IsolationForest(ndim=d, random_seed=ISOTREE_SEED_STEP * seed, **ISOTREE_OPTIONS).fit(X_train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        scores = fitted.predict(X_test)
    else:
        from drama2.scorers.eif import EIF

        fitted = EIF(n_estimators=100, max_samples=256, extension_level=None, threshold=model.split()[1],
                     random_state=seed, device="cpu").fit(X_train)
        fit_s = time.perf_counter() - start  # includes scoring the training rows (decision_scores_)
        start = time.perf_counter()
        scores = fitted.score_samples(X_test)
    return np.asarray(scores, dtype=np.float64), fit_s, time.perf_counter() - start


def main(names=DATASETS):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    from drama2 import load_dataset

    rows = []
    partial = HERE / "results" / "eif_vs_isotree.partial.csv"
    for name in names:
        data = load_dataset(name)
        X, y = data.X, data.y
        for seed in SEEDS:
            X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
            scaler = MinMaxScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            for model in MODELS:
                scores, fit_s, score_s = run_one(model, X_train, X_test, seed)
                rows.append({"dataset": name, "n": len(X), "d": X.shape[1], "seed": seed, "model": model,
                             "auc": roc_auc_score(y_test, scores), "fit_s": fit_s, "score_s": score_s})
            print(name, seed, " ".join(f"{r['model']}={r['auc']:.4f}" for r in rows[-len(MODELS):]), flush=True)
        _write_csv(partial, rows)  # a crash later on loses nothing
    partial.unlink()
    return rows


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})


def summarise(rows):
    table = []
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    for name in names:
        entry = {"dataset": name}
        for model in MODELS:
            aucs = np.array([r["auc"] for r in rows if r["dataset"] == name and r["model"] == model])
            entry[model] = (aucs.mean(), aucs.std(ddof=1), aucs)
            entry["n"], entry["d"] = next((r["n"], r["d"]) for r in rows if r["dataset"] == name)
        table.append(entry)
    return table


def noise(a, b):
    """Two standard errors of the difference of two means over the seeds (sample std, ddof=1)."""
    return 2.0 * np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / len(a))


def write(rows):
    import torch

    results = HERE / "results"
    _write_csv(results / "eif_vs_isotree.csv", rows)

    table = summarise(rows)
    means = {m: np.mean([e[m][0] for e in table]) for m in MODELS}
    per_seed = {m: np.array([np.mean([e[m][2][i] for e in table]) for i in range(len(SEEDS))]) for m in MODELS}
    within = {m: sum(abs(e[m][0] - e["isotree"][0]) <= noise(e[m][2], e["isotree"][2]) for e in table)
              for m in MODELS[:2]}
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch "
               f"{torch.__version__} ({torch.get_num_threads()} threads), isotree {metadata.version('isotree')}")
    total = {m: sum(r["fit_s"] + r["score_s"] for r in rows if r["model"] == m) for m in MODELS}
    lines = [
        "# Extended Isolation Forest: drama2 `eif` vs isotree",
        "",
        f"{len(table)} ODDS sets, seeds {', '.join(map(str, SEEDS))}; stratified 70/30 split, MinMax scaler fitted on "
        "the training part, models fitted on the training part, AUC on the test part. 100 trees, 256 rows per tree, "
        "height limit 8, fully extended (extension_level = d - 1 / isotree `ndim=d`).",
        f"Machine: {machine}. Command: `DRAMA2_DATA=../shared/data python benchmarks/eif_vs_isotree.py`.",
        "",
        "* **eif box**: `EIF()` (drama2's default, the paper's intercept uniform in the node's bounding box).",
        "* **eif range**: `EIF(threshold=\"range\")` (isotree's extended model: split point uniform along the projected "
        "range, nodes of equal samples are leaves, node-constant columns get no weight).",
        "* **isotree**: `isotree.IsolationForest(ndim=d, random_seed=1000 * seed, " + ", ".join(
            f"{k}={v!r}" for k, v in ISOTREE_OPTIONS.items()) + ")`; see the script's docstring for why each option "
        "and for how the two node rules of isotree differ from the paper's.",
        "",
        "## Summary",
        "",
        "| | eif box | eif range | isotree |",
        "|---|---:|---:|---:|",
        f"| mean AUC over the {len(table)} sets (mean of the {len(SEEDS)} seeds) | {means['eif box']:.4f} | "
        f"{means['eif range']:.4f} | {means['isotree']:.4f} |",
        "| mean AUC per seed | " + " | ".join(", ".join(f"{v:.4f}" for v in per_seed[m]) for m in MODELS) + " |",
        f"| difference to isotree (mean AUC) | {means['eif box'] - means['isotree']:+.4f} | "
        f"{means['eif range'] - means['isotree']:+.4f} | |",
        f"| sets where the difference is within seed noise | {within['eif box']} / {len(table)} | "
        f"{within['eif range']} / {len(table)} | |",
        f"| total fit + score time, all runs (s) | {total['eif box']:.1f} | {total['eif range']:.1f} | "
        f"{total['isotree']:.1f} |",
        "",
        "Seed noise: a difference counts as within noise when |mean difference| <= 2 standard errors of the "
        f"difference, 2 sqrt((s_eif^2 + s_isotree^2) / n), with s the standard deviation (ddof=1) of the n = {len(SEEDS)} seeds' "
        "AUCs. The seeds change the split as well as the forests, so this noise includes the split's.",
        "",
        f"## Per dataset (AUC mean ± std over the {len(SEEDS)} seeds)",
        "",
        "| dataset | n | d | eif box | eif range | isotree | box − isotree | range − isotree "
        "| within noise (box / range) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in table:
        def cell(m):
            return f"{e[m][0]:.4f} ± {e[m][1]:.4f}"
        flags = ["yes" if abs(e[m][0] - e["isotree"][0]) <= noise(e[m][2], e["isotree"][2]) else "**no**"
                 for m in MODELS[:2]]
        lines.append(f"| {e['dataset']} | {e['n']} | {e['d']} | {cell('eif box')} | {cell('eif range')} | "
                     f"{cell('isotree')} | {e['eif box'][0] - e['isotree'][0]:+.4f} | "
                     f"{e['eif range'][0] - e['isotree'][0]:+.4f} | {flags[0]} / {flags[1]} |")
    lines += [
        "",
        "Per-run AUCs and times: `eif_vs_isotree.csv`. eif's fit time includes scoring the training rows "
        "(`decision_scores_`), 70 % of each set, which isotree's fit does not. The times are wall-clock on "
        "2 cores shared with other jobs, where torch's threads lose far more than isotree's: they are not a "
        "speed comparison (`eif_speed.md` is).",
        "",
        "## Reading the differences",
        "",
        "* `eif range` is the algorithm isotree implements, node rules included, and matches it: the mean AUC "
        "is within 0.01 and every per-dataset difference is within seed noise. `eif box` (the paper's "
        "intercept and node rules, drama2's default) differs by design: it ranks better on several sets "
        "(ionosphere, letter, musk, optdigits, satellite, vowels, wine) and worse on cover and http.",
        "* On http the difference of `eif box` is systematic (the spread is tiny) and comes from the node rules: "
        "http has many repeated rows, which isotree's rules isolate as one leaf at their depth.",
        "* The seeds also change the split, and a single forest's AUC varies a lot on some sets. On one "
        "fixed split (seed 1) of optdigits, eight independent forests each gave eif range 0.600 ± 0.091 and "
        "isotree 0.635 ± 0.103 (a side check, not part of this script).",
        "",
    ]
    lines.append("")
    (results / "eif_vs_isotree.md").write_text("\n".join(lines))
    print("\n".join(lines))


def read_csv(path):
    with open(path, newline="") as fh:
        return [{k: (float(v) if k in ("auc", "fit_s", "score_s") else int(v) if k in ("n", "d", "seed") else v)
                 for k, v in row.items()} for row in csv.DictReader(fh)]


if __name__ == "__main__":
    # isotree says so whenever a training part has fewer than 256 rows; it then uses them all, as eif does.
    warnings.filterwarnings("ignore", message="Input data has fewer rows than sample_size")
    if sys.argv[1:] == ["--md-only"]:  # rewrite the report from the saved CSV
        write(read_csv(HERE / "results" / "eif_vs_isotree.csv"))
        sys.exit()
    selected = tuple(sys.argv[1:]) or DATASETS
    result = main(selected)
    if selected == DATASETS:
        write(result)
    else:
        for entry in summarise(result):
            print(entry["dataset"], {m: round(entry[m][0], 4) for m in MODELS})
