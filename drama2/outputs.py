"""Outputs derived from a fitted detector's scores: ``fit_predict`` and ``predict_proba``.

Shared by :class:`drama2.Drama` and every :class:`drama2.scorers.BaseDetector`, which both set
``decision_scores_`` (training scores) and ``labels_`` in ``fit`` and score new rows with
``score_samples``. The conversions follow PyOD's, so a user switching from a PyOD detector gets the
same numbers from the same scores.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from drama2.errors import InvalidInputError
from drama2.validation import check_is_fitted

__all__ = ["ScoreOutputsMixin", "PROBABILITY_METHODS"]

#: Ways :meth:`ScoreOutputsMixin.predict_proba` turns scores into probabilities.
PROBABILITY_METHODS = ("linear", "unify")


def _as_numpy(scores) -> np.ndarray:
    if hasattr(scores, "detach"):  # a torch tensor when the rows were one
        scores = scores.detach().cpu().numpy()
    return np.asarray(scores, dtype=np.float64).reshape(-1)


class ScoreOutputsMixin:
    """``fit_predict`` and ``predict_proba`` for a detector with ``decision_scores_`` and ``score_samples``."""

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit on ``X`` and return its 0/1 flags (``labels_``).

        The training rows' flags come from their training scores, so for
        neighbour-based detectors (where a training row is not its own
        neighbour) they can differ from ``predict(X)`` after ``fit(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
            Accepted for scikit-learn pipelines.

        Returns
        -------
        ndarray of shape (n_samples,), int64
            1 for the rows flagged as anomalies.
        """
        return self.fit(X, y).labels_

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """Probability of each sample being normal and anomalous, from its score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        method : {"linear", "unify"}, default "linear"
            ``"linear"`` rescales the scores so the training scores span [0, 1]
            (clipped outside it). ``"unify"`` is Kriegel et al. (2011)'s
            Gaussian scaling: ``erf((s - mean) / (std * sqrt(2)))`` over the
            training scores, clipped at 0, so scores at or below the training
            mean get probability 0. Both match PyOD's ``predict_proba``.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 0 the probability of being normal, column 1 of being an
            anomaly; each row sums to 1.
        """
        if method not in PROBABILITY_METHODS:
            raise InvalidInputError(
                f"predict_proba: method must be one of {', '.join(map(repr, PROBABILITY_METHODS))}, got {method!r}."
            )
        check_is_fitted(self, "decision_scores_")
        train = np.asarray(self.decision_scores_, dtype=np.float64)
        scores = _as_numpy(self.score_samples(X))
        if method == "linear":
            centre, spread = train.min(), np.ptp(train)
        else:
            centre, spread = train.mean(), train.std()
        if spread == 0:  # constant training scores: only a higher score is more anomalous than them
            anomalous = (scores > centre).astype(np.float64)
        elif method == "linear":
            anomalous = (scores - centre) / spread
        else:
            anomalous = erf((scores - centre) / (spread * np.sqrt(2)))
        anomalous = np.clip(anomalous, 0.0, 1.0)
        return np.column_stack([1.0 - anomalous, anomalous])
