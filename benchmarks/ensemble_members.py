"""Fit the wide ensemble member pool (``members="wide"``) on the 25 ODDS sets (split protocol) and cache their scores.

Per dataset and seed (1, 2, 3): a stratified 70/30 split (``train_test_split(stratify=y,
random_state=seed)``, the bench's split protocol), one :class:`drama2.Ensemble` with the pool below fitted
on the training part (min-max scaling fitted on it), and its normalised member scores on the training
and the test part saved with the labels to ``.cache/ensemble/<dataset>-<seed>.npz``. The ensemble studies
(``ensemble_quality.py``) combine these cached scores, so every combination rule and weighting is
evaluated on exactly the same member scores.

Usage: ``DRAMA2_DATA=../shared/data python benchmarks/ensemble_members.py [dataset ...]``
(already cached files are kept; ``--force`` refits; ``--refit=LABEL,LABEL`` refits only those members in
the cached files and replaces their columns: a scorer member's seed and normalisation depend on itself alone,
so the other columns stay valid; DRAMA members share one fit per reducer and are refused).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from drama2 import load_dataset
from drama2.datasets.odds import ODDS_FILES
from drama2.ensemble import WIDE_MEMBERS, Ensemble

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "ensemble"
SEEDS = (1, 2, 3)
POOL = list(WIDE_MEMBERS)


def split(name: str, seed: int):
    data = load_dataset(name)
    return train_test_split(data.X, data.y, test_size=0.3, stratify=data.y, random_state=seed)


def cache_one(name: str, seed: int, force: bool = False) -> Path:
    path = CACHE / f"{name}-{seed}.npz"
    if path.exists() and not force:
        return path
    X_train, X_test, y_train, y_test = split(name, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ensemble(members=POOL, random_state=seed).fit(X_train)
        test = model.member_scores(X_test)
    seconds = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, train=model.member_scores(), test=test, y_train=y_train, y_test=y_test,
             labels=np.array(model.member_labels_),
             fit_seconds=np.array([model.member_fit_seconds_[label] for label in model.member_labels_]))
    os.replace(tmp, path)
    print(f"{name} seed {seed}: {len(model.member_labels_)} members in {seconds:.1f} s", flush=True)
    return path


def refit_members(name: str, seed: int, labels: list[str]) -> None:
    """Refit ``labels`` on a cached split and replace their columns in the cache file."""
    path = CACHE / f"{name}-{seed}.npz"
    cached = dict(np.load(path, allow_pickle=False))
    X_train, X_test, _, _ = split(name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ensemble(members=labels, random_state=seed).fit(X_train)
        test = model.member_scores(X_test)
    known = [str(label) for label in cached["labels"]]
    for j, label in enumerate(model.member_labels_):
        k = known.index(label)
        cached["train"][:, k], cached["test"][:, k] = model.member_scores()[:, j], test[:, j]
        cached["fit_seconds"][k] = model.member_fit_seconds_[label]
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **cached)
    os.replace(tmp, path)
    print(f"{name} seed {seed}: refitted {', '.join(model.member_labels_)}", flush=True)


def main(argv: list[str]) -> None:
    force = "--force" in argv
    refit = next((a.split("=", 1)[1].split(",") for a in argv if a.startswith("--refit=")), None)
    if refit and any(label.startswith("drama") for label in refit):
        sys.exit("--refit takes scorer members only: DRAMA members share one fit (and seed) per reducer; "
                 "refit those with --force.")
    names = [a for a in argv if not a.startswith("--")]
    if not names:
        sizes = {n: load_dataset(n).X.size for n in ODDS_FILES if n != "speech"}
        names = sorted(sizes, key=sizes.get)
    for name in names:
        for seed in SEEDS:
            if refit:
                refit_members(name, seed, refit)
            else:
                cache_one(name, seed, force)


if __name__ == "__main__":
    main(sys.argv[1:])
