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
    """Area under the ROC curve (ties count one half, as in :func:`sklearn.metrics.roc_auc_score`).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.metrics import roc_auc_score

    y, s = _check(y_true, scores)
    return float(roc_auc_score(y, s))


def ap(y_true, scores) -> float:
    """Average precision, as :func:`sklearn.metrics.average_precision_score` (tied scores share a threshold).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.metrics import average_precision_score

    y, s = _check(y_true, scores)
    return float(average_precision_score(y, s))


def precision_at_n(y_true, scores, n: int | None = None) -> float:
    """Expected share of anomalies among the ``n`` top-scored samples (default: n = number of anomalies).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.
    n : int, optional
        Number of top-scored samples to consider, ``1 <= n <= len(y_true)``
        (default: the number of anomalies).

    Returns
    -------
    float in [0, 1]
    """
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

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.
    n : int, optional
        Number of top-scored samples to flag, ``1 <= n <= len(y_true)``
        (default: the number of anomalies).

    Returns
    -------
    float in [-1, 1]
        0.0 when the coefficient is undefined (a zero denominator).
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

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float in [0, 1]
    """
    return _rank_weighted(y_true, scores, top_hit_weighs_most=True)


def rws_drama(y_true, scores) -> float:
    """The original DRAMA code's RWS, with inverted weights (weight k at rank k: the top hit counts least).

    Provided only to compare with numbers published with DRAMA (2019); prefer :func:`rws`.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float in [0, 1]
    """
    return _rank_weighted(y_true, scores, top_hit_weighs_most=False)


def evaluate(y_true, scores) -> dict[str, float]:
    """All metrics of this module in one dict: auc, ap, mcc, rws, rws_drama, p_at_n.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly; both classes must be present.
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    dict of str to float
        Keys ``auc``, ``ap``, ``mcc``, ``rws``, ``rws_drama`` and ``p_at_n``;
        the top-n metrics use n = the number of anomalies.
    """
    return {
        "auc": auc(y_true, scores),
        "ap": ap(y_true, scores),
        "mcc": mcc(y_true, scores),
        "rws": rws(y_true, scores),
        "rws_drama": rws_drama(y_true, scores),
        "p_at_n": precision_at_n(y_true, scores),
    }


# ---------------------------------------------------------------------------------------------------------
# Active discovery (SPEC §5): an oracle reveals one label per query; D(k) = anomalies found in the first k.

__all__ += [
    "discovery_curve",
    "ranking_discovery_curve",
    "random_discovery_curve",
    "optimal_discovery_curve",
    "found_at",
    "normalised_discovery_auc",
    "lift",
    "labels_to_first_anomaly",
]


def _check_curve(curve) -> np.ndarray:
    c = np.asarray(curve, dtype=np.float64).reshape(-1)
    if not np.isfinite(c).all() or (c < 0).any():
        raise InvalidInputError("a discovery curve holds finite, non-negative anomaly counts.")
    if c.size and (np.diff(np.r_[0.0, c]) < -1e-9).any():
        raise InvalidInputError("a discovery curve never decreases: D(k) counts the anomalies found in the "
                                "first k queries. Pass discovery_curve(found_flags), not the flags.")
    return c


def discovery_curve(found_flags) -> np.ndarray:
    """Anomalies found after each query: ``D(k)`` for k = 1 … K.

    Parameters
    ----------
    found_flags : array-like of shape (K,)
        One value per query in the order asked: 1 (or True) when the queried
        row was an anomaly, 0 otherwise. Fractional values (expected hits, e.g.
        over tied scores) are allowed.

    Returns
    -------
    numpy.ndarray of shape (K,)
        ``out[k - 1] = D(k)``, the number of anomalies among the first ``k`` queries.
    """
    flags = np.asarray(found_flags, dtype=np.float64).reshape(-1)
    if not np.isfinite(flags).all() or (flags < 0).any() or (flags > 1).any():
        raise InvalidInputError("found_flags must hold one value in [0, 1] per query (1 = an anomaly was found).")
    return np.cumsum(flags)


def ranking_discovery_curve(y_true, scores, budget: int | None = None) -> np.ndarray:
    """Discovery curve of querying rows in the order of a fixed ranking (the "static" baseline).

    Tied scores count as the expected value over their orders, like the other
    ranking metrics of this module.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n,)
        Anomaly scores, higher = more anomalous.
    budget : int, optional
        Number of queries (default: all ``n`` rows).

    Returns
    -------
    numpy.ndarray of shape (budget,)
    """
    expected = expected_labels_by_rank(y_true, scores)
    budget = expected.size if budget is None else _check_budget(budget, expected.size)
    return np.cumsum(expected[:budget])


def random_discovery_curve(n_anomalies: int, n_samples: int, budget: int) -> np.ndarray:
    """Expected discovery curve of querying rows at random: ``D(k) = k · n_anomalies / n_samples``.

    Parameters
    ----------
    n_anomalies : int
        Number of anomalies in the data, ``0 <= n_anomalies <= n_samples``.
    n_samples : int
        Number of rows in the data (at least 1).
    budget : int
        Number of queries, ``0 <= budget <= n_samples``.

    Returns
    -------
    numpy.ndarray of shape (budget,)
        ``out[k - 1]`` is the expected ``D(k)``.
    """
    if not 0 <= n_anomalies <= n_samples or n_samples < 1:
        raise InvalidInputError(f"need 0 <= n_anomalies <= n_samples and n_samples >= 1, "
                                f"got {n_anomalies} and {n_samples}.")
    budget = _check_budget(budget, n_samples)
    return np.arange(1, budget + 1, dtype=np.float64) * (n_anomalies / n_samples)


def optimal_discovery_curve(n_anomalies: int, budget: int) -> np.ndarray:
    """Best possible discovery curve: every query finds an anomaly until none is left, ``min(k, n)``.

    Parameters
    ----------
    n_anomalies : int
        Number of anomalies in the data (``n``, at least 0).
    budget : int
        Number of queries (a non-negative integer).

    Returns
    -------
    numpy.ndarray of shape (budget,)
        ``out[k - 1] = min(k, n_anomalies)``.
    """
    if n_anomalies < 0:
        raise InvalidInputError(f"n_anomalies must be >= 0, got {n_anomalies}.")
    budget = _check_budget(budget, None)
    return np.minimum(np.arange(1, budget + 1, dtype=np.float64), float(n_anomalies))


def _check_budget(budget, limit: int | None) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise InvalidInputError(f"budget must be a non-negative integer, got {budget!r}.")
    if limit is not None and budget > limit:
        raise InvalidInputError(f"budget {budget} is more queries than there are rows ({limit}).")
    return int(budget)


def found_at(curve, budget: int) -> float:
    """Anomalies found within the first ``budget`` queries, ``D(budget)``.

    Parameters
    ----------
    curve : array-like of shape (K,)
        A discovery curve (:func:`discovery_curve`).
    budget : int
        Number of queries, ``0 <= budget <= K`` (``D(0) = 0``).

    Returns
    -------
    float
    """
    c = _check_curve(curve)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise InvalidInputError(f"budget must be a non-negative integer, got {budget!r}.")
    if budget > c.size:
        raise InvalidInputError(f"the curve covers {c.size} queries; found_at({budget}) needs at least {budget}.")
    return 0.0 if budget == 0 else float(c[budget - 1])


def normalised_discovery_auc(curve, n_anomalies: int) -> float:
    """Area under the discovery curve divided by the optimal area.

    ``sum_k D(k) / sum_k min(k, n_anomalies)`` over the curve's ``K`` queries:
    1 means every query found an anomaly while any were left, 0 that none was found.

    Parameters
    ----------
    curve : array-like of shape (K,)
        A discovery curve, K >= 1.
    n_anomalies : int
        Number of anomalies in the data (at least 1).

    Returns
    -------
    float in [0, 1]
    """
    c = _check_curve(curve)
    if c.size == 0:
        raise InvalidInputError("the discovery curve is empty.")
    if n_anomalies < 1:
        raise InvalidInputError(f"n_anomalies must be at least 1, got {n_anomalies}.")
    if c[-1] > n_anomalies + 1e-9:
        raise InvalidInputError(f"the curve finds {c[-1]:g} anomalies but n_anomalies is {n_anomalies}.")
    return float(c.sum() / optimal_discovery_curve(n_anomalies, c.size).sum())


def lift(curve, static_curve) -> float:
    """Anomalies found by ``curve`` over those found by ``static_curve`` after the same number of queries.

    Both curves are compared at the length of the shorter one. Returns
    ``inf`` when only ``curve`` found anomalies and ``nan`` when neither did.

    Parameters
    ----------
    curve : array-like
        Discovery curve of the method of interest (e.g. active re-weighting).
    static_curve : array-like
        Discovery curve of the reference (e.g. the frozen initial ranking).

    Returns
    -------
    float
    """
    a, b = _check_curve(curve), _check_curve(static_curve)
    k = min(a.size, b.size)
    if k == 0:
        raise InvalidInputError("cannot compare empty discovery curves.")
    found, reference = a[k - 1], b[k - 1]
    if reference == 0:
        return float("nan") if found == 0 else float("inf")
    return float(found / reference)


def labels_to_first_anomaly(curve) -> int | None:
    """Number of queries up to and including the first anomaly found, or None if none was found.

    Parameters
    ----------
    curve : array-like
        A discovery curve with integer counts (one session, not an average).

    Returns
    -------
    int or None
    """
    c = _check_curve(curve)
    hits = np.flatnonzero(c >= 1)
    return int(hits[0]) + 1 if hits.size else None
