"""The detector contract, implemented once: validation, thresholds, training scores, predict.

Subclasses implement :meth:`BaseDetector._fit` and :meth:`BaseDetector._score`
(and :meth:`BaseDetector._train_scores` when a training row must not be its
own neighbour); :class:`BaseDetector` does everything else.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from drama2.device import check_random_state, like_input, seed_from
from drama2.errors import InvalidInputError
from drama2.outputs import ScoreOutputsMixin
from drama2.persistence import Saveable
from drama2.validation import (check_array, check_feature_names, check_is_fitted, check_n_features, reference_medians,
                               rows_digest, set_feature_names)

__all__ = ["BaseDetector", "check_contamination", "contamination_threshold"]


def check_contamination(value: Any) -> float | str:
    """Return a valid ``contamination`` setting or raise :class:`InvalidInputError`.

    Parameters
    ----------
    value : float or "auto"
        A share of anomalies in (0, 0.5], or ``"auto"`` for Tukey's fence.

    Returns
    -------
    float or str
        ``value`` as a Python float, or ``"auto"``.
    """
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < value <= 0.5:
        return float(value)
    raise InvalidInputError(f"contamination must be a float in (0, 0.5] or 'auto', got {value!r}.")


def contamination_threshold(scores: np.ndarray, contamination: float | str) -> float:
    """Score above which a sample is flagged, from the training scores.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Anomaly scores of the training data (higher = more anomalous).
    contamination : float in (0, 0.5] or "auto"
        A float flags that share of the training data: the threshold is the
        ``100 * (1 - contamination)`` percentile of ``scores``. ``"auto"`` uses
        Tukey's fence ``Q3 + 1.5 * (Q3 - Q1)``, which needs no guess of the share.

    Returns
    -------
    float
        The threshold; :meth:`BaseDetector.predict` flags scores strictly above it.
    """
    contamination = check_contamination(contamination)
    scores = np.asarray(scores, dtype=np.float64)
    if contamination == "auto":
        q1, q3 = np.percentile(scores, [25, 75])
        return float(q3 + 1.5 * (q3 - q1))
    return float(np.percentile(scores, 100.0 * (1.0 - contamination)))


class BaseDetector(ScoreOutputsMixin, Saveable, BaseEstimator):
    """Base class of drama2's scorers: the detector contract via template methods.

    ``fit(X, y=None)`` validates ``X`` and ``contamination``, calls
    :meth:`_check_params`, :meth:`_fit` and :meth:`_train_scores`, then sets
    ``decision_scores_``, ``threshold_``, ``labels_`` and ``n_features_in_``.
    Scoring validates the data (finite, same number of features) and calls
    :meth:`_score`. Scores are higher = more anomalous.

    Subclasses keep the scikit-learn rules: ``__init__`` only stores its
    arguments, which must include ``contamination`` (and ``random_state`` for
    randomised detectors); fitted attributes end in ``_``. ``fit`` runs the
    hooks on a shallow copy and takes its attributes only when every step
    succeeded, so hooks must store new objects rather than mutate shared ones.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training data.
    threshold_ : float
        Score above which :meth:`predict` flags a sample (see :func:`contamination_threshold`).
    labels_ : ndarray of shape (n_samples,)
        0/1 flags of the training data.
    n_features_in_ : int
        Number of features seen in ``fit``.
    reference_medians_ : ndarray of shape (n_features,)
        Per-feature medians of the training data (of 100,000 evenly spaced rows when there are more), the
        values :func:`drama2.explain` puts in place of a feature; saved with the model.
    """

    # -- to implement ------------------------------------------------------------------
    def _check_params(self, X: np.ndarray) -> None:
        """Validate the subclass's parameters against the training data; raise :class:`InvalidInputError`."""

    def _fit(self, X: np.ndarray, rng_seed: int | None) -> None:
        """Fit the model on validated ``X`` and store it in attributes ending in ``_``.

        ``rng_seed`` is an int derived from ``random_state`` (the int itself
        when one was given), or None for estimators without ``random_state``.
        """
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of validated new data ``X`` (higher = more anomalous)."""
        raise NotImplementedError

    def _train_scores(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of the training data; override when they differ from scoring ``X`` as new data."""
        return self._score(X)

    # -- the contract --------------------------------------------------------------------
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _rng_seed(self) -> int | None:
        if not hasattr(self, "random_state"):
            return None
        # An int is passed through unchanged, so random_state=0 reproduces the wrapped library's
        # random_state=0; None and Generators give a fresh seed without touching global RNGs.
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(self.random_state, bool):
            return int(self.random_state)
        return seed_from(check_random_state(self.random_state))

    def fit(self, X, y=None):
        """Fit the detector on ``X`` (labels are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN or infinite values are an error.
        y : ignored
            Accepted for scikit-learn pipelines.

        Returns
        -------
        self
        """
        contamination = check_contamination(self.contamination)
        data = X
        X = check_array(X, estimator=self._name)
        self._check_params(X)
        # Fit a shallow copy so a fit that fails midway leaves the previous fit intact.
        work = copy.copy(self)
        work._fit(X, self._rng_seed())
        scores = self._finite(np.asarray(work._train_scores(X), dtype=np.float64).reshape(-1))
        work.n_features_in_ = X.shape[1]
        set_feature_names(work, data)
        work.decision_scores_ = scores
        work._fit_rows_digest = rows_digest(X)  # lets an active session check that it was given these rows
        work.reference_medians_ = reference_medians(X)  # what explanations replace a feature with
        work.threshold_ = contamination_threshold(scores, contamination)
        work.labels_ = (scores > work.threshold_).astype(np.int64)
        self.__dict__.clear()  # the work copy holds every attribute; this also drops forgotten ones
        self.__dict__.update(work.__dict__)
        return self

    def _finite(self, scores: np.ndarray) -> np.ndarray:
        # NaN would rank anywhere and inf breaks thresholds; refuse them instead of passing them on.
        bad = ~np.isfinite(scores)
        if bad.any():
            raise InvalidInputError(
                f"{self._name} produced {int(bad.sum())} non-finite scores out of {scores.size}; it cannot score "
                "this data as given (constant columns and heavily duplicated rows are the usual causes). "
                "Drop constant columns or use another detector."
            )
        return scores

    def _scores(self, X) -> np.ndarray:
        check_is_fitted(self, "decision_scores_")
        check_feature_names(self, X, name=self._name)
        X = check_array(X, estimator=self._name)
        check_n_features(X, self.n_features_in_, estimator=self._name)
        return self._finite(np.asarray(self._score(X), dtype=np.float64).reshape(-1))

    def score_samples(self, X):
        """Anomaly score of each sample (higher = more anomalous).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Data with the training data's features, in the same order.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores; a tensor on ``X``'s device, of ``X``'s floating
            dtype, when ``X`` is a tensor.
        """
        return like_input(self._scores(X), X)

    def decision_function(self, X):
        """Same as :meth:`score_samples` (PyOD convention: higher = more anomalous).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Data with the training data's features, in the same order.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores; a tensor on ``X``'s device, of ``X``'s floating
            dtype, when ``X`` is a tensor.
        """
        return self.score_samples(X)

    def predict(self, X) -> np.ndarray:
        """0/1 flags: 1 where the anomaly score exceeds ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), int64
        """
        return (self._scores(X) > self.threshold_).astype(np.int64)

