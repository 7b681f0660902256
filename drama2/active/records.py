"""What a session hands out (queries) and what it has learnt (the discovery record)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drama2.active.labels import ANOMALY

__all__ = ["Query", "DiscoveryRecord"]


@dataclass(frozen=True)
class Query:
    """One row the session wants labelled.

    Attributes
    ----------
    id : int or str
        The row's id (the session's ``ids``; row numbers by default).
    index : int
        The row's position in the session's ``X``.
    score : float
        Its score in the ranking in use when it was asked (higher = more anomalous).
    rank : int
        Its place in that ranking among the rows not yet answered (1 = the highest). Score and rank are
        those of the moment it was asked; a query still pending after a ``tell`` keeps them.
    reason : str
        Why it was chosen, in words, e.g. ``"highest score among rows not yet asked"``.
    """

    id: int | str
    index: int
    score: float
    rank: int
    reason: str

    def as_dict(self) -> dict:
        """The query as a JSON-ready dict."""
        return {"id": self.id, "index": self.index, "score": self.score, "rank": self.rank, "reason": self.reason}


@dataclass(frozen=True, eq=False)
class DiscoveryRecord:
    """The answers of a session, one entry per answered row in the order first answered.

    Attributes
    ----------
    ids : tuple
        Row ids.
    indices : numpy.ndarray of int
        Row positions in the session's ``X``.
    labels : tuple of str
        The current label of each row (``"anomaly"``, ``"nominal"`` or ``"skip"``);
        a row told again keeps its first place with its latest label.
    """

    ids: tuple
    indices: np.ndarray
    labels: tuple

    @property
    def found(self) -> np.ndarray:
        """1 where the answered row is an anomaly, else 0 (in answer order)."""
        return np.array([label == ANOMALY for label in self.labels], dtype=np.int64)

    @property
    def curve(self) -> np.ndarray:
        """The discovery curve D(k): anomalies among the first k answered rows."""
        from drama2.evaluation import discovery_curve

        return discovery_curve(self.found)

    @property
    def n_queries(self) -> int:
        """Number of rows answered (skips included)."""
        return len(self.labels)

    @property
    def n_found(self) -> int:
        """Number of anomalies found."""
        return int(self.found.sum())

    def __len__(self) -> int:
        return self.n_queries
