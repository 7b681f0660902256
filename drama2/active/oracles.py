"""Oracles answer queries: a simulated one from known labels, and a person at the terminal."""

from __future__ import annotations

import sys
from typing import Callable, Sequence

import numpy as np

from drama2.active.labels import ANOMALY, NOMINAL, SKIP, check_label
from drama2.active.records import Query
from drama2.errors import InvalidInputError

__all__ = ["Oracle", "LabelOracle", "TerminalOracle"]


class Oracle:
    """Something that answers queries: call it with a list of :class:`Query`, get ``{id: label}`` back.

    An answer may cover only some of the queries; an empty answer ends
    :meth:`ActiveSession.run <drama2.active.ActiveSession.run>`. Subclasses
    implement :meth:`answer`.
    """

    #: How many rows the oracle holds answers for, when it is a fixed table (``run`` checks it against the session).
    n_rows: int | None = None

    def answer(self, queries: Sequence[Query]) -> dict:
        """Labels (``"anomaly"``, ``"nominal"``, ``"skip"``) for some or all of ``queries``, keyed by id."""
        raise NotImplementedError

    def __call__(self, queries: Sequence[Query]) -> dict:
        return self.answer(queries)

    @staticmethod
    def from_labels(y) -> "LabelOracle":
        """A simulated expert who knows the true labels ``y`` (1 = anomaly, 0 = nominal, aligned with X's rows)."""
        return LabelOracle(y)


class LabelOracle(Oracle):
    """Answers from known 0/1 labels, as in a simulation (``Oracle.from_labels(y)``).

    Parameters
    ----------
    y : array-like of shape (n,)
        1 for an anomaly, 0 for a nominal row; NaN (or -1) for rows the expert
        cannot judge, answered "skip". The words "anomaly", "nominal" and
        "skip" (or None) work too. Indexed by the query's row ``index``.
    """

    def __init__(self, y):
        y = np.asarray(y).reshape(-1)
        if y.dtype.kind in "OUS":  # spelled-out answers: "anomaly", "nominal", "skip" (or None)
            codes = {ANOMALY: 1.0, NOMINAL: 0.0, SKIP: np.nan}
            y = np.array([codes[check_label(value, key=i)] for i, value in enumerate(y.tolist())])
        y = y.astype(np.float64)
        known = np.isfinite(y) & (y != -1)
        if not np.isin(y[known], (0, 1)).all():
            raise InvalidInputError("labels for an oracle must be 1 (anomaly), 0 (nominal), or NaN / -1 (unknown).")
        self.y = y
        self._known = known
        self.n_rows = y.size

    def answer(self, queries):
        out = {}
        for query in queries:
            if not 0 <= query.index < self.y.size:
                raise InvalidInputError(f"query for row {query.index}, but the oracle knows {self.y.size} labels.")
            if not self._known[query.index]:
                out[query.id] = SKIP
            else:
                out[query.id] = ANOMALY if self.y[query.index] == 1 else NOMINAL
        return out


class TerminalOracle(Oracle):
    """Asks a person at the terminal, one query at a time: ``a`` anomaly, ``n`` nominal, ``s`` skip, ``q`` quit.

    Parameters
    ----------
    describe : callable, optional
        ``describe(query) -> str``: what to show about a row (its values, a
        link to a cut-out, ...). By default the id, score, rank and reason.
    input_fn : callable, default :func:`input`
        Reads one answer; replace it to drive the oracle from elsewhere (tests).
    output : file-like, default sys.stderr
        Where prompts go (stdout stays free for results).

    Attributes
    ----------
    stopped : bool
        True once the person answered ``q`` (or input ended); :meth:`answer` then returns
        what was answered before, and an empty dict afterwards.
    """

    KEYS = {"a": ANOMALY, "n": NOMINAL, "s": SKIP}

    def __init__(self, describe: Callable[[Query], str] | None = None, input_fn: Callable[[str], str] = input,
                 output=None):
        self.describe = describe
        self.input_fn = input_fn
        self.output = output
        self.stopped = False

    def _print(self, text: str) -> None:
        print(text, file=self.output or sys.stderr, flush=True)

    def answer(self, queries):
        out = {}
        for query in queries:
            if self.stopped:
                break
            self._print(f"\nrow {query.id!r} (index {query.index}): score {query.score:.4g}, rank {query.rank}, "
                        f"{query.reason}")
            if self.describe is not None:
                self._print(self.describe(query))
            while True:
                try:
                    reply = self.input_fn("[a]nomaly / [n]ominal / [s]kip / [q]uit > ").strip().lower()
                except EOFError:
                    reply = "q"
                if reply[:1] == "q":
                    self.stopped = True
                    break
                if reply[:1] in self.KEYS:
                    out[query.id] = self.KEYS[reply[:1]]
                    break
                self._print("please answer a, n, s or q")
        return out
