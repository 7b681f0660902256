"""Report of a simulated discovery run: a markdown summary and one discovery-curve figure per dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_report", "plot_dataset", "summary_table"]

REFERENCES = ("static", "random", "optimal")


def _active_methods(results) -> list[str]:
    return [m for m in dict.fromkeys(results["method"]) if m not in REFERENCES]


#: The query counts found@k is reported at (those within the budget).
HORIZONS = (10, 50, 100)


def headline_horizon(budget: int) -> int | None:
    """The query count the headline reports: 50, or 10 when the budget is below 50; None below 10."""
    within = [b for b in HORIZONS if b <= budget]
    return 50 if 50 in within else within[-1] if within else None


def summary_table(results, budget: int = 50):
    """Mean found@``budget`` per dataset (rows) and method (columns), with the ratio of each active method to static.

    Parameters
    ----------
    results : pandas.DataFrame
        ``results.csv`` of :func:`drama2.active.simulate`.
    budget : int, default 50

    Returns
    -------
    pandas.DataFrame
    """
    column = f"found_at_{budget}"
    table = results.pivot_table(index="dataset", columns="method", values=column, aggfunc="mean", sort=False)
    order = _active_methods(results) + [m for m in REFERENCES if m in table.columns]
    table = table[order]
    for method in _active_methods(results):
        table[f"{method} ÷ static"] = table[method] / table["static"]
    return table


def plot_dataset(curves, dataset: str, path: Path) -> Path:
    """Mean discovery curves of every method on one dataset (mean over seeds, shaded min–max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = curves[curves["dataset"] == dataset]
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"optimal": ("k", ":"), "random": ("grey", "--"), "static": ("tab:blue", "-")}
    palette = iter(["tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive"])
    for method in dict.fromkeys(sub["method"]):
        by_k = sub[sub["method"] == method].groupby("k")["found"]
        k, mean = by_k.mean().index.to_numpy(), by_k.mean().to_numpy()
        color, style = styles[method] if method in styles else (next(palette, "tab:cyan"), "-")
        label = "static (frozen initial ranking)" if method == "static" else method
        ax.plot(k, mean, color=color, linestyle=style, label=label, linewidth=1.6)
        if method not in ("random", "optimal"):
            ax.fill_between(k, by_k.min().to_numpy(), by_k.max().to_numpy(), color=color, alpha=0.12, linewidth=0)
    n_seeds = sub["seed"].nunique()
    ax.set(xlabel="queries k", ylabel="anomalies found D(k)",
           title=f"{dataset}: mean over {n_seeds} seed{'s' if n_seeds > 1 else ''} (band: min–max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(value) -> str:
    return "–" if value is None or value != value else f"{value:.1f}"


def write_report(results, curves, out_dir, config: dict) -> Path:
    """Write ``report.md`` and ``figures/<dataset>.png`` into ``out_dir``; return the report's path."""
    out = Path(out_dir)
    active = _active_methods(results)
    methods = active + list(REFERENCES)
    lines = ["# Active discovery (simulated expert)", "",
             f"Budget {config['budget']} queries, batch size {config['batch_size']}; updaters "
             f"{', '.join(config['updaters'])} × strategies {', '.join(config['strategies'])}; "
             + (f"detector: `{config['detector']}`" if config.get("detector") else
                f"ensemble members: `{config['members']}`")
             + ". Transductive: each detector is fitted on all rows and every row can be "
             "queried. *static* = querying in the order of the frozen initial ranking (tied scores as expected "
             "values); *random* = k · prevalence; *optimal* = min(k, anomalies).", ""]
    budgets = [b for b in HORIZONS if b <= config["budget"]]
    headline = headline_horizon(config["budget"])
    if headline is not None and active:
        table = summary_table(results, headline)
        lines += [f"## Headline: anomalies found within {headline} queries (mean over seeds)", ""]
        for method in active:
            ratios = table[f"{method} ÷ static"].replace([np.inf, -np.inf], np.nan)
            lines.append(f"- **{method}**: {table[method].mean():.1f} vs static {table['static'].mean():.1f} "
                         f"(ratio of means {table[method].mean() / table['static'].mean():.2f}; mean per-dataset "
                         f"ratio {ratios.mean():.2f}; better than static on {(table[method] > table['static']).sum()}"
                         f" of {len(table)} datasets)")
        lines.append("")
    lines += ["## Per dataset", "",
              "found@B = anomalies among the first B queries, mean over seeds; nAUC = area under the discovery "
              "curve over the optimal area; lift = found@budget ÷ static's; first = queries to the first anomaly.",
              ""]
    head = ["dataset", "n", "anomalies", "seeds", "method"] + [f"found@{b}" for b in budgets] + ["nAUC", "lift",
                                                                                                 "first"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dataset in dict.fromkeys(results["dataset"]):
        sub = results[results["dataset"] == dataset]
        first_row = sub.iloc[0]
        for method in methods:
            m = sub[sub["method"] == method]
            if m.empty:
                continue
            cells = [dataset, str(int(first_row["n_rows"])), str(int(first_row["n_anomalies"])),
                     str(m["seed"].nunique()), f"**{method}**" if method in active else method]
            cells += [_fmt(m[f"found_at_{b}"].mean()) for b in budgets]
            cells += [f"{m['normalised_auc'].mean():.3f}", f"{m['lift_vs_static'].replace(np.inf, np.nan).mean():.2f}",
                      _fmt(m["first_anomaly"].mean())]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Figures", ""]
    for dataset in dict.fromkeys(results["dataset"]):
        path = plot_dataset(curves, dataset, out / "figures" / f"{dataset}.png")
        lines.append(f"![{dataset}](figures/{path.name})")
    if active:
        timing = results[results["method"].isin(active)].groupby("method")[["mean_update_ms", "session_seconds"]].mean()
        lines += ["", "## Time", "", "| method | mean update (ms) | mean session (s) |", "|---|---|---|"]
        lines += [f"| {m} | {r.mean_update_ms:.1f} | {r.session_seconds:.2f} |" for m, r in timing.iterrows()]
        fit = results.groupby("dataset")["fit_seconds"].mean()
        lines += ["", "Mean ensemble fit time per dataset (s): "
                  + ", ".join(f"{d} {s:.1f}" for d, s in fit.items()) + ". The first fit of a process also "
                  "pays one-off start-up costs, which land on the first dataset and seed run (PyOD's HBOS "
                  "compiles with numba: 3 s on a 2-core test machine)."]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
