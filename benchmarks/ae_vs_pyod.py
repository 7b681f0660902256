"""drama2's `ae` (as the ae-recon scorer) against PyOD's AutoEncoder: same architecture, epochs, batch and data.

Data: 50,000 x 20 rows; 95 % inliers on a curved 3-D manifold (tanh of a random linear map, plus noise),
5 % anomalies near the manifold but pushed off it by noise three times the inliers'. Both models:

- layers 20 -> 64 -> 8 -> 64 -> 20 with ReLU between hidden layers (PyOD: hidden_neuron_list=[64, 8]; it
  also puts ReLU on the 8-unit code, drama2 keeps its latent layer linear);
- no batch norm, no dropout (PyOD's defaults add both; drama2 has neither);
- Adam, lr 1e-3, weight decay 1e-5, batch 64, 10 epochs over all rows (drama2: validation_fraction=0, so
  no early stopping and no held-out rows, as PyOD);
- standardised inputs (PyOD preprocessing=True; drama2 always);
- score = reconstruction error of each row, after fitting on all rows (fit + decision_function).

Both run with the same number of torch threads, in this process, one after the other, three repeats; the
table reports the median time and the AUC of each repeat's scores.

    python benchmarks/ae_vs_pyod.py

Writes benchmarks/results/ae_vs_pyod.{md,json}.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from drama2.evaluation import auc
from drama2.scorers.recon import AERecon

RESULTS = Path(__file__).resolve().parent / "results"
N, D, ANOMALY_SHARE, REPEATS = 50_000, 20, 0.05, 3
EPOCHS, BATCH, LR, WEIGHT_DECAY = 10, 64, 1e-3, 1e-5


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    n_out = int(N * ANOMALY_SHARE)
    basis = rng.normal(size=(3, D))
    inliers = np.tanh(rng.normal(size=(N - n_out, 3)) @ basis) + 0.05 * rng.normal(size=(N - n_out, D))
    # Anomalies lie near the manifold, pushed off it by noise three times the inliers': hard enough that the
    # AUC says something about how well each model learnt the manifold.
    outliers = np.tanh(rng.normal(size=(n_out, 3)) @ basis) + 0.15 * rng.normal(size=(n_out, D))
    X = np.r_[inliers, outliers]
    y = np.r_[np.zeros(N - n_out, int), np.ones(n_out, int)]
    order = rng.permutation(N)
    return X[order], y[order]


def drama2_ae(seed):
    return AERecon(model="ae", n_components=8, random_state=seed, device="cpu",
                   model_params=dict(hidden_sizes=(64,), activation="relu", max_epochs=EPOCHS, batch_size=BATCH,
                                     learning_rate=LR, weight_decay=WEIGHT_DECAY, validation_fraction=0.0,
                                     patience=EPOCHS + 1))


def pyod_ae(seed):
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(hidden_neuron_list=[64, 8], hidden_activation_name="relu", batch_norm=False, dropout_rate=0.0,
                       epoch_num=EPOCHS, batch_size=BATCH, lr=LR, optimizer_params={"weight_decay": WEIGHT_DECAY},
                       preprocessing=True, device="cpu", random_state=seed, verbose=0)


def time_fit_score(make, X, y, seed):
    model = make(seed)
    start = time.perf_counter()
    model.fit(X)
    scores = model.decision_function(X)
    return time.perf_counter() - start, auc(y, scores)


def main():
    import pyod

    X, y = make_data()
    runs = {"drama2 ae": [], "PyOD AutoEncoder": []}
    for repeat in range(REPEATS):
        for name, make in (("drama2 ae", drama2_ae), ("PyOD AutoEncoder", pyod_ae)):
            seconds, score = time_fit_score(make, X, y, seed=repeat)
            runs[name].append({"seconds": round(seconds, 3), "auc": round(score, 4)})
            print(name, repeat, runs[name][-1], flush=True)
    summary = {name: {"median_seconds": statistics.median(r["seconds"] for r in rows),
                      "mean_auc": round(float(np.mean([r["auc"] for r in rows])), 4), "runs": rows}
               for name, rows in runs.items()}
    ratio = summary["drama2 ae"]["median_seconds"] / summary["PyOD AutoEncoder"]["median_seconds"]
    machine = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "pyod": pyod.__version__, "platform": platform.platform()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ae_vs_pyod.json").write_text(json.dumps({"machine": machine, "data": [N, D, ANOMALY_SHARE],
                                                         "summary": summary, "time_ratio": round(ratio, 3)},
                                                        indent=2) + "\n")
    lines = [f"50,000 x 20, {EPOCHS} epochs, batch {BATCH}, {REPEATS} repeats, torch threads "
             f"{machine['torch_threads']} on {machine['cpu_count']} cores (torch {machine['torch']}, "
             f"PyOD {machine['pyod']}).", "",
             "| model | fit + score s (median) | AUC (mean) |", "|---|---:|---:|"]
    for name, row in summary.items():
        lines.append(f"| {name} | {row['median_seconds']:.2f} | {row['mean_auc']:.4f} |")
    lines += ["", f"Time ratio drama2 / PyOD: **{ratio:.2f}x**."]
    (RESULTS / "ae_vs_pyod.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
