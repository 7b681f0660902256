"""Issue 5's quality check, read from a `drama2 bench benchmarks/drama-neural.yaml` run directory.

For each reducer (pca, ae, vae) and dataset, the *best-metric configuration* is the metric with the highest
AUC averaged over the seeds (chosen with the labels, as in the DRAMA paper's Table 6). The check: the mean
over the 20 DRAMA ODDS sets of the best-metric AE AUC is at least that of the best-metric PCA AUC. Whole
detectors in the same run (ae-recon, iforest) are shown beside them.

    python benchmarks/neural_quality.py [RUN_DIR]     (default benchmarks/results/drama-neural)

Any reducers of the run are tabulated (e.g. ``ae[prior_weight=0.1]`` from benchmarks/ae-prior-weight.yaml);
the check is made when the run has both ``pca`` and ``ae``.

The check also gets a seed bootstrap of the AE − PCA difference: each dataset's seeds are drawn again
with replacement, the best metric is chosen again on the drawn seeds, and the difference of the two means
is recomputed (2,000 draws, fixed generator). With three seeds per dataset it shows the order of the seed
noise, not a calibrated interval.

Writes RUN_DIR/quality.md and prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from drama2.bench.store import RunStore

#: Bootstrap draws of the seeds, and the generator's seed (the interval is the same on every run).
N_DRAWS, DRAW_SEED = 2000, 0


def best_metric_table(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    drama = ok[ok["scorer"] == "drama"]
    by_metric = drama.groupby(["dataset", "reducer", "metric"])["auc"].mean().reset_index()
    best = by_metric.loc[by_metric.groupby(["dataset", "reducer"])["auc"].idxmax()]
    table = best.pivot(index="dataset", columns="reducer", values="auc")
    metrics = best.pivot(index="dataset", columns="reducer", values="metric")
    others = ok[ok["scorer"] != "drama"].groupby(["dataset", "pipeline"])["auc"].mean().unstack()
    return table.join(others), metrics


def seed_bootstrap(results: pd.DataFrame, a: str = "ae", b: str = "pca") -> np.ndarray:
    """Mean best-metric AUC of ``a`` minus that of ``b`` over the datasets, for each bootstrap draw of seeds."""
    drama = results[(results["status"] == "ok") & (results["scorer"] == "drama") & results["reducer"].isin([a, b])]
    cube = drama.pivot_table(index=["dataset", "reducer", "metric"], columns="seed", values="auc")
    datasets = cube.index.get_level_values("dataset").unique()
    n_seeds = cube.shape[1]
    rng = np.random.default_rng(DRAW_SEED)
    draws = rng.integers(0, n_seeds, size=(N_DRAWS, len(datasets), n_seeds))
    best = {}
    for reducer in (a, b):
        # (datasets, metrics, seeds) AUCs; a metric missing for a dataset never wins.
        values = np.stack([cube.xs((d, reducer), level=("dataset", "reducer")).to_numpy() for d in datasets])
        values = np.nan_to_num(values, nan=-np.inf)
        picked = np.take_along_axis(values[None], draws[:, :, None, :], axis=3)  # (draws, datasets, metrics, seeds)
        best[reducer] = picked.mean(axis=3).max(axis=2).mean(axis=1)
    return best[a] - best[b]


def main(run_dir: Path) -> str:
    results = RunStore(run_dir).read_results()  # results.csv, or the archived results.csv.gz
    table, metrics = best_metric_table(results)
    order = {"pca": 0, "ae": 1, "vae": 2}
    reducers = sorted(results.loc[results["scorer"] == "drama", "reducer"].dropna().unique(),
                      key=lambda r: (order.get(r, 3), r))
    columns = reducers + [c for c in table.columns if c not in reducers]
    seeds = sorted(results["seed"].unique())
    lines = [f"Best-metric DRAMA configuration per reducer (metric chosen per dataset by its mean AUC over seeds "
             f"{', '.join(map(str, seeds))}), beside whole detectors; {len(table)} datasets, transductive, "
             "2 components, split level 1.", "",
             "| dataset | " + " | ".join(f"{c} (best metric)" if c in reducers else c for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for dataset, row in table.iterrows():
        cells = []
        for c in columns:
            value = f"{row[c]:.3f}"
            if c in reducers:
                value += f" ({metrics.loc[dataset, c]})"
            if row[c] == row[columns].max():
                value = f"**{value}**"
            cells.append(value)
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    means = table[columns].mean()
    lines.append("| **mean** | " + " | ".join(f"**{means[c]:.3f}**" for c in columns) + " |")
    ranks = table[columns].rank(axis=1, ascending=False).mean()
    lines.append("| average rank | " + " | ".join(f"{ranks[c]:.2f}" for c in columns) + " |")
    if {"ae", "pca"} <= set(reducers):
        verdict = "met" if means["ae"] >= means["pca"] else "NOT met"
        lines += ["", f"Check (mean best-metric AE AUC >= mean best-metric PCA AUC): {means['ae']:.3f} vs "
                      f"{means['pca']:.3f}, **{verdict}**. AE ahead on "
                      f"{int((table['ae'] > table['pca']).sum())} of {len(table)} datasets, behind on "
                      f"{int((table['ae'] < table['pca']).sum())}."]
        diff = seed_bootstrap(results)
        low, high = np.percentile(diff, [2.5, 97.5])
        lines += ["", f"Seed noise: drawing each dataset's {len(seeds)} seeds again with replacement ({N_DRAWS} "
                      f"draws), the difference AE − PCA ({means['ae'] - means['pca']:+.4f}) ranges over "
                      f"[{low:+.4f}, {high:+.4f}] (2.5–97.5 %), and AE ≥ PCA in {100 * np.mean(diff >= 0):.0f} % "
                      "of the draws."]
    text = "\n".join(lines) + "\n"
    (run_dir / "quality.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "drama-neural"))
