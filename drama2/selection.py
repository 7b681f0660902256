"""Label-efficient member selection: weight ensemble members by how well they rank a few known anomalies.

DRAMA's "recommended configuration" picked the reducer × metric whose scores
put the labelled anomalies highest. With a handful of labels that choice is
noisy, so here every member's quality is estimated from the labels, turned
into soft weights (by default each member's bootstrap probability of being
the best, so the weights are as sure as the labels allow), and shrunk towards
the unsupervised weights by an amount that falls as labels accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["Selection", "anomaly_ranks", "ecdf", "labelled_auc", "normalise_against", "probability_best", "proximity",
           "robust_scale", "select_weights", "selection_weights"]

#: Bootstrap resamples of the labelled anomalies behind :func:`probability_best`.
BOOTSTRAP_DRAWS = 200

# MAD → standard deviation for normal data.
_MAD_TO_SD = 1.4826


def ecdf(sorted_reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``sorted_reference`` below each value, ties counting half (a rank on [0, 1]).

    Parameters
    ----------
    sorted_reference : ndarray of shape (n_reference,)
        Reference values, sorted in increasing order (not checked).
    values : array-like
        Values to place on the reference's scale.

    Returns
    -------
    ndarray of the shape of ``values``
        For each value, (count below + count at or below) / (2 · n_reference).
    """
    below = np.searchsorted(sorted_reference, values, side="left")
    at_or_below = np.searchsorted(sorted_reference, values, side="right")
    return (below + at_or_below) / (2.0 * sorted_reference.shape[0])


def proximity(X: np.ndarray, anchors: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Minus the Euclidean distance from each row to its nearest anchor (higher = closer), in row chunks.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows to score.
    anchors : ndarray of shape (k, n_features)
        Reference points, e.g. the labelled anomalies (at least one).
    chunk : int, default 65536
        Rows per distance computation, which bounds the memory used.

    Returns
    -------
    ndarray of shape (n_samples,)
        ``-min_j ||x - anchor_j||`` for each row (0 for a row on an anchor).
    """
    from scipy.spatial.distance import cdist

    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        out[start:start + chunk] = -cdist(X[start:start + chunk], anchors).min(axis=1)
    return out


def robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and ``1.4826 · MAD`` of each column (the standard deviation for normal data).

    Where the MAD is 0 (over half the values tied) the standard deviation stands in, and 1 where that is 0 too,
    so dividing by the spread is always defined.

    Parameters
    ----------
    values : array-like of shape (n_samples,) or (n_samples, n_columns)
        Values to summarise, column by column (along axis 0).

    Returns
    -------
    median : ndarray of shape (n_columns,), or 0-d for 1-D input
        Median of each column.
    spread : ndarray of shape (n_columns,), or 0-d for 1-D input
        Robust spread of each column, always > 0.
    """
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values, axis=0)
    spread = _MAD_TO_SD * np.median(np.abs(values - median), axis=0)
    fallback = values.std(axis=0)
    return median, np.where(spread > 0, spread, np.where(fallback > 0, fallback, 1.0))


def normalise_against(sorted_reference: np.ndarray, values: np.ndarray, normalisation: str) -> np.ndarray:
    """``values`` on the scale of a sorted 1-D reference: its ecdf (``"rank"``) or robust z-scores (``"zscore"``).

    Parameters
    ----------
    sorted_reference : ndarray of shape (n_reference,)
        Reference values, sorted in increasing order.
    values : array-like
        Values to normalise.
    normalisation : {"rank", "zscore"}
        ``"zscore"``: ``(value - median) / spread`` with :func:`robust_scale`
        of the reference; any other value gives the rank (:func:`ecdf`).

    Returns
    -------
    ndarray of the shape of ``values``, float64
    """
    reference = np.asarray(sorted_reference, dtype=np.float64)
    if normalisation == "zscore":
        centre, spread = robust_scale(reference)
        return (np.asarray(values, dtype=np.float64) - centre) / spread
    return ecdf(reference, values)


def _indices(values, n_rows: int, what: str) -> np.ndarray:
    """Sorted unique row indices from integer indices (a scalar, list or array) or a boolean mask over the rows."""
    arr = np.asarray(values)
    if arr.dtype == object:  # e.g. pandas .values of a mixed frame: let numpy infer the type of the values
        arr = np.asarray(arr.tolist())
    if arr.dtype == bool:
        if arr.shape != (n_rows,):
            raise InvalidInputError(f"{what} as a boolean mask needs one entry per row ({n_rows}); got shape "
                                    f"{arr.shape}. Pass row indices or a mask of length {n_rows}.")
        return np.flatnonzero(arr)
    arr = arr.reshape(-1)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    whole = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and (arr == np.round(arr)).all())
    if not whole:
        raise InvalidInputError(f"{what} must be integer row indices or a boolean mask of length {n_rows}; "
                                f"got {arr[:5].tolist()}{' ...' if arr.size > 5 else ''}.")
    if n_rows > 2 and arr.size == n_rows and np.isin(arr, (0, 1)).all():
        # One 0/1 entry per row is a label vector, not indices: read as indices it would name rows 0 and 1 only.
        raise InvalidInputError(f"{what} looks like a 0/1 label vector (one entry per row), but integers are read as "
                                f"row indices. Pass a boolean mask (e.g. y == 1) or the indices "
                                "(np.flatnonzero(y)).")
    idx = np.unique(arr.astype(np.int64))
    if idx.min() < 0 or idx.max() >= n_rows:
        raise InvalidInputError(f"{what} must be row indices in [0, {n_rows}); got values outside that range.")
    return idx


def anomaly_ranks(member_scores: np.ndarray, anomalies, nominals=()) -> np.ndarray:
    """Per labelled anomaly and member, the share of reference rows it outranks (ties count half).

    Parameters
    ----------
    member_scores : ndarray of shape (n_samples, n_members)
        Scores of every member (higher = more anomalous) on the rows the labels refer to.
    anomalies : array-like of int or bool
        Row indices of known anomalies (at least one), or a boolean mask over the rows.
    nominals : array-like of int or bool, optional
        Row indices (or a boolean mask) of known nominal rows. When given, they are the reference
        the anomalies are compared with; otherwise every row not labelled an
        anomaly is (unlabelled rows are mostly nominal when anomalies are rare).

    Returns
    -------
    ndarray of shape (n_anomalies, n_members)
        Row ``i`` holds, for the ``i``-th distinct labelled anomaly (in increasing
        row order), each member's share of correctly ordered (anomaly, reference)
        pairs. Its column means are :func:`labelled_auc`.
    """
    S = np.asarray(member_scores, dtype=np.float64)
    if S.ndim != 2:
        raise InvalidInputError(f"member_scores must be a 2-D (rows × members) array, got shape {S.shape}.")
    anomalies = _indices(anomalies, S.shape[0], "anomalies")
    nominals = _indices(nominals, S.shape[0], "nominals")
    if anomalies.size == 0:
        raise InvalidInputError("label-efficient selection needs at least one labelled anomaly.")
    if np.intersect1d(anomalies, nominals).size:
        raise InvalidInputError("a row cannot be labelled both anomaly and nominal.")
    if nominals.size:
        reference = S[nominals]
    else:
        mask = np.ones(S.shape[0], dtype=bool)
        mask[anomalies] = False
        reference = S[mask]
    if reference.shape[0] == 0:
        raise InvalidInputError("every row is labelled an anomaly; there is nothing to compare them with.")
    # Count, per member, the reference rows below (and tied with) each labelled anomaly: O(n·k), no sort,
    # since k is small and the reference can be every training row.
    ranks = np.empty((anomalies.size, S.shape[1]))
    for i, row in enumerate(S[anomalies]):
        ranks[i] = (reference < row).sum(axis=0) + 0.5 * (reference == row).sum(axis=0)
    return ranks / reference.shape[0]


def labelled_auc(member_scores: np.ndarray, anomalies, nominals=()) -> np.ndarray:
    """Each member's AUC estimated from labelled anomalies against the other rows.

    Parameters
    ----------
    member_scores, anomalies, nominals
        As in :func:`anomaly_ranks`.

    Returns
    -------
    ndarray of shape (n_members,)
        The share of (anomaly, reference) pairs a member orders correctly, ties counting half.
    """
    return anomaly_ranks(member_scores, anomalies, nominals).mean(axis=0)


def probability_best(ranks: np.ndarray, n_draws: int = BOOTSTRAP_DRAWS, random_state=0) -> np.ndarray:
    """Each member's bootstrap probability of having the highest estimated AUC.

    The labelled anomalies are resampled with replacement ``n_draws`` times;
    in each resample the member(s) with the highest mean rank win (a tie
    shares the win). With few labels the estimates are noisy and the wins
    spread over the members that are plausibly best; as labels accumulate they
    concentrate on the member that is. One label cannot be resampled into
    anything but itself, so it gives all weight to the member(s) that rank it
    highest, and the prior (see :func:`selection_weights`) does the hedging.

    Parameters
    ----------
    ranks : ndarray of shape (n_anomalies, n_members)
        As returned by :func:`anomaly_ranks`.
    n_draws : int, default 200
        Bootstrap resamples.
    random_state : int, default 0
        Seed of the resampling, fixed so that the same labels always give the same weights.

    Returns
    -------
    ndarray of shape (n_members,)
        Non-negative, summing to 1.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    k = ranks.shape[0]
    draws = np.random.default_rng(random_state).integers(0, k, size=(n_draws, k))
    # How often each labelled anomaly is drawn in each resample: (draws × k) counts instead of a
    # (draws × k × members) gather, which would grow with the labels an active session collects.
    counts = np.zeros((n_draws, k))
    np.add.at(counts, (np.arange(n_draws)[:, None], draws), 1.0)
    auc = counts @ ranks / k
    best = np.isclose(auc, auc.max(axis=1, keepdims=True), rtol=0.0, atol=1e-12)
    return (best / best.sum(axis=1, keepdims=True)).mean(axis=0)


def selection_weights(member_scores: np.ndarray, anomalies, nominals=(), *, prior=None,
                      prior_strength: float = 1.0, temperature: float | None = None) -> np.ndarray:
    """Member weights from a few labels, shrunk towards unsupervised prior weights.

    Each member's ranking of the labelled anomalies is measured with
    :func:`anomaly_ranks`. By default the label weights are each member's
    bootstrap probability of having the best estimated AUC
    (:func:`probability_best`): with three labels several members are
    plausibly best and share the weight, with twenty the best one takes it.
    With a ``temperature`` they are instead a softmax of the estimated AUCs at
    that temperature (a member 0.05 AUC behind the best gets e⁻¹ of its
    weight at 0.05), equally sharp whatever the number of labels. With ``k``
    labelled anomalies the result is ``(prior_strength · prior + k · label
    weights) / (prior_strength + k)``: one label barely moves the prior, twenty
    mostly replace it.

    Parameters
    ----------
    member_scores : ndarray of shape (n_samples, n_members)
    anomalies, nominals : array-like of int
        Labelled rows, as in :func:`anomaly_ranks`.
    prior : array-like of shape (n_members,) or None
        Unsupervised weights (None: equal).
    prior_strength : float, default 1.0
        The number of labelled anomalies that weighs as much as the prior.
    temperature : float or None, default None
        None: bootstrap probability of being best. A number > 0: softmax
        temperature on the AUC scale; smaller prefers the best member more sharply.

    Returns
    -------
    ndarray of shape (n_members,)
        Non-negative weights summing to 1.
    """
    return _weights_from_ranks(anomaly_ranks(member_scores, anomalies, nominals), prior, prior_strength,
                               temperature)


def _weights_from_ranks(ranks: np.ndarray, prior, prior_strength: float, temperature: float | None) -> np.ndarray:
    if not (np.isfinite(prior_strength) and prior_strength >= 0):
        raise InvalidInputError(f"prior_strength must be a finite number >= 0, got {prior_strength!r}.")
    if temperature is not None and not (np.isfinite(temperature) and temperature > 0):
        raise InvalidInputError(f"temperature must be None or a finite number > 0, got {temperature!r}.")
    k, m = ranks.shape
    prior = np.full(m, 1.0 / m) if prior is None else np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.size != m or (prior < 0).any() or prior.sum() <= 0:
        raise InvalidInputError(f"prior must be {m} non-negative weights, not all zero.")
    prior = prior / prior.sum()
    if temperature is None:
        label_weights = probability_best(ranks)
    else:
        auc = ranks.mean(axis=0)
        label_weights = np.exp((auc - auc.max()) / temperature)
        label_weights /= label_weights.sum()
    weights = (prior_strength * prior + k * label_weights) / (prior_strength + k)
    return weights / weights.sum()


@dataclass(frozen=True)
class Selection:
    """What :func:`select_weights` decided.

    Attributes
    ----------
    weights : ndarray of shape (n_members,)
        Member weights summing to 1.
    proximity_weight : float
        Share of the labelled-anomaly proximity member in the final score (0 when unused).
    anchors : ndarray of shape (k, n_features) or None
        The labelled anomalies (scaled rows) proximity is measured to.
    proximity_reference : ndarray or None
        Sorted proximities of the unlabelled rows, the scale new proximities are normalised on.
    train_proximity : ndarray of shape (n_samples,) or None
        The proximity member's normalised score on the labelled data (leave-one-out for the anchors).
    labelled_auc : ndarray
        The estimated AUC of every member (the proximity member last when used).
    normalisation : {"rank", "zscore"}
        The members' scale, which the proximity member is put on too.
    """

    weights: np.ndarray
    proximity_weight: float = 0.0
    anchors: np.ndarray | None = None
    proximity_reference: np.ndarray | None = None
    train_proximity: np.ndarray | None = None
    labelled_auc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    normalisation: str = "rank"

    def scores(self, member_scores: np.ndarray, Xd: np.ndarray | None = None) -> np.ndarray:
        """Weighted-mean score of new rows: the members' normalised scores plus, when used, proximity.

        Parameters
        ----------
        member_scores : ndarray of shape (n_samples, n_members)
            Normalised member scores of the new rows.
        Xd : ndarray of shape (n_samples, n_features) or None
            The new rows in the space the anchors live in (needed when ``proximity_weight > 0``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        combined = np.asarray(member_scores, dtype=np.float64) @ self.weights
        if self.proximity_weight <= 0:
            return combined
        closeness = normalise_against(self.proximity_reference, proximity(Xd, self.anchors), self.normalisation)
        return (1.0 - self.proximity_weight) * combined + self.proximity_weight * closeness


def select_weights(member_scores: np.ndarray, anomalies, nominals=(), *, prior=None, Xd=None,
                   prior_strength: float = 1.0, temperature: float | None = None,
                   normalisation: str = "rank") -> Selection:
    """Label-efficient selection: member weights plus, optionally, a labelled-anomaly proximity member.

    The proximity member scores a row by its closeness to the nearest
    labelled anomaly. On the labelled anomalies themselves it is computed
    leave-one-out (closeness to the *other* labelled anomalies), so its
    estimated AUC is honest and it earns weight only when the known
    anomalies resemble each other. It joins the vote with a prior weight of 0.

    Parameters
    ----------
    member_scores : ndarray of shape (n_samples, n_members)
        Normalised member scores of the labelled data.
    anomalies, nominals : array-like of int
        Labelled rows, as in :func:`labelled_auc`.
    prior : array-like of shape (n_members,) or None
        Unsupervised weights (None: equal).
    Xd : ndarray of shape (n_samples, n_features) or None
        The labelled data in the space distances are measured in; None (or
        fewer than two labelled anomalies) leaves the proximity member out.
    prior_strength : float
        As in :func:`selection_weights`.
    temperature : float or None
        As in :func:`selection_weights`.
    normalisation : {"rank", "zscore"}, default "rank"
        The scale of ``member_scores``; the proximity member is put on the same scale (its ecdf over the
        unlabelled rows, or its robust z-score against them), so its weight means what it says. The weights
        themselves do not depend on it: they come from ranks.

    Returns
    -------
    Selection
    """
    if normalisation not in ("rank", "zscore"):
        raise InvalidInputError(f"normalisation must be 'rank' or 'zscore', got {normalisation!r}.")
    S = np.asarray(member_scores, dtype=np.float64)
    anomalies = _indices(anomalies, S.shape[0], "anomalies")
    prior = np.full(S.shape[1], 1.0 / S.shape[1]) if prior is None else np.asarray(prior, dtype=np.float64)
    if Xd is None or anomalies.size < 2 or anomalies.size == S.shape[0]:  # proximity needs unlabelled rows
        ranks = anomaly_ranks(S, anomalies, nominals)
        weights = _weights_from_ranks(ranks, prior, prior_strength, temperature)
        return Selection(weights=weights, labelled_auc=ranks.mean(axis=0))
    anchors = np.asarray(Xd, dtype=np.float64)[anomalies]
    closeness = proximity(Xd, anchors)
    from scipy.spatial.distance import cdist

    to_others = cdist(anchors, anchors)
    np.fill_diagonal(to_others, np.inf)
    closeness[anomalies] = -to_others.min(axis=1)  # leave-one-out: a labelled row is at 0 from itself
    reference = np.sort(np.delete(closeness, anomalies))
    column = normalise_against(reference, closeness, normalisation)
    S = np.column_stack([S, column])
    ranks = anomaly_ranks(S, anomalies, nominals)
    weights = _weights_from_ranks(ranks, np.append(prior, 0.0), prior_strength, temperature)
    proximity_weight, weights = float(weights[-1]), weights[:-1]
    if weights.sum() <= 0 or proximity_weight >= 1.0:  # the members always keep a share, however small
        weights, proximity_weight = np.full(weights.size, 1.0 / weights.size), min(proximity_weight, 1 - 1e-9)
    return Selection(weights=weights / weights.sum(), proximity_weight=proximity_weight, anchors=anchors,
                     proximity_reference=reference, train_proximity=column, labelled_auc=ranks.mean(axis=0),
                     normalisation=normalisation)
