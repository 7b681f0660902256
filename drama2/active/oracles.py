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
        """Labels (``"anomaly"``, ``"nominal"``, ``"skip"``) for some or all of ``queries``, keyed by id.

        Parameters
        ----------
        queries : sequence of Query
            The rows to label.

        Returns
        -------
        dict
            ``{query.id: label}`` for the queries answered; an empty dict
            ends :meth:`ActiveSession.run <drama2.active.ActiveSession.run>`.
        """
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
        """Look up every query's row (its ``index``) in the known labels.

        Parameters
        ----------
        queries : sequence of Query
            The rows to label; each ``index`` must be a position in ``y``.

        Returns
        -------
        dict
            ``{query.id: label}`` for every query: ``"anomaly"`` or
            ``"nominal"``, or ``"skip"`` for rows whose label is unknown.
        """
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

    The full words (``anomaly``, ``nominal``, ``skip``, ``quit``) work too; any
    other reply is asked again. Ctrl-C and the end of input count as ``q``:
    the answers given so far in the batch are returned, so a session logs them.

    Parameters
    ----------
    describe : callable, optional
        ``describe(query) -> str``: what to show about a row (its values, a
        link to a cut-out, ...). By default the id, score, rank and reason.
    input_fn : callable, optional
        ``input_fn(prompt) -> str`` reads one answer; replace it to drive the
        oracle from elsewhere (tests). By default the prompt is written to
        ``output`` and the answer read with :func:`input`.
    output : file-like, default sys.stderr
        Where descriptions and prompts go (stdout stays free for results).

    Attributes
    ----------
    stopped : bool
        True once the person answered ``q`` (or input ended); :meth:`answer` then returns
        what was answered before, and an empty dict afterwards.
    """

    KEYS = {"a": ANOMALY, "anomaly": ANOMALY, "n": NOMINAL, "nominal": NOMINAL, "s": SKIP, "skip": SKIP}
    QUIT = ("q", "quit")
    PROMPT = "[a]nomaly / [n]ominal / [s]kip / [q]uit > "

    def __init__(self, describe: Callable[[Query], str] | None = None,
                 input_fn: Callable[[str], str] | None = None, output=None):
        self.describe = describe
        self.input_fn = input_fn
        self.output = output
        self.stopped = False

    def _print(self, text: str, end: str = "\n") -> None:
        print(text, file=self.output or sys.stderr, end=end, flush=True)

    def _read(self) -> str:
        if self.input_fn is not None:
            return self.input_fn(self.PROMPT)
        self._print(self.PROMPT, end="")  # input() would print its prompt on stdout
        return input()

    def answer(self, queries):
        """Show each query and read the person's answer, in order, until they quit.

        Parameters
        ----------
        queries : sequence of Query
            The rows to ask about.

        Returns
        -------
        dict
            ``{query.id: label}`` for the queries answered before a quit; empty
            once the oracle has stopped.
        """
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
                    reply = self._read().strip().lower()
                except EOFError:
                    reply = "q"
                except KeyboardInterrupt:  # stop as q does: the answers given so far are kept
                    self._print("")
                    reply = "q"
                if reply in self.QUIT:
                    self.stopped = True
                    break
                if reply in self.KEYS:
                    out[query.id] = self.KEYS[reply]
                    break
                self._print(f"{reply!r} is not an answer: type a (anomaly), n (nominal), s (skip) or q (quit)")
        return out
