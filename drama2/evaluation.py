"""Evaluation metrics for anomaly scores (higher score = more anomalous).

All ranking metrics are tie-safe: when samples share a score, the result is the
*expected* value over every order of the tied samples, so it never depends on
how a sort happened to break ties. ``auc`` and ``ap`` follow scikit-learn.

The top-n metrics (``mcc``, ``rws``, ``rws_drama``, ``precision_at_n``) use
``n`` = the number of true anomalies by default, as the DRAMA paper does.
"""

from __future__ import annotations

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["auc", "ap", "mcc", "rws", "rws_drama", "precision_at_n", "expected_labels_by_rank", "evaluate"]


def _check(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise InvalidInputError(f"y_true has {y.size} values but scores has {s.size}; they must match.")
    if y.size == 0:
        raise InvalidInputError("y_true and scores are empty.")
    if not np.isin(y, (0, 1)).all():
        raise InvalidInputError("y_true must hold only 0 (normal) and 1 (anomaly).")
    if not np.isfinite(s).all():
        raise InvalidInputError(
            "scores contain NaN or infinite values; a detector must not return them (fix the detector "
            "or drop those rows) since no ranking metric can place them honestly."
        )
    y = y.astype(np.int64)
    if y.sum() == 0 or y.sum() == y.size:
        raise InvalidInputError("y_true must contain both anomalies (1) and normal samples (0).")
    return y, s


def expected_labels_by_rank(y_true, scores) -> np.ndarray:
    """Expected label at each rank position, ranking by descending score.

    Within a group of tied scores every order is equally likely, so each
    position in the group gets the group's mean label.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n,)
        Anomaly scores, higher = more anomalous.

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``out[k]`` is the expected label of the sample ranked ``k + 1``.
    """
    return _expected_labels(*_check(y_true, scores))


def _expected_labels(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    y_sorted = y[order].astype(np.float64)
    # Start index of each run of equal scores.
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sums = np.add.reduceat(y_sorted, starts)
    sizes = np.diff(np.r_[starts, s.size])
    return np.repeat(sums / sizes, sizes)


def _top_n(n, y) -> int:
    n_true = int(y.sum())
    if n is None:
        return n_true
    n = int(n)
    if not 1 <= n <= y.size:
        raise InvalidInputError(f"n must be between 1 and the number of samples ({y.size}), got {n}.")
    return n


def auc(y_true, scores) -> float:
    """Area under the ROC curve (ties count one half, as in :func:`sklearn.metrics.roc_auc_score`)."""
    from sklearn.metrics import roc_auc_score

    y, s = _check(y_true, scores)
    return float(roc_auc_score(y, s))


def ap(y_true, scores) -> float:
    """Average precision, as :func:`sklearn.metrics.average_precision_score` (tied scores share a threshold)."""
    from sklearn.metrics import average_precision_score

    y, s = _check(y_true, scores)
    return float(average_precision_score(y, s))


def precision_at_n(y_true, scores, n: int | None = None) -> float:
    """Expected share of anomalies among the ``n`` top-scored samples (default: n = number of anomalies)."""
    y, s = _check(y_true, scores)
    n = _top_n(n, y)
    return float(_expected_labels(y, s)[:n].sum() / n)


def mcc(y_true, scores, n: int | None = None) -> float:
    """Matthews correlation after flagging exactly the ``n`` top-scored samples as anomalies.

    With ``n`` equal to the number of anomalies (the default) this is
    ``(t/n - n/N) / (1 - n/N)`` for ``t`` hits in the top ``n``; for other
    ``n`` the general confusion-matrix formula is used. Ties at the cut-off
    count fractionally (the expectation over tie orders, which is exact
    because MCC is linear in the number of hits when the flagged count is fixed).
    """
    y, s = _check(y_true, scores)
    n = _top_n(n, y)
    N = y.size
    p = int(y.sum())
    tp = float(_expected_labels(y, s)[:n].sum())
    fp = n - tp
    fn = p - tp
    tn = N - n - fn
    denom = np.sqrt(float(n) * (N - n) * p * (N - p))
    if denom == 0:
        return 0.0
    return float((tp * tn - fp * fn) / denom)


def _rank_weighted(y_true, scores, top_hit_weighs_most: bool) -> float:
    y, s = _check(y_true, scores)
    n = int(y.sum())
    k = np.arange(1, n + 1, dtype=np.float64)
    weights = (n + 1 - k) if top_hit_weighs_most else k
    expected = _expected_labels(y, s)[:n]
    return float(np.dot(weights, expected) / (n * (n + 1) / 2))


def rws(y_true, scores) -> float:
    """Rank-weighted score: hits among the top n (n = number of anomalies), weight n + 1 - k at rank k.

    The top-ranked hit counts most; 1.0 means the n anomalies are exactly the n top-scored samples.
    """
    return _rank_weighted(y_true, scores, top_hit_weighs_most=True)


def rws_drama(y_true, scores) -> float:
    """The original DRAMA code's RWS, with inverted weights (weight k at rank k: the top hit counts least).

    Provided only to compare with numbers published with DRAMA (2019); prefer :func:`rws`.
    """
    return _rank_weighted(y_true, scores, top_hit_weighs_most=False)


def evaluate(y_true, scores) -> dict[str, float]:
    """All metrics of this module in one dict: auc, ap, mcc, rws, rws_drama, p_at_n."""
    return {
        "auc": auc(y_true, scores),
        "ap": ap(y_true, scores),
        "mcc": mcc(y_true, scores),
        "rws": rws(y_true, scores),
        "rws_drama": rws_drama(y_true, scores),
        "p_at_n": precision_at_n(y_true, scores),
    }
