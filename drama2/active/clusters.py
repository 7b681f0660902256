"""Group the session's rows so a batch of queries can be spread over the groups.

The groups are the leaves of a DRAMA member of the ensemble when there is one
(the clusters DRAMA already found, each with its prototype), else k-means
clusters of the min-max scaled rows.
"""

from __future__ import annotations

import warnings

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["drama_member", "cluster_rows"]


def drama_member(detector):
    """The DRAMA model with the most leaves in ``detector`` (itself when it is a Drama), or None."""
    from drama2.engine import Drama

    if isinstance(detector, Drama):
        return detector
    candidates = [e for e in getattr(detector, "estimators_", []) if isinstance(e, Drama)]
    if not candidates:
        return None
    return max(candidates, key=lambda model: len(model.leaves_))  # first of the largest on ties


def cluster_rows(detector, X: np.ndarray, *, method: str = "auto", n_clusters: int = 8,
                 random_state: int = 0) -> tuple[np.ndarray, str]:
    """A group label for every row, and what the groups are called in query reasons.

    Parameters
    ----------
    detector : fitted detector
    X : ndarray of shape (n, d)
        The session's rows.
    method : {"auto", "drama", "kmeans"}, default "auto"
        ``auto``: DRAMA leaves when the detector has a DRAMA model with at least
        two leaves, else k-means.
    n_clusters : int, default 8
        k of k-means (capped at the number of rows).
    random_state : int
        Seed of k-means.

    Returns
    -------
    labels : ndarray of shape (n,) of int
    kind : str
        ``"DRAMA cluster"`` or ``"k-means cluster"``.
    """
    if method not in ("auto", "drama", "kmeans"):
        raise InvalidInputError(f"clusters must be 'auto', 'drama' or 'kmeans', got {method!r}.")
    model = drama_member(detector) if method in ("auto", "drama") else None
    if model is not None and len(model.leaves_) >= 2:
        # Every row goes to its nearest prototype (training rows of too-small groups included).
        return np.asarray(model.nearest_leaf(X), dtype=np.int64), "DRAMA cluster"
    if method == "drama":
        raise InvalidInputError("clusters='drama' needs a detector with a DRAMA model of at least two leaves "
                                "(e.g. an Ensemble with a 'drama[...]' member).")
    from sklearn.cluster import KMeans

    from drama2.preprocessing import Scaler

    with warnings.catch_warnings():  # constant columns: already reported when the detector was fitted
        warnings.simplefilter("ignore", UserWarning)
        Xs = Scaler("minmax").fit(X).to_distance_space(X)
    k = max(1, min(int(n_clusters), Xs.shape[0]))
    labels = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit_predict(Xs)
    return np.asarray(labels, dtype=np.int64), "k-means cluster"
