"""Scores of any detector with higher = more anomalous, whichever library's convention it follows.

drama2's contract (and so every registered plugin scorer) is ``score_samples`` with higher = more
anomalous. Two libraries users bring along differ: scikit-learn's outlier detectors return higher = more
*normal* from ``score_samples``, and PyOD's ``decision_function`` is its higher = more anomalous score. The
library is told by the class that *defines* the method, so a subclass of ``IsolationForest`` is still read
as scikit-learn's while a drama2 detector (a scikit-learn ``BaseEstimator`` too) is not.
"""

from __future__ import annotations

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["anomaly_scores", "is_pyod"]


def _defined_in(model, method: str) -> str:
    """Module of the class in ``type(model)``'s MRO that defines ``method`` ('' when none does)."""
    for cls in type(model).__mro__:
        if method in vars(cls):
            return cls.__module__
    return ""


def is_pyod(model) -> bool:
    """Whether ``model`` scores through PyOD's ``decision_function``."""
    return _defined_in(model, "decision_function").startswith("pyod.")


def anomaly_scores(model, X) -> np.ndarray:
    """Scores of a fitted detector for the rows ``X``, higher = more anomalous, as a float64 array.

    Parameters
    ----------
    model : object
        A fitted drama2 detector or plugin scorer (``score_samples``, used as is), a PyOD detector
        (``decision_function``), or a scikit-learn outlier detector (``score_samples``, negated).
    X : array-like of shape (n, d)

    Returns
    -------
    ndarray of shape (n,)
    """
    if is_pyod(model):
        scores = model.decision_function(X)
    elif hasattr(model, "score_samples"):
        scores = model.score_samples(X)
        if _defined_in(model, "score_samples").startswith("sklearn."):
            scores = -np.asarray(scores)
    elif hasattr(model, "decision_function"):
        scores = model.decision_function(X)
    else:
        raise InvalidInputError(f"{type(model).__name__} has neither score_samples nor decision_function, "
                                "so it cannot score rows.")
    if hasattr(scores, "detach"):  # a torch tensor from a plugin scorer
        scores = scores.detach().cpu().numpy()
    return np.asarray(scores, dtype=np.float64).reshape(-1)
