"""Running one job: load the data, apply the protocol, fit once, score, evaluate.

A job never raises for a problem with its own pipeline: the error becomes a
``failed`` row (and incompatible combinations ``skipped`` rows with a reason),
so one bad combination cannot stop a run.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import time
import warnings

import numpy as np

from drama2 import evaluation
from drama2.bench.jobs import Job
from drama2.validation import accepts_parameter

#: Columns of results.csv, in order (the run-directory contract plus context).
RESULT_COLUMNS = ("dataset", "pipeline", "reducer", "metric", "scorer", "params", "split_level", "seed",
                  "protocol", "status", "auc", "ap", "mcc", "rws", "rws_drama", "p_at_n", "fit_seconds",
                  "score_seconds", "labelled_anomalies", "error", "warnings", "n_train", "n_test", "n_features", "n_outliers", "random_state", "job")
SCORE_COLUMNS = ("auc", "ap", "mcc", "rws", "rws_drama", "p_at_n")
SPLIT_TEST_SHARE = 0.3
MAX_ERROR_CHARS = 500


@functools.lru_cache(maxsize=4)
def _load(name: str, data_dir):
    from drama2.datasets import load_dataset

    return load_dataset(name, data_dir=data_dir)


def _base_row(job: Job, metric=None) -> dict:
    row = dict.fromkeys(RESULT_COLUMNS)
    row.update(dataset=job.dataset, pipeline=job.pipeline_of(metric), seed=job.seed, protocol=job.protocol,
               random_state=job.random_state, job=job.key)
    if job.kind == "drama":
        row.update(reducer=job.reducer, metric=metric, scorer="drama", split_level=job.split_level)
    else:
        row.update(scorer=job.scorer, params=str(dict(job.params)) if job.params else "")
    return row


def _rows(job: Job, **fields) -> list[dict]:
    metrics = job.metrics if job.kind == "drama" else (None,)
    return [{**_base_row(job, metric), **fields} for metric in metrics]


def failed_rows(job: Job, exc: BaseException) -> list[dict]:
    """The rows of a job that failed outside :func:`run_job` (its worker died, its result was lost)."""
    rows = _rows(job, status="failed", error=_error_text(exc))
    for row in rows:
        row["warnings"] = None
    return rows


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def _split(job: Job, X, y):
    """Train/test data and labels under the job's protocol (stratified 70/30 for ``split``)."""
    if job.protocol == "transductive":
        return X, X, y, y
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=SPLIT_TEST_SHARE, stratify=y,
                                                        random_state=job.split_state)
    return X_train, X_test, y_train, y_test


def incompatibility(job: Job, dataset) -> str | None:
    """Why ``job`` cannot run on ``dataset`` (recorded as a skip), or None."""
    if dataset.y is None:
        return "the dataset has no anomaly labels to evaluate against"
    if job.protocol == "split" and min(dataset.n_outliers, len(dataset.y) - dataset.n_outliers) < 4:
        return "too few anomalies for a stratified 70/30 split"
    n, d = dataset.X.shape
    if job.kind == "drama":
        params = job.drama_settings()
        reducer = job.reducer_spec.name
        n_components = params.get("n_components", 2)
        if reducer != "none" and n_components > d:
            return f"n_components={n_components} exceeds the {d} features"
        if reducer == "nmf" and params.get("scaling") in ("standard", "robust"):
            return f"nmf needs non-negative input, which scaling={params['scaling']!r} does not give"
        image_shape = dict(params.get("reducer_params") or {}).get("image_shape")
        if reducer.startswith("conv2d-") and image_shape is None and math.isqrt(d) ** 2 != d:
            return f"{reducer} needs square images or reducer_params.image_shape; rows have {d} features"
    else:
        n_train = n if job.protocol == "transductive" else int(n * (1 - SPLIT_TEST_SHARE))
        k = dict(job.params).get("n_neighbors")
        if k is not None and k >= n_train:
            return f"n_neighbors={k} needs more than {n_train} training rows"
    return None


def _make_scorer(job: Job, device: str):
    from drama2.registry import get_registry

    cls = get_registry().load("scorers", job.scorer)
    params = dict(job.params)
    for name, value in (("random_state", job.random_state), ("device", device)):
        if name not in params and accepts_parameter(cls, name):
            params[name] = value
    return cls(**params)


def _evaluate(row: dict, y, scores, score_seconds: float) -> dict:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(y),):
        raise ValueError(f"{row['pipeline']} returned scores of shape {scores.shape} for {len(y)} rows; a scorer's "
                         "score_samples must return one score per row")
    if not np.isfinite(scores).all():
        raise FloatingPointError(f"{int((~np.isfinite(scores)).sum())} scores are not finite")
    return {**row, **evaluation.evaluate(y, scores), "score_seconds": score_seconds, "status": "ok"}


def run_job(job: Job, data_dir=None, device: str = "auto") -> list[dict]:
    """Run one job and return its result rows (one per metric for DRAMA jobs).

    Parameters
    ----------
    job : Job
    data_dir : str, optional
        Searched for dataset files before ``$DRAMA2_DATA``.
    device : str
        Torch device for the models that take one.

    Returns
    -------
    list of dict
        Rows with the columns of :data:`RESULT_COLUMNS`; ``status`` is ok, failed or skipped, and
        ``warnings`` holds the distinct warnings the job raised (kept with the result, not printed).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = _run_job(job, data_dir, device)
    messages = "; ".join(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    for row in rows:
        row["warnings"] = messages[:MAX_ERROR_CHARS] or None
    return rows


def _run_job(job: Job, data_dir, device) -> list[dict]:
    try:
        dataset = _load(job.dataset, data_dir)
    except Exception as exc:  # a missing or corrupt file fails this job, not the run
        return _rows(job, status="failed", error=_error_text(exc))
    reason = incompatibility(job, dataset)
    if reason:
        return _rows(job, status="skipped", error=reason)
    X_train, X_test, y_train, y_test = _split(job, dataset.X, dataset.y)
    context = dict(n_train=len(X_train), n_test=len(X_test), n_features=dataset.X.shape[1],
                   n_outliers=int(y_test.sum()))
    try:
        model, X_train, X_test = _build(job, device, X_train, X_test)
        start = time.perf_counter()
        model.fit(X_train)
        fit_seconds = time.perf_counter() - start
    except Exception as exc:
        return _rows(job, status="failed", error=_error_text(exc), **context)
    rows = []
    # Transductive: the scored rows are the fitted ones. A scorer's own training scores treat them as such
    # (kNN and LOF leave a row out of its own neighbours); scoring them again as new rows would not.
    training_scores = getattr(model, "decision_scores_", None) if job.protocol == "transductive" else None
    for row in _rows(job, fit_seconds=fit_seconds, **context):
        try:
            start = time.perf_counter()
            if job.kind == "drama":
                scores = model.score_samples(X_test, metric=row["metric"])
            elif training_scores is not None:
                scores = np.asarray(training_scores)
            else:
                scores = model.score_samples(X_test)
            rows.append(_evaluate(row, y_test, scores, time.perf_counter() - start))
        except Exception as exc:
            rows.append({**row, "status": "failed", "error": _error_text(exc)})
    for k in job.labelled if hasattr(model, "select") else ():  # only scorers with label-aware selection
        rows.append(_labelled_row(job, k, model, X_train, y_train, X_test, y_test,
                                  {**_rows(job, fit_seconds=fit_seconds, **context)[0]}))
    return rows


def _labelled_row(job: Job, k: int, model, X_train, y_train, X_test, y_test, row: dict) -> dict:
    """Label-efficient selection with ``k`` labelled training anomalies, evaluated on rows never labelled."""
    row.update(pipeline=job.pipeline_of(labelled=k), labelled_anomalies=k)
    candidates = np.flatnonzero(np.asarray(y_train) == 1)
    if candidates.size < k:
        return {**row, "status": "skipped",
                "error": f"only {candidates.size} training anomalies, fewer than the {k} to label"}
    rng = np.random.default_rng(_labelled_seed(job, k))
    picked = rng.choice(candidates, size=k, replace=False)
    try:
        selector = copy.deepcopy(model)  # every K starts from the unsupervised model
        selector.select(X_train, picked)
        start = time.perf_counter()
        if job.protocol == "transductive":  # the labelled rows are in the scored set: leave them out
            keep = np.ones(len(y_test), dtype=bool)
            keep[picked] = False
            y_eval = np.asarray(y_test)[keep]
            scores = np.asarray(selector.decision_scores_)[keep]  # the fitted rows' own scores, as above
        else:
            y_eval = y_test
            scores = selector.score_samples(X_test)
        return _evaluate({**row, "n_test": len(y_eval), "n_outliers": int(np.sum(y_eval))}, y_eval, scores,
                         time.perf_counter() - start)
    except Exception as exc:
        return {**row, "status": "failed", "error": _error_text(exc)}


def _labelled_seed(job: Job, k: int) -> int:
    # From the job's settings and K alone: the same K draws the same rows whatever other K the run has.
    digest = hashlib.sha256(json.dumps([job.random_state, k, "labelled"]).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _build(job: Job, device: str, X_train, X_test):
    """The job's model, and the data it sees (scorers get min-max scaling fitted on train under ``split``)."""
    if job.kind == "drama":
        from drama2.engine import Drama

        params = job.drama_settings()
        # The fit's metric only checks the fit; the built-in l2 by its qualified name, which a plugin's "l2"
        # cannot make ambiguous (and a failing metric of the sweep fails its own rows, not the fit).
        params.setdefault("metric", "drama2:l2")
        model = Drama(reducer=job.reducer_spec.name, split_levels=job.split_level, device=device,
                      random_state=job.random_state, **params)
        # Import the components now, so the first job's fit time is not charged with the imports.
        from drama2.registry import get_registry

        import drama2.metrics  # noqa: F401
        get_registry().load("reducers", model.reducer)
        get_registry().load("clusterers", model.clusterer)
        return model, X_train, X_test
    model = _make_scorer(job, device)
    if job.protocol == "split":
        from sklearn.preprocessing import MinMaxScaler

        scaler = MinMaxScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return model, X_train, X_test
