"""Evaluate a reducer × metric grid of DRAMA detectors on one labelled dataset.

One fit per reducer is shared by every metric (the split does not depend on
the metric), so a full ten-metric sweep costs about one fit.
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from drama2 import evaluation
from drama2.engine import Drama


def evaluate_grid(X: np.ndarray, y: np.ndarray, reducers: Iterable[str], metrics: Iterable[str], *,
                  faithful: bool = False, **params) -> list[dict]:
    """Fit one Drama per reducer, score with every metric, evaluate against ``y``.

    Parameters
    ----------
    X, y : arrays
        Data and 0/1 labels (labels are used only for evaluation).
    reducers, metrics : iterables of str
        Registered names.
    faithful : bool
        Use :meth:`Drama.original` (the 2019 algorithm) instead of the default configuration.
    **params
        Further :class:`Drama` parameters (e.g. ``split_levels``, ``random_state``).

    Returns
    -------
    list of dict
        One row per (reducer, metric): ``reducer, metric, auc, ap, mcc, rws, rws_drama, p_at_n,
        fit_seconds, score_seconds``.
    """
    metrics = list(metrics)
    rows = []
    for reducer in reducers:
        model = Drama.original(reducer=reducer, **params) if faithful else Drama(reducer=reducer, **params)
        start = time.perf_counter()
        model.fit(X)
        fit_seconds = time.perf_counter() - start
        for metric in metrics:
            start = time.perf_counter()
            scores = model.score_samples(X, metric=metric)
            score_seconds = time.perf_counter() - start
            rows.append({"reducer": reducer, "metric": metric, **evaluation.evaluate(y, scores),
                         "fit_seconds": fit_seconds, "score_seconds": score_seconds})
    return rows
