"""Simulated discovery runs: datasets × seeds, a simulated expert, and the three reference curves.

For each dataset and seed an :class:`~drama2.ensemble.Ensemble` is fitted once
on all rows (transductive protocol, SPEC §5) and every updater × strategy
runs its own :class:`~drama2.active.ActiveSession` on it with
``Oracle.from_labels(y)``. The curves are compared with the frozen initial
ranking ("static", ties as expected values), random querying
(``k · prevalence``) and the optimum (``min(k, n_anomalies)``).

Each finished (dataset, seed) is saved at once under ``out_dir/runs/``, so an
interrupted run resumes where it stopped; ``results.csv``, ``curves.csv``,
``report.md`` and ``figures/`` are rebuilt at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["simulate", "run_one", "BUDGETS"]

#: Budgets reported as found@B.
BUDGETS = (10, 50, 100)


def _as_list(value, what: str) -> list:
    if isinstance(value, str):
        from drama2.bench.config import parse_list

        value = parse_list(value)
    items = list(value)
    if not items:
        raise InvalidInputError(f"{what} is empty.")
    return items


def _summary_row(base: dict, curve: np.ndarray, static: np.ndarray, n_anomalies: int) -> dict:
    from drama2 import evaluation as ev

    row = dict(base)
    for b in BUDGETS:
        row[f"found_at_{b}"] = ev.found_at(curve, b) if b <= curve.size else float("nan")
    row["found_at_budget"] = float(curve[-1]) if curve.size else 0.0
    row["normalised_auc"] = ev.normalised_discovery_auc(curve, n_anomalies) if curve.size else float("nan")
    row["lift_vs_static"] = ev.lift(curve, static) if curve.size else float("nan")
    first = np.flatnonzero(curve >= 1)
    row["first_anomaly"] = float(first[0] + 1) if first.size else float("nan")  # expected curves may be fractional
    return row


def run_one(ensemble, X, y, *, updaters, strategies, budget: int, batch_size: int = 1, seed: int = 0,
            base: dict | None = None) -> tuple[list[dict], dict]:
    """All sessions on one fitted ensemble: summary rows and curves, references included.

    Parameters
    ----------
    ensemble : fitted Ensemble
        Fitted on ``X`` (the sessions use its training scores).
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
        0/1 labels.
    updaters, strategies : list of str
        Every combination runs.
    budget : int
        Queries per session (capped at the number of rows).
    batch_size : int, default 1
    seed : int, default 0
        The sessions' random_state.
    base : dict, optional
        Columns copied into every summary row (dataset, seed, ...).

    Returns
    -------
    rows : list of dict
        One per method (``updater/strategy``, ``static``, ``random``, ``optimal``).
    curves : dict of str to list of float
        The discovery curve of every method.
    """
    from drama2 import evaluation as ev
    from drama2.active.oracles import Oracle
    from drama2.active.session import ActiveSession
    from drama2.active.updaters import auto_updater

    y = np.asarray(y).astype(np.int64)
    n, n_anomalies = y.size, int(y.sum())
    budget = min(int(budget), n)
    base = dict(base or {}, n_rows=n, n_anomalies=n_anomalies, budget=budget, batch_size=batch_size)
    static = ev.ranking_discovery_curve(y, ensemble.decision_scores_, budget)
    curves = {"static": static,
              "random": ev.random_discovery_curve(n_anomalies, n, budget),
              "optimal": ev.optimal_discovery_curve(n_anomalies, budget)}
    timing = {}
    for updater in updaters:
        for strategy in strategies:
            name = auto_updater(ensemble) if updater == "auto" else updater  # reported as the updater chosen
            method = f"{name}/{strategy}"
            if method in curves:  # "auto" beside the updater it chose: that session runs once
                continue
            start = time.perf_counter()
            session = ActiveSession(ensemble, X, updater=name, strategy=strategy, random_state=seed,
                                    fitted_on_X=True)
            oracle = Oracle.from_labels(y)
            updates = []
            while session.n_answered < budget:  # session.run, keeping each update's time
                queries = session.ask(min(batch_size, budget - session.n_answered))
                if not queries:
                    break
                session.tell(oracle(queries))
                updates.append(session.last_update_seconds)
            curves[method] = session.record.curve
            timing[method] = (time.perf_counter() - start, 1e3 * float(np.mean(updates)) if updates else 0.0)
    rows = []
    for method, curve in curves.items():
        updater, _, strategy = method.partition("/")
        extra = {"method": method, "updater": updater if strategy else "", "strategy": strategy,
                 "session_seconds": timing.get(method, (float("nan"),))[0],
                 "mean_update_ms": timing.get(method, (None, float("nan")))[1]}
        rows.append(_summary_row({**base, **extra}, np.asarray(curve, dtype=np.float64), static, n_anomalies))
    return rows, {k: [float(v) for v in c] for k, c in curves.items()}


def _config_key(members, updaters, strategies, budget, batch_size, detector=None) -> str:
    parts = [members if isinstance(members, str) else [str(m) for m in members], updaters, strategies, budget,
             batch_size]
    if detector is not None:  # absent from older keys, so their saved runs stay valid
        parts.append(str(detector))
    text = json.dumps(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_seeds(values) -> list[int]:
    seeds = []
    for value in values:
        try:
            seed = int(value)
        except (TypeError, ValueError):
            seed = -1
        if isinstance(value, bool) or seed < 0 or seed != value:
            raise InvalidInputError(f"seeds must be non-negative integers, got {value!r}.")
        seeds.append(seed)
    return list(dict.fromkeys(seeds))


def _load_labelled(name: str, data_dir):
    """The dataset and its fingerprint; an unlabelled dataset is an error."""
    from drama2.datasets import load_dataset

    data = load_dataset(name, data_dir=data_dir)
    if data.y is None:
        raise InvalidInputError(f"dataset {name!r} has no labels, so an expert cannot be simulated.")
    return data, _data_fingerprint(data)


def _data_fingerprint(data) -> str:
    """sha256 of a dataset's rows and labels: a saved run is reused only on the data it was computed on."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(data.X, dtype=np.float64), np.ascontiguousarray(data.y, dtype=np.int64)):
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def simulate(datasets, seeds=(0,), budget: int = 100, updater="auto", strategy="greedy", members="default",
             out_dir="drama2-active", *, detector=None, batch_size: int = 1, data_dir=None, progress: bool = True,
             resume: bool = True):
    """Simulated active discovery over datasets × seeds; writes results, curves, a report and figures.

    Parameters
    ----------
    datasets : str or list of str
        Registered dataset names with labels (comma-separated in a string).
    seeds : int, list of int, or dict of str to list of int, default (0,)
        Seeds for every dataset, or per dataset (datasets not in the dict use seed 0).
        The seed fixes the ensemble's fit and the session's tie-breaking.
    budget : int, default 100
        Queries per session.
    updater, strategy : str or list of str, default "auto", "greedy"
        Every combination runs on the same fit: ``"auto"`` (reported as the updater it
        chose), ``"aad"``, ``"select"``, ``"none"`` × ``"greedy"``, ``"topk"``, ``"diverse"``.
    members : "default", "wide", str or list, default "default"
        Ensemble members (:class:`drama2.ensemble.Ensemble`): a named member set,
        a list of specs, or specs in one comma-separated string.
    out_dir : str or os.PathLike, default "drama2-active"
        Run directory: ``results.csv`` (one row per dataset × seed × method),
        ``curves.csv`` (D(k) per method), ``report.md``, ``figures/<dataset>.png``
        and ``runs/`` (one file per finished dataset × seed).
    detector : str, optional
        One scorer spec (e.g. ``"iforest"``) fitted instead of an ensemble; ``members``
        must then stay ``"default"``. With an isolation forest, ``"aad"`` re-weights its leaves.
    batch_size : int, default 1
        Queries per round.
    data_dir : str, optional
        Searched for dataset files before ``$DRAMA2_DATA``.
    progress : bool, default True
        One line per dataset × seed on stderr.
    resume : bool, default True
        Reuse the saved runs of an earlier call with the same settings.

    Returns
    -------
    pandas.DataFrame
        The contents of ``results.csv``.
    """
    import pandas as pd

    from drama2.active.report import write_report
    from drama2.ensemble import Ensemble

    datasets = list(dict.fromkeys(_as_list(datasets, "datasets")))  # a name given twice runs once
    updaters = [str(u) for u in _as_list(updater, "updater")]
    strategies = [str(s) for s in _as_list(strategy, "strategy")]
    from drama2.active.strategies import STRATEGIES
    from drama2.active.updaters import UPDATERS

    checks = [(u, ["auto", *UPDATERS], "updater") for u in updaters] + [(s, STRATEGIES, "strategy")
                                                                         for s in strategies]
    for name, known, what in checks:
        if name not in known:
            raise InvalidInputError(f"unknown {what} {name!r}; use one of {', '.join(known)}.")
    for name, value in (("budget", budget), ("batch_size", batch_size)):  # checked before any data is loaded
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer, got {value!r}.")
    if isinstance(seeds, dict):
        seed_map = {d: _check_seeds(seeds.get(d, (0,))) for d in datasets}
    else:
        seeds = [seeds] if isinstance(seeds, (int, np.integer)) else _as_list(seeds, "seeds")
        seed_map = {d: _check_seeds(seeds) for d in datasets}
    from drama2.ensemble import MEMBER_SETS

    if detector is not None and not (isinstance(members, str) and members == "default"):
        raise InvalidInputError(f"members={members!r} applies to the ensemble, but detector={detector!r} replaces "
                                "it; give one or the other.")
    if isinstance(members, str) and members not in MEMBER_SETS:  # "default", "wide", or a list of specs
        from drama2.bench.config import parse_list

        members = parse_list(members)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"out_dir {out} is a file; give a folder for the run (it is created if missing).")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    if detector is not None:
        from drama2.detect import make_detector

        make_detector(detector)  # a bad spec fails here, before any data is loaded
    key = _config_key(members, updaters, strategies, int(budget), int(batch_size), detector)
    rows, curves = [], []
    total = sum(len(s) for s in seed_map.values())
    done = 0
    for name in datasets:
        data = None
        for seed in seed_map[name]:
            done += 1
            path = out / "runs" / f"{name}-seed{seed}.json"
            saved = json.loads(path.read_text()) if resume and path.exists() else {}
            if saved.get("config") == key:
                # Same settings; where the run recorded its data, also the same rows and labels (runs saved
                # before fingerprints were recorded are trusted on their settings).
                if "data" in saved and data is None:
                    data, fingerprint = _load_labelled(name, data_dir)
                if "data" not in saved or saved["data"] == fingerprint:
                    rows += saved["rows"]
                    curves += saved["curves"]
                    _say(progress, f"[{done}/{total}] {name} seed {seed}: done earlier")
                    continue
            if data is None:
                data, fingerprint = _load_labelled(name, data_dir)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if detector is None:
                    ensemble = Ensemble(members=members, random_state=seed).fit(data.X)
                else:
                    ensemble = make_detector(detector, random_state=seed).fit(data.X)
            fit_seconds = time.perf_counter() - start
            run_rows, run_curves = run_one(ensemble, data.X, data.y, updaters=updaters, strategies=strategies,
                                           budget=int(budget), batch_size=int(batch_size), seed=seed,
                                           base={"dataset": name, "seed": seed, "n_members":
                                                 len(getattr(ensemble, "member_labels_", (detector,))),
                                                 "fit_seconds": fit_seconds})
            run_curve_rows = [{"dataset": name, "seed": seed, "method": method, "curve": curve}
                              for method, curve in run_curves.items()]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"config": key, "data": fingerprint, "rows": run_rows,
                                       "curves": run_curve_rows}))
            os.replace(tmp, path)
            rows += run_rows
            curves += run_curve_rows
            found = ", ".join(f"{r['method']} {r['found_at_budget']:.0f}" for r in run_rows
                              if r["method"] not in ("random", "optimal"))
            _say(progress, f"[{done}/{total}] {name} seed {seed}: fit {fit_seconds:.1f} s; found in "
                           f"{run_rows[0]['budget']} queries: {found}")
    results = pd.DataFrame(rows)
    results.to_csv(out / "results.csv", index=False)
    long = pd.DataFrame([{"dataset": c["dataset"], "seed": c["seed"], "method": c["method"], "k": k,
                          "found": value} for c in curves for k, value in enumerate(c["curve"], 1)])
    long.to_csv(out / "curves.csv", index=False)
    config = {"datasets": datasets, "seeds": seed_map, "budget": int(budget), "updaters": updaters,
              "strategies": strategies, "members": members if detector is None else None,
              "detector": detector, "batch_size": int(batch_size)}
    report = write_report(results, long, out, config)
    _say(progress, f"results: {out / 'results.csv'}; report: {report}")
    return results
