"""Ensemble quality on the 25 ODDS sets: the unsupervised default, how it was chosen, and label-efficient selection.

Reads the member scores cached by ``ensemble_members.py`` (the ``wide`` pool, split protocol: stratified
70/30, min-max scaling fitted on the training part, seeds 1, 2, 3) and evaluates, on the test part:

1. every single member of the pool;
2. the default ``Ensemble()`` (weighted median of the six default members' rank-normalised scores) — its
   columns in the cache are exactly what ``Ensemble()`` computes, since a member's seed derives from its
   label; ``--check`` refits ``Ensemble()`` on two small sets and asserts equal scores;
3. the candidate combination rules considered for the default, with a leave-one-dataset-out estimate of
   the procedure "pick the rule with the best mean AUC on the other 24 sets" (how well a choice made on
   other data generalises);
4. label-efficient selection (``Ensemble.select``, through the same function ``drama2.selection.select_weights``)
   with K = 1, 3, 5, 10, 20 labelled anomalies drawn from the training part (5 draws per seed), for the
   default members and for the wide pool, evaluated on the test part (never labelled);
5. with ``--transductive``: the default ``Ensemble()`` and its members fitted and scored on all rows.

Usage: ``DRAMA2_DATA=../shared/data python benchmarks/ensemble_quality.py [--transductive] [--check]``;
writes ``results/ensemble_quality.md`` and ``results/ensemble_quality.csv``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from drama2 import evaluation, load_dataset
from drama2.datasets.odds import ODDS_FILES
from drama2.ensemble import Ensemble, _parse_members, _weighted_median
from drama2.preprocessing import Scaler
from drama2.selection import select_weights

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "ensemble"
RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = sorted(n for n in ODDS_FILES if n != "speech")
SEEDS = (1, 2, 3)
KS = (1, 3, 5, 10, 20)
DRAWS = 5

DEFAULT = [label for label, *_ in _parse_members("default")]
# The rules considered for the default (member set × combination), before and after looking at ODDS.
CANDIDATE_SETS = {
    "default6": DEFAULT,
    "default6+lof+copod+ecod": DEFAULT + ["lof[n_neighbors=35]", "pyod:COPOD", "pyod:ECOD"],
    "default6+pca-mahalanobis+none-l2+ecod": DEFAULT + ["drama[metric=mahalanobis, reducer=pca]",
                                                       "drama[metric=l2, reducer=none]", "pyod:ECOD"],
    "wide (all 56)": None,
}
COMBINATIONS = ("median", "mean")


def load_cache() -> dict:
    missing = [f"{n}-{s}" for n in DATASETS for s in SEEDS if not (CACHE / f"{n}-{s}.npz").exists()]
    if missing:
        sys.exit(f"missing cached member scores for {missing}; run benchmarks/ensemble_members.py first.")
    cache = {}
    for name in DATASETS:
        for seed in SEEDS:
            z = np.load(CACHE / f"{name}-{seed}.npz", allow_pickle=False)
            cache[name, seed] = {key: z[key] for key in z.files}
            cache[name, seed]["labels"] = [str(x) for x in z["labels"]]
    return cache


def columns(entry: dict, labels) -> list[int]:
    return [entry["labels"].index(label) for label in (labels or entry["labels"]) if label in entry["labels"]]


def combine(S: np.ndarray, how: str) -> np.ndarray:
    return _weighted_median(S, np.full(S.shape[1], 1.0 / S.shape[1])) if how == "median" else S.mean(axis=1)


def per_dataset(cache: dict, score) -> pd.Series:
    """Mean test AUC over seeds of ``score(entry) -> test scores``, per dataset."""
    values = {name: np.mean([evaluation.auc(cache[name, s]["y_test"], score(cache[name, s])) for s in SEEDS])
              for name in DATASETS}
    return pd.Series(values)


def singles(cache: dict) -> pd.DataFrame:
    labels = cache[DATASETS[0], SEEDS[0]]["labels"]
    out = {}
    for label in labels:
        def score(entry, label=label):
            if label not in entry["labels"]:  # a member that failed on this set ranks nothing
                return np.zeros(len(entry["y_test"]))
            return entry["test"][:, entry["labels"].index(label)]
        out[label] = per_dataset(cache, score)
    return pd.DataFrame(out)


def candidates(cache: dict) -> pd.DataFrame:
    out = {}
    for set_name, labels in CANDIDATE_SETS.items():
        for how in COMBINATIONS:
            out[f"{set_name} / {how}"] = per_dataset(
                cache, lambda e, labels=labels, how=how: combine(e["test"][:, columns(e, labels)], how))
    return pd.DataFrame(out)


def leave_one_dataset_out(table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """AUC on each held-out set of the rule with the best mean AUC on the other sets, and that rule."""
    auc, chosen = {}, {}
    for name in table.index:
        rule = table.drop(index=name).mean().idxmax()
        auc[name], chosen[name] = table.loc[name, rule], rule
    return pd.Series(auc), pd.Series(chosen)


def scaled_split(name: str, seed: int):
    """The cached split again, min-max scaled on its training part (the space proximity is measured in)."""
    data = load_dataset(name)
    X_train, X_test, y_train, _ = train_test_split(data.X, data.y, test_size=0.3, stratify=data.y,
                                                   random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = Scaler("minmax").fit(X_train)
    return scaler.to_distance_space(X_train), scaler.to_distance_space(X_test), y_train


def selection(cache: dict, member_set: str) -> pd.DataFrame:
    """Mean test AUC after Ensemble.select with K labelled training anomalies (K = 1 … 20)."""
    rows = []
    for name in DATASETS:
        for seed in SEEDS:
            entry = cache[name, seed]
            X_train, X_test, y_train = scaled_split(name, seed)
            assert np.array_equal(y_train, entry["y_train"]), "the cache and this split disagree"
            idx = columns(entry, DEFAULT if member_set == "default" else None)
            train, test = entry["train"][:, idx], entry["test"][:, idx]
            labels = [entry["labels"][i] for i in idx]
            prior = np.array([1.0 if label in DEFAULT else 0.0 for label in labels])
            anomalies = np.flatnonzero(y_train == 1)
            for k in KS:
                if anomalies.size < k:
                    continue
                rng = np.random.default_rng([seed, k])
                aucs = []
                for _ in range(DRAWS):
                    picked = rng.choice(anomalies, size=k, replace=False)
                    chosen = select_weights(train, picked, prior=prior, Xd=X_train)
                    aucs.append(evaluation.auc(entry["y_test"], chosen.scores(test, X_test)))
                rows.append({"dataset": name, "seed": seed, "k": k, "auc": float(np.mean(aucs))})
    frame = pd.DataFrame(rows).groupby(["dataset", "k"]).auc.mean().unstack("k")
    return frame


def check_default(names=("wine", "vertebral")) -> None:
    """The cached default columns are what Ensemble() computes: refit and compare."""
    for name in names:
        data = load_dataset(name)
        X_train, X_test, _, _ = train_test_split(data.X, data.y, test_size=0.3, stratify=data.y, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Ensemble(random_state=1).fit(X_train)
        z = np.load(CACHE / f"{name}-1.npz")
        labels = [str(x) for x in z["labels"]]
        cached = combine(z["test"][:, [labels.index(label) for label in DEFAULT]], "median")
        assert np.allclose(model.score_samples(X_test), cached), f"{name}: Ensemble() differs from the cache"
        print(f"check: Ensemble() on {name} equals the cached default columns")


def transductive() -> pd.DataFrame:
    """Default ensemble and its members fitted and scored on all rows (seeds 1-3)."""
    rows = []
    for name in DATASETS:
        data = load_dataset(name)
        for seed in SEEDS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = Ensemble(random_state=seed).fit(data.X)
            rows.append({"dataset": name, "seed": seed, "ensemble": evaluation.auc(data.y, model.decision_scores_),
                         **{label: evaluation.auc(data.y, model.train_member_scores_[:, j])
                            for j, label in enumerate(model.member_labels_)}})
            print(f"transductive {name} seed {seed}: {rows[-1]['ensemble']:.3f}", flush=True)
    return pd.DataFrame(rows).groupby("dataset").mean(numeric_only=True).drop(columns="seed")


def average_rank(table: pd.DataFrame) -> pd.Series:
    return table.rank(axis=1, ascending=False).mean().sort_values()


def main(argv: list[str]) -> None:
    cache = load_cache()
    if "--check" in argv:
        check_default()
    single = singles(cache)
    default = per_dataset(cache, lambda e: combine(e["test"][:, columns(e, DEFAULT)], "median"))
    rules = candidates(cache)
    lodo_auc, lodo_rule = leave_one_dataset_out(rules)
    select_default = selection(cache, "default")
    select_wide = selection(cache, "wide")
    trans = transductive() if "--transductive" in argv else None
    write_report(single, default, rules, lodo_auc, lodo_rule, select_default, select_wide, trans)


def _fmt(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"


def write_report(single, default, rules, lodo_auc, lodo_rule, select_default, select_wide, trans) -> None:
    RESULTS.mkdir(exist_ok=True)
    head = pd.concat({"ensemble (default)": default, **{label: single[label] for label in DEFAULT}}, axis=1)
    ranks = average_rank(head)
    oracle = single.max(axis=1)
    lines = [
        "# Ensemble quality on the 25 ODDS sets",
        "",
        "Command: `DRAMA2_DATA=../shared/data python benchmarks/ensemble_members.py` (member scores, cached in "
        "`.cache/ensemble/`), then `DRAMA2_DATA=../shared/data python benchmarks/ensemble_quality.py "
        "--transductive --check`. Split protocol: stratified 70/30, min-max scaling fitted on the training "
        "part, models fitted on it without labels, AUC on the test part, mean over seeds 1, 2, 3.",
        "",
        "## Unsupervised default `Ensemble()` vs its members",
        "",
        f"- default ensemble: mean AUC **{default.mean():.3f}**, average rank **{ranks['ensemble (default)']:.2f}** "
        f"among itself and its {len(DEFAULT)} members",
        f"- best single member of the whole 56-member pool: {single.mean().idxmax()} {single.mean().max():.3f}",
        f"- per-dataset oracle over the pool's single members (chosen with the test labels): {oracle.mean():.3f}",
        f"- leave-one-dataset-out estimate of choosing the rule among the {rules.shape[1]} candidates below: "
        f"**{lodo_auc.mean():.3f}** (rule picked for most held-out sets: {lodo_rule.mode().iloc[0]})",
        "",
        "| detector | mean AUC | average rank |",
        "|---|---:|---:|",
    ]
    for label in ranks.index:
        lines.append(f"| {label} | {head[label].mean():.3f} | {ranks[label]:.2f} |")
    lines += ["", "### Candidate rules (member set / combination), mean AUC", "", "| rule | mean AUC |", "|---|---:|"]
    for rule, value in rules.mean().sort_values(ascending=False).items():
        lines.append(f"| {rule} | {value:.3f} |")
    lines += ["", "### Per dataset", "",
              "| dataset | " + " | ".join(head.columns) + " | pool oracle |",
              "|---|" + "---:|" * (head.shape[1] + 1)]
    for name in head.index:
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in head.loc[name]) + f" | {_fmt(oracle[name])} |")
    lines += ["", "## Label-efficient selection (`Ensemble.select`)", "",
              f"K labelled anomalies drawn from the training part ({DRAWS} draws per seed; sets with fewer "
              "training anomalies than K are left out of that column and the mean says over how many), weights "
              "from `drama2.selection.select_weights` with the defaults (prior strength 1; label weights = each "
              "member's bootstrap probability, over 200 resamples of the labelled anomalies, of having the best "
              "estimated AUC; the labelled-anomaly proximity member from K = 2), combined by weighted mean, AUC on "
              "the test part.",
              "", "| members | " + " | ".join(f"K = {k}" for k in KS) + " |", "|---|" + "---:|" * len(KS)]
    for title, table in (("default (6)", select_default), ("wide (56)", select_wide)):
        cells = [f"{table[k].mean():.3f} ({table[k].notna().sum()} sets)" for k in KS]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", "| dataset | " + " | ".join(f"default K={k}" for k in KS) + " | "
              + " | ".join(f"wide K={k}" for k in KS) + " |", "|---|" + "---:|" * (2 * len(KS))]
    for name in select_wide.index:
        lines.append(f"| {name} | " + " | ".join(_fmt(select_default.loc[name, k]) for k in KS) + " | "
                     + " | ".join(_fmt(select_wide.loc[name, k]) for k in KS) + " |")
    if trans is not None:
        tr_ranks = average_rank(trans)
        lines += ["", "## Transductive (fitted and scored on all rows)", "",
                  f"Default ensemble mean AUC {trans['ensemble'].mean():.3f}.", "",
                  "| detector | mean AUC | average rank |", "|---|---:|---:|"]
        for label in tr_ranks.index:
            lines.append(f"| {label} | {trans[label].mean():.3f} | {tr_ranks[label]:.2f} |")
    (RESULTS / "ensemble_quality.md").write_text("\n".join(lines) + "\n")
    table = pd.concat({"default": default, "lodo": lodo_auc, **{f"select_default_k{k}": select_default[k] for k in KS},
                       **{f"select_wide_k{k}": select_wide[k] for k in KS}}, axis=1)
    table = table.join(single.add_prefix("single:"))
    table.to_csv(RESULTS / "ensemble_quality.csv", float_format="%.4f")
    print("\n".join(lines[:20]))


if __name__ == "__main__":
    main(sys.argv[1:])
