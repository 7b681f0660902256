"""Issue 5's quality check, read from a `drama2 bench benchmarks/drama-neural.yaml` run directory.

For each reducer (pca, ae, vae) and dataset, the *best-metric configuration* is the metric with the highest
AUC averaged over the seeds (chosen with the labels, as in the DRAMA paper's Table 6). The check: the mean
over the 20 DRAMA ODDS sets of the best-metric AE AUC is at least that of the best-metric PCA AUC. Whole
detectors in the same run (ae-recon, iforest) are shown beside them.

    python benchmarks/neural_quality.py [RUN_DIR]     (default benchmarks/results/drama-neural)

Any reducers of the run are tabulated (e.g. ``ae[prior_weight=0.1]`` from benchmarks/ae-prior-weight.yaml);
the check is made when the run has both ``pca`` and ``ae``.

Writes RUN_DIR/quality.md and prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def best_metric_table(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    drama = ok[ok["scorer"] == "drama"]
    by_metric = drama.groupby(["dataset", "reducer", "metric"])["auc"].mean().reset_index()
    best = by_metric.loc[by_metric.groupby(["dataset", "reducer"])["auc"].idxmax()]
    table = best.pivot(index="dataset", columns="reducer", values="auc")
    metrics = best.pivot(index="dataset", columns="reducer", values="metric")
    others = ok[ok["scorer"] != "drama"].groupby(["dataset", "pipeline"])["auc"].mean().unstack()
    return table.join(others), metrics


def main(run_dir: Path) -> str:
    results = pd.read_csv(run_dir / "results.csv")
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
    text = "\n".join(lines) + "\n"
    (run_dir / "quality.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "drama-neural"))
