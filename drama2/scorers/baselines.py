"""Baseline detectors on scikit-learn: LOF, Isolation Forest and k-nearest-neighbour distance.

All three return higher = more anomalous scores (sklearn's ``score_samples``
is higher = more normal, so it is negated) and follow
:class:`drama2.scorers.base.BaseDetector`.

Heavily duplicated data (e.g. ODDS http) gives finite scores: kNN distances
are simply 0 among duplicates, and LOF keeps scikit-learn's rule of adding
1e-10 to the mean reachability distance, which bounds a local reachability
density by 1e10. A point just outside a block of >= k identical rows thus gets
a huge but finite LOF (order 1e9-1e10) and scikit-learn warns that duplicates
distort the result; a larger ``n_neighbors`` is the remedy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drama2.errors import InvalidInputError
from drama2.scorers.base import BaseDetector

__all__ = ["LOF", "IForest", "KNN"]


def _check_int(value: Any, name: str, estimator: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInputError(f"{estimator}: {name} must be an integer >= 1, got {value!r}.")
    return int(value)


def _check_n_neighbors(k: Any, n_samples: int, estimator: str) -> int:
    k = _check_int(k, "n_neighbors", estimator)
    if n_samples < 2:
        raise InvalidInputError(f"{estimator}: X has {n_samples} row; neighbours need at least 2 training rows.")
    if k >= n_samples:
        raise InvalidInputError(
            f"{estimator}: n_neighbors={k} needs at least {k + 1} training rows (each row's {k} nearest other "
            f"rows), but X has {n_samples}. Use n_neighbors <= {max(n_samples - 1, 1)} or provide more rows."
        )
    return k


class LOF(BaseDetector):
    """Local Outlier Factor (Breunig et al., 2000), on scikit-learn's ``LocalOutlierFactor``.

    The score is the LOF value itself: about 1 for inliers, larger for samples
    whose local density is lower than their neighbours'. Training scores are
    each row's LOF among the other training rows; new data is scored against
    the training rows (scikit-learn's ``novelty=True``), so scoring the training
    rows again is not the same as ``decision_scores_``: each row is then among
    its own neighbours. Use ``decision_scores_`` and ``labels_`` for them.

    Parameters
    ----------
    n_neighbors : int, default 20
        Neighbourhood size k; must be smaller than the number of training rows.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags; ``"auto"`` uses Tukey's fence.
    n_jobs : int or None, default None
        Parallel jobs of the neighbour search (scikit-learn convention).

    Attributes
    ----------
    estimator_ : sklearn.neighbors.LocalOutlierFactor
        The fitted novelty-mode model.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.
    """

    def __init__(self, n_neighbors=20, contamination=0.1, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.n_jobs = n_jobs

    def _check_params(self, X):
        _check_n_neighbors(self.n_neighbors, X.shape[0], self._name)

    def _fit(self, X, rng_seed):
        from sklearn.neighbors import LocalOutlierFactor

        # One novelty fit serves both: negative_outlier_factor_ is still the training rows' LOF
        # (each row excluded from its own neighbourhood), and score_samples handles new data.
        self.estimator_ = LocalOutlierFactor(n_neighbors=int(self.n_neighbors), novelty=True,
                                             n_jobs=self.n_jobs).fit(X)

    def _train_scores(self, X):
        return -self.estimator_.negative_outlier_factor_

    def _score(self, X):
        return -self.estimator_.score_samples(X)


class IForest(BaseDetector):
    """Isolation Forest (Liu, Ting & Zhou, 2008), on scikit-learn's ``IsolationForest``.

    The score is the paper's anomaly score ``s(x) = 2 ** (-E[h(x)] / c(psi))``
    in (0, 1], the negation of scikit-learn's ``score_samples``: near 1 for
    easily isolated samples, below 0.5 for inliers.

    Parameters
    ----------
    n_estimators : int, default 100
        Number of trees.
    max_samples : "auto", int or float, default "auto"
        Rows per tree (psi): ``"auto"`` is min(256, n_samples), an int a
        count (capped at n_samples), a float in (0, 1] a share of the rows.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags; ``"auto"`` uses Tukey's fence.
    random_state : int, numpy Generator or None, default None
        An int gives the same forest as ``IsolationForest(random_state=int)``.
    n_jobs : int or None, default None
        Parallel jobs for fitting and scoring (scikit-learn convention).

    Attributes
    ----------
    estimator_ : sklearn.ensemble.IsolationForest
        The fitted forest.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.
    """

    def __init__(self, n_estimators=100, max_samples="auto", contamination=0.1, random_state=None, n_jobs=None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self, X):
        _check_int(self.n_estimators, "n_estimators", self._name)
        m = self.max_samples
        if isinstance(m, str):
            ok = m == "auto"
        elif isinstance(m, (int, np.integer)) and not isinstance(m, bool):
            ok = m >= 1
        else:
            ok = isinstance(m, (float, np.floating)) and 0 < m <= 1
        if not ok:
            raise InvalidInputError(
                f"{self._name}: max_samples must be 'auto', an integer >= 1 or a float in (0, 1], got {m!r}."
            )

    def _fit(self, X, rng_seed):
        from sklearn.ensemble import IsolationForest

        m = self.max_samples
        # sklearn warns when asked for more rows than exist and then uses them all; do that quietly.
        max_samples = min(int(m), X.shape[0]) if isinstance(m, (int, np.integer)) else m
        self.estimator_ = IsolationForest(n_estimators=int(self.n_estimators), max_samples=max_samples,
                                          random_state=rng_seed, n_jobs=self.n_jobs).fit(X)

    def _score(self, X):
        return -self.estimator_.score_samples(X)


class KNN(BaseDetector):
    """k-nearest-neighbour distance detector (Ramaswamy et al., 2000; Angiulli & Pizzuti, 2002).

    The score is the Euclidean distance to the k-th nearest neighbour
    (``method="largest"``), or the mean or median of the distances to the k
    nearest neighbours. A training row's neighbours are the *other* training
    rows (a duplicate of it still counts, at distance 0); new data's
    neighbours are the k nearest training rows, so scoring the training rows
    again is not the same as ``decision_scores_`` (each row is then its own
    nearest neighbour). Use ``decision_scores_`` and ``labels_`` for them.

    Parameters
    ----------
    n_neighbors : int, default 5
        k; must be smaller than the number of training rows.
    method : {"largest", "mean", "median"}, default "largest"
        How the k distances become one score.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags; ``"auto"`` uses Tukey's fence.
    n_jobs : int or None, default None
        Parallel jobs of the neighbour search (scikit-learn convention).

    Attributes
    ----------
    neighbors_ : sklearn.neighbors.NearestNeighbors
        The search index over the training rows.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.
    """

    _methods = {"largest": lambda d: d[:, -1], "mean": lambda d: d.mean(axis=1),
                "median": lambda d: np.median(d, axis=1)}

    def __init__(self, n_neighbors=5, method="largest", contamination=0.1, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.method = method
        self.contamination = contamination
        self.n_jobs = n_jobs

    def _check_params(self, X):
        _check_n_neighbors(self.n_neighbors, X.shape[0], self._name)
        if self.method not in self._methods:
            raise InvalidInputError(
                f"{self._name}: method must be one of {', '.join(map(repr, self._methods))}, got {self.method!r}."
            )

    def _fit(self, X, rng_seed):
        from sklearn.neighbors import NearestNeighbors

        self.neighbors_ = NearestNeighbors(n_neighbors=int(self.n_neighbors), n_jobs=self.n_jobs).fit(X)

    def _train_scores(self, X):
        # kneighbors() without X queries k + 1 neighbours and drops each row's own index, not every
        # zero distance, so a row's duplicates still count as its neighbours (at distance 0).
        dist, _ = self.neighbors_.kneighbors()
        return self._methods[self.method](dist)

    def _score(self, X):
        dist, _ = self.neighbors_.kneighbors(X)
        return self._methods[self.method](dist)
