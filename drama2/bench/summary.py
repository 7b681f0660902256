"""Tables derived from results.csv: the numbers the report and the terminal summary show.

Scores are averaged over seeds first; "best DRAMA" is the reducer × metric ×
split level with the highest mean score on that dataset — chosen with the
labels, like the DRAMA paper's Table 6, so it is an oracle, not a detector.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

SCORES = ("auc", "mcc", "rws")
BEST_DRAMA = "best DRAMA"


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished, successful evaluations."""
    return frame[frame["status"] == "ok"]


def pipeline_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean scores and times over seeds per (dataset, pipeline), with the pipeline's parts."""
    ok = ok_rows(frame)
    keys = ["dataset", "pipeline"]
    parts = ok.groupby(keys, sort=False)[["scorer", "reducer", "metric", "split_level"]].first()
    values = ok.groupby(keys, sort=False)[list(SCORES) + ["fit_seconds", "score_seconds"]].mean()
    out = parts.join(values).reset_index()
    out["seeds"] = ok.groupby(keys, sort=False)["seed"].nunique().to_numpy()
    return out


def is_drama(means: pd.DataFrame) -> pd.Series:
    """Rows of the DRAMA family grid (reducer × metric), as opposed to whole-detector scorers."""
    return means["reducer"].notna() & means["metric"].notna()


def best_drama(means: pd.DataFrame, score: str = "auc") -> pd.DataFrame:
    """The best DRAMA pipeline per dataset (by ``score``)."""
    drama = means[is_drama(means)]
    if drama.empty:
        return drama
    return drama.loc[drama.groupby("dataset", sort=False)[score].idxmax()].set_index("dataset")


def natural_key(text: str) -> list:
    """Sort key that orders the numbers inside names by value: ``lof[n_neighbors=5]`` before
    ``lof[n_neighbors=10]``, ``ensemble+1lab`` before ``ensemble+10lab``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text))]


def comparison(means: pd.DataFrame, score: str = "auc") -> pd.DataFrame:
    """Datasets × (best DRAMA, each other pipeline) table of ``score``, plus the best DRAMA's name."""
    others = means[~is_drama(means)].pivot(index="dataset", columns="pipeline", values=score)
    others = others[sorted(others.columns, key=natural_key)]
    datasets = list(dict.fromkeys(means["dataset"]))
    table = pd.DataFrame(index=pd.Index(datasets, name="dataset"))
    best = best_drama(means, score)
    if not best.empty:
        table[BEST_DRAMA] = best[score]
        table["best DRAMA configuration"] = best["pipeline"].str.removeprefix("drama-")
    return table.join(others)


def score_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != "best DRAMA configuration"]


def incomplete_datasets(table: pd.DataFrame) -> list:
    """Datasets (rows) where some column has no score, e.g. a K-labelled pipeline skipped for too few anomalies."""
    scores = table[score_columns(table)].astype(float)
    return list(scores.index[scores.isna().any(axis=1)])


def mean_and_rank(table: pd.DataFrame) -> pd.DataFrame:
    """Mean score and average rank (1 = best, ties share the mean rank) of each column over datasets.

    Columns are compared on the datasets every column has a score for (see :func:`incomplete_datasets`):
    a column missing its hardest dataset would otherwise look better than it is. When no dataset has every
    score, each column's mean is over its own datasets.
    """
    scores = table[score_columns(table)].astype(float)
    complete = scores.dropna()
    used = complete if len(complete) else scores
    ranks = used.rank(axis=1, ascending=False, method="average")
    return pd.DataFrame({"mean": used.mean(), "average rank": ranks.mean(), "datasets": used.notna().sum()})


def heatmap(means: pd.DataFrame, dataset: str, score: str = "auc", split_level=None) -> pd.DataFrame:
    """Reducer × metric grid of ``score`` for one dataset (the best split level unless one is given)."""
    drama = means[is_drama(means) & (means["dataset"] == dataset)]
    if split_level is None and not drama.empty:
        split_level = drama.loc[drama[score].idxmax(), "split_level"]
    drama = drama[drama["split_level"] == split_level]
    grid = drama.pivot(index="reducer", columns="metric", values=score)
    reducers = list(dict.fromkeys(drama["reducer"]))
    metrics = list(dict.fromkeys(drama["metric"]))
    grid = grid.reindex(index=reducers, columns=metrics)
    grid.attrs["split_level"] = None if split_level is None else int(split_level)
    return grid


def timings(frame: pd.DataFrame) -> pd.DataFrame:
    """Fit and score time per pipeline family (DRAMA reducer, or scorer), summed and per fit."""
    ok = ok_rows(frame).copy()
    ok["family"] = np.where(is_drama(ok), "drama-" + ok["reducer"].astype(str), ok["pipeline"])
    # A DRAMA fit is shared by its metrics: count its fit time once per job.
    fits = ok.drop_duplicates("job").groupby("family")["fit_seconds"].agg(["count", "sum", "mean"])
    scores = ok.groupby("family")["score_seconds"].sum()
    out = fits.rename(columns={"count": "fits", "sum": "fit s (total)", "mean": "fit s (mean)"})
    out["score s (total)"] = scores
    return out.sort_values("fit s (total)", ascending=False)


def status_counts(frame: pd.DataFrame) -> dict:
    return {status: int(n) for status, n in frame["status"].value_counts().items()}
