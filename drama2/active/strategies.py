"""Query strategies: which unanswered rows to ask about next.

A strategy sees the current scores, a tie-breaking order and which rows may
still be asked (not answered, not already pending), and returns row indices
with a reason for each. Ties in score are broken by a fixed random order
drawn from the session's seed, never by row position (files are often sorted
by class).
"""

from __future__ import annotations

import numpy as np

from drama2.active.clusters import cluster_rows
from drama2.errors import InvalidInputError

__all__ = ["Strategy", "GreedyStrategy", "TopKStrategy", "DiverseStrategy", "STRATEGIES", "make_strategy",
           "best_rows"]


def best_rows(scores: np.ndarray, tiebreak: np.ndarray, available: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` available rows with the highest scores, best first (ties: lower ``tiebreak`` first)."""
    candidates = np.flatnonzero(available)
    if candidates.size == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    n = min(n, candidates.size)
    s = scores[candidates]
    if n < candidates.size:  # narrow to the n best (plus ties at the cut) before sorting
        cut = np.partition(s, candidates.size - n)[candidates.size - n]
        keep = s >= cut
        candidates, s = candidates[keep], s[keep]
    order = np.lexsort((tiebreak[candidates], -s))
    return candidates[order[:n]]


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


class Strategy:
    """Base class: :meth:`prepare` once per session, then :meth:`select` per ask."""

    name = "base"

    def params(self) -> dict:
        """Settings that change the results (written into the label-log header)."""
        return {}

    def prepare(self, detector, X: np.ndarray, fitted_on_X: bool, seed: int) -> None:
        """Called once when the session starts; the default does nothing.

        Parameters
        ----------
        detector : fitted detector
            The session's detector.
        X : ndarray of shape (n, n_features)
            The session's rows.
        fitted_on_X : bool
            True when ``X`` is the detector's training data.
        seed : int
            The session's seed, for anything random (e.g. k-means).
        """

    def select(self, scores: np.ndarray, tiebreak: np.ndarray, available: np.ndarray,
               n: int) -> list[tuple[int, str]]:
        """Up to ``n`` ``(row index, reason)`` pairs among the ``available`` rows.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Current scores, higher = more anomalous.
        tiebreak : ndarray of shape (n_rows,)
            Fixed order that breaks ties in score (lower first).
        available : ndarray of bool, shape (n_rows,)
            True for rows that may be asked (neither answered nor pending).
        n : int
            Most rows to return.

        Returns
        -------
        list of (int, str)
            Row indices, in the order to ask them, each with a reason in words.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class TopKStrategy(Strategy):
    """``"topk"``: the ``n`` highest-scored unanswered rows."""

    name = "topk"

    def select(self, scores, tiebreak, available, n):
        """See :meth:`Strategy.select`: the ``n`` highest-scored available rows, best first.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Current scores.
        tiebreak : ndarray of shape (n_rows,)
            Tie-breaking order (lower first).
        available : ndarray of bool, shape (n_rows,)
            Rows that may be asked.
        n : int
            Most rows to return.

        Returns
        -------
        list of (int, str)
        """
        rows = best_rows(scores, tiebreak, available, n)
        if len(rows) == 1:
            return [(int(rows[0]), "highest score among rows not yet asked")]
        return [(int(i), f"{_ordinal(k)} highest score among rows not yet asked") for k, i in enumerate(rows, 1)]


class GreedyStrategy(TopKStrategy):
    """``"greedy"``: the highest-scored unanswered row, one at a time (AAD's query rule).

    Asked for ``n > 1`` rows at once it gives the ``n`` highest, like ``"topk"``;
    ask one at a time (``batch_size=1``) so every label re-ranks before the next query.
    """

    name = "greedy"


class DiverseStrategy(Strategy):
    """``"diverse"``: a batch spread over clusters of the data.

    Candidates are the ``window × n`` best unanswered rows; they are grouped by
    cluster (DRAMA leaves when the detector has a DRAMA model, else k-means);
    clusters are ordered by their best candidate's score and the batch takes
    the best of each cluster in turn, then the second best of each, and so on.

    Parameters
    ----------
    window : int or None, default 10
        Candidate pool as a multiple of the batch size; None considers every row.
    clusters : {"auto", "drama", "kmeans"} or array-like of int, default "auto"
        Where the groups come from, or one group label per row.
    n_clusters : int, default 8
        k for k-means.
    """

    name = "diverse"

    def __init__(self, window: int | None = 10, clusters="auto", n_clusters: int = 8):
        self.window = window
        self.clusters = clusters
        self.n_clusters = n_clusters

    def params(self):
        clusters = self.clusters if isinstance(self.clusters, str) else "given"
        return {"window": self.window, "clusters": clusters, "n_clusters": self.n_clusters}

    def prepare(self, detector, X, fitted_on_X, seed):
        """Check ``window`` and assign every row of ``X`` to a cluster (``labels_``, ``kind_``).

        Parameters
        ----------
        detector : fitted detector
            Its DRAMA model's leaves give the clusters when ``clusters`` is
            ``"auto"`` or ``"drama"`` and it has one with at least two leaves.
        X : ndarray of shape (n, n_features)
            The session's rows (clustered by k-means on min-max scaled rows
            when no DRAMA model is used).
        fitted_on_X : bool
            True when ``X`` is the detector's training data (not used here).
        seed : int
            Random state for k-means.
        """
        if self.window is not None and (not isinstance(self.window, (int, np.integer)) or self.window < 1):
            raise InvalidInputError(f"window must be a positive integer or None, got {self.window!r}.")
        if isinstance(self.clusters, str):
            self.labels_, self.kind_ = cluster_rows(detector, X, method=self.clusters, n_clusters=self.n_clusters,
                                                    random_state=seed)
        else:
            labels = np.asarray(self.clusters).reshape(-1)
            if labels.shape[0] != X.shape[0]:
                raise InvalidInputError(f"clusters has {labels.shape[0]} labels for {X.shape[0]} rows.")
            self.labels_, self.kind_ = np.unique(labels, return_inverse=True)[1], "cluster"

    def select(self, scores, tiebreak, available, n):
        """See :meth:`Strategy.select`: take the clusters' best candidates in turn.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Current scores.
        tiebreak : ndarray of shape (n_rows,)
            Tie-breaking order (lower first).
        available : ndarray of bool, shape (n_rows,)
            Rows that may be asked.
        n : int
            Batch size; the candidate pool is ``window * n`` rows.

        Returns
        -------
        list of (int, str)
            Row indices with the cluster each was taken from.
        """
        pool = int(available.sum()) if self.window is None else self.window * n
        candidates = best_rows(scores, tiebreak, available, pool)
        queues: dict[int, list[int]] = {}
        for row in candidates:  # best first, so each queue is best first and dicts keep first-seen order
            queues.setdefault(int(self.labels_[row]), []).append(int(row))
        chosen = []
        depth = 0
        while len(chosen) < n and any(len(q) > depth for q in queues.values()):
            for cluster, queue in queues.items():
                if len(queue) > depth and len(chosen) < n:
                    place = "top" if depth == 0 else f"{_ordinal(depth + 1)} best"
                    chosen.append((queue[depth], f"{place} of {self.kind_} {cluster}"))
            depth += 1
        return chosen


#: Strategy names accepted by :class:`~drama2.active.ActiveSession`.
STRATEGIES = {"greedy": GreedyStrategy, "topk": TopKStrategy, "diverse": DiverseStrategy}


def make_strategy(strategy) -> Strategy:
    """A :class:`Strategy` from a name (``"greedy"``, ``"topk"``, ``"diverse"``) or an instance (copied)."""
    import copy

    if isinstance(strategy, Strategy):
        return copy.deepcopy(strategy)
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return STRATEGIES[strategy]()
    raise InvalidInputError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)} "
                            "or a Strategy instance.")
