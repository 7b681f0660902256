"""LOF and kNN on http-sized data (ODDS http, 567,498 x 3): drama2's scorers beside scikit-learn's own.

drama2's `lof` and `knn` wrap scikit-learn's neighbour search, so the peer is scikit-learn called directly
with the same settings (LocalOutlierFactor for LOF; NearestNeighbors k-th distance for kNN), timed in the same
run. The target: each completes fit + scoring of all rows in under a minute on this machine.

    DRAMA2_DATA=../shared/data python benchmarks/neighbours_http.py

Writes benchmarks/results/neighbours_http.{md,json}.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from drama2 import load_dataset
from drama2.evaluation import auc
from drama2.scorers.baselines import KNN, LOF

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn):
    start = time.perf_counter()
    scores = fn()
    return time.perf_counter() - start, scores


def sklearn_knn(X, k):
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    return distances[:, -1]  # the row itself is its own nearest neighbour


def main():
    data = load_dataset("http")
    X, y = data.X, data.y
    runs = []
    for k in (10, 35):
        cases = [(f"drama2 lof (k={k})", lambda: LOF(n_neighbors=k).fit(X).decision_scores_),
                 (f"sklearn LocalOutlierFactor (k={k})",
                  lambda: -LocalOutlierFactor(n_neighbors=k).fit(X).negative_outlier_factor_),
                 (f"drama2 knn (k={k})", lambda: KNN(n_neighbors=k).fit(X).decision_scores_),
                 (f"sklearn NearestNeighbors k-th distance (k={k})", lambda: sklearn_knn(X, k))]
        for name, fn in cases:
            seconds, scores = timed(fn)
            runs.append({"model": name, "seconds": round(seconds, 2), "auc": round(auc(y, scores), 4)})
            print(runs[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpu_count": os.cpu_count()}
    (RESULTS / "neighbours_http.json").write_text(json.dumps({"machine": machine, "shape": list(X.shape),
                                                              "runs": runs}, indent=2) + "\n")
    lines = [f"ODDS http, {X.shape[0]:,} x {X.shape[1]}, fit + scoring every row (training scores), "
             f"{machine['cpu_count']} cores.", "", "| model | seconds | AUC |", "|---|---:|---:|"]
    lines += [f"| {r['model']} | {r['seconds']:.1f} | {r['auc']:.4f} |" for r in runs]
    (RESULTS / "neighbours_http.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
