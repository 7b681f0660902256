"""ActiveSession: ask about the most promising rows, learn from the answers, repeat."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

import numpy as np

from drama2._version import __version__
from drama2.active.labels import ANOMALY, LABELS, NOMINAL, SKIP, parse_label
from drama2.active.records import DiscoveryRecord, Query
from drama2.active.store import LabelLog, ids_digest, now
from drama2.active.strategies import best_rows, make_strategy
from drama2.active.updaters import UPDATERS, make_updater
from drama2.errors import InvalidInputError
from drama2.validation import check_array, rows_digest

__all__ = ["ActiveSession"]

_UNANSWERED = -1
_CODES = {NOMINAL: 0, ANOMALY: 1, SKIP: 2}


def _check_ids(ids, n: int) -> list:
    if ids is None:
        return list(range(n))
    ids = [i.item() if isinstance(i, np.generic) else i for i in ids]
    if len(ids) != n:
        raise InvalidInputError(f"ids has {len(ids)} values for {n} rows; give one id per row of X.")
    bad = [row for row, i in enumerate(ids) if isinstance(i, bool) or not isinstance(i, (int, str))]
    if bad:
        first = ids[bad[0]]
        raise InvalidInputError(f"ids must be ints or strings (they are written to the label log); got "
                                f"{type(first).__name__} {first!r} for row {bad[0]}"
                                + (f" and {len(bad) - 1} more rows" if len(bad) > 1 else "")
                                + " (an empty id cell in a table reads as NaN).")
    if len(set(ids)) != n:
        seen, repeated = set(), []
        for i in ids:
            if i in seen and len(repeated) < 5:
                repeated.append(i)
            seen.add(i)
        raise InvalidInputError(f"ids must be unique; repeated: {', '.join(map(repr, repeated))}.")
    return ids


def _as_int(key):
    """``key`` as an int when it is the text of one (``"0042"`` -> 42), else None."""
    if isinstance(key, str) and key.strip().lstrip("+-").isdigit():
        return int(key)
    return None


def _seed(random_state, ids_sha: str) -> int:
    if random_state is None:  # still repeatable, so a resumed session breaks ties the same way
        return int(ids_sha[:8], 16) & 0x7FFFFFFF
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InvalidInputError(f"random_state must be a non-negative int, got {random_state!r}.")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise InvalidInputError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}.")


def _resumed_updater(updater, logged: dict | None):
    """``updater``, except that ``"auto"`` with an existing log means the updater the log was written with.

    So a script that relies on the default resumes its own sessions even after the default's choice changes.
    A log whose updater name or settings are not what a built-in updater takes leaves ``"auto"`` as it is, and
    the header check then says what differs.
    """
    name = (logged or {}).get("updater")
    if not (isinstance(updater, str) and updater == "auto" and isinstance(name, str) and name in UPDATERS):
        return updater
    params = logged.get("updater_params")
    defaults = UPDATERS[name]().params()
    if not (isinstance(params, dict) and set(params) <= set(defaults)
            and all(_same_kind(value, defaults[key]) for key, value in params.items())):
        return updater
    return UPDATERS[name](**params)


def _same_kind(value, default) -> bool:
    """Whether a logged setting could stand where ``default`` does (a number for a number, None for None)."""
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if isinstance(default, bool):
        return isinstance(value, bool)
    if default is None:
        return value is None or number(value)
    return number(value) if number(default) else isinstance(value, type(default))


class ActiveSession:
    """Active anomaly discovery over the rows of ``X`` with a fitted detector.

    The session ranks the rows, :meth:`ask` hands out the most promising
    unanswered ones as :class:`~drama2.active.Query` objects, :meth:`tell`
    takes the answers (anomaly, nominal or skip) and the updater re-ranks.
    :meth:`run` loops with an :class:`~drama2.active.Oracle`. With ``store``
    every answer is written to a label log at once, and a session created again
    with the same detector, data and settings replays it and continues exactly
    where the first one stopped.

    Parameters
    ----------
    detector : fitted detector
        Usually a fitted :class:`drama2.ensemble.Ensemble` (needed by the
        ``"select"`` updater) or an isolation forest (whose leaves ``"aad"``
        re-weights; ``"aad"`` also re-weights an Ensemble's members). Any
        detector with ``score_samples`` works with ``updater="none"``.
    X : array-like of shape (n_samples, n_features)
        The rows to query.
    ids : sequence of int or str, optional
        One unique id per row (catalogue names, object ids); default 0 … n-1.
    updater : {"auto", "aad", "select", "none"} or Updater, default "auto"
        How labels change the ranking: ``"aad"`` re-weights the ensemble's
        members or the forest's leaves by Active Anomaly Discovery (Das et
        al.); ``"select"`` the members by label-efficient member selection;
        ``"none"`` keeps the initial ranking. ``"auto"`` takes the one that
        found the most anomalies in our benchmark for this kind of detector:
        ``"select"`` for an Ensemble, ``"aad"`` for an isolation forest,
        ``"none"`` otherwise; when ``store`` holds a log already, the
        updater (and settings) it was written with, so the session resumes.
    strategy : {"greedy", "topk", "diverse"} or Strategy, default "greedy"
        Which rows to ask about: the best unanswered one, the ``n`` best, or a
        batch spread over clusters (DRAMA leaves or k-means).
    store : str or os.PathLike, optional
        Path of the JSON-lines label log (created if missing, replayed if present).
    random_state : int, numpy Generator or None
        Seeds the tie-breaking order and k-means. None derives a fixed seed from
        the ids, so sessions are repeatable (and resumable) either way.
    fitted_on_X : bool, default False
        Set True when ``X`` is exactly the data a detector other than an
        Ensemble was fitted on: its ``decision_scores_`` are used instead of
        scoring ``X`` again (neighbour-based detectors then do not count a row
        as its own neighbour). An Ensemble recognises its training rows by
        itself.

    Attributes
    ----------
    n_rows : int
    ids : list
    last_update_seconds : float
        Time the updater took after the last :meth:`tell`.

    Examples
    --------
    >>> ensemble = Ensemble(random_state=0).fit(X)                            # doctest: +SKIP
    >>> session = ActiveSession(ensemble, X, store="labels.jsonl")            # doctest: +SKIP
    >>> q = session.ask()[0]                                                   # doctest: +SKIP
    >>> session.tell({q.id: "anomaly"})                                        # doctest: +SKIP
    """

    def __init__(self, detector, X, ids=None, updater="auto", strategy="greedy", store=None, random_state=None,
                 *, fitted_on_X: bool = False):
        self.detector = detector
        self.X = check_array(X, estimator="ActiveSession")
        self.n_rows = self.X.shape[0]
        self.ids = _check_ids(ids, self.n_rows)
        self._index = {i: k for k, i in enumerate(self.ids)}
        self.fitted_on_X = bool(fitted_on_X)
        # An Ensemble recognises its training rows; the log header keeps the flag as the user gave it.
        recognises = getattr(detector, "is_training_data", None)
        self._on_training = self.fitted_on_X or (recognises is not None and recognises(self.X))
        self._log = None if store is None else LabelLog(store)
        logged, events = self._log.read() if self._log is not None and self._log.exists() else (None, [])
        resumed = _resumed_updater(updater, logged)
        self.updater = make_updater(resumed, detector)
        self.strategy = make_strategy(strategy)
        ids_sha = ids_digest(self.ids)
        self.seed = _seed(random_state, ids_sha)
        self._tiebreak = np.random.default_rng(self.seed).permutation(self.n_rows)

        try:
            self._scores = self._initial_scores()
        except InvalidInputError as exc:
            if resumed is updater:
                raise
            raise InvalidInputError(
                f"the label log {self._log.path} was written with updater {self.updater.name!r} for "
                f"detector {logged.get('detector', '(not recorded)')}, which does not fit this "
                f"{type(detector).__name__} "
                f"({exc}). Resume it with the detector it was written for, or use a new store path.") from exc
        self.strategy.prepare(detector, self.X, self._on_training, self.seed)
        self._codes = np.full(self.n_rows, _UNANSWERED, dtype=np.int8)
        self._order: list[int] = []
        self._pending: list[Query] = []
        self._fed: tuple[bytes, bytes] = (b"", b"")
        self._seq = 1
        self._tells = 0
        self.last_update_seconds = 0.0

        if self._log is not None:
            header = self._header(ids_sha)
            if logged is not None:
                self._log.check_header(logged, header)
                self._replay(events)
            else:
                self._log.create(header)

    # ------------------------------------------------------------------ set-up
    def _initial_scores(self) -> np.ndarray:
        if self.fitted_on_X:
            n_train = getattr(self.detector, "decision_scores_", None)
            if n_train is not None and len(n_train) != self.n_rows:
                raise InvalidInputError(f"fitted_on_X=True, but the detector was fitted on {len(n_train)} rows and "
                                        f"X has {self.n_rows}; pass the training data, or fitted_on_X=False.")
            digest = getattr(self.detector, "_fit_rows_digest", None)
            if digest is not None and digest != rows_digest(self.X):
                raise InvalidInputError("fitted_on_X=True, but X is not the data the detector was fitted on (as many "
                                        "rows, other values); pass the training data, or fitted_on_X=False.")
        scores = np.array(self.updater.bind(self.detector, self.X, self._on_training), dtype=np.float64)
        if scores.shape != (self.n_rows,):
            raise InvalidInputError(f"the updater gave {scores.shape} scores for {self.n_rows} rows.")
        return scores

    def _header(self, ids_sha: str) -> dict:
        return {
            "drama2": __version__,
            "created": now(),
            "n_rows": self.n_rows,
            "ids_sha256": ids_sha,
            "updater": self.updater.name,
            "updater_params": self.updater.params(),
            "strategy": self.strategy.name,
            "strategy_params": self.strategy.params(),
            "seed": self.seed,
            "fitted_on_X": self.fitted_on_X,
            "detector": type(self.detector).__name__,
            "members": list(getattr(self.detector, "member_labels_", [])),
            "scores_sha256": hashlib.sha256(self._scores.tobytes()).hexdigest(),
        }

    def _replay(self, events: list[dict]) -> None:
        for event in events:
            index = self._index.get(event["id"]) if isinstance(event["id"], (int, str)) else None
            if index is None:
                raise InvalidInputError(f"label log {self._log.path}: event {event.get('seq')} names id "
                                        f"{event['id']!r}, which is not a row of this session.")
            if event["event"] == "query":
                if event.get("index") != index:
                    raise InvalidInputError(f"label log {self._log.path}: query {event.get('seq')} has row index "
                                            f"{event.get('index')} for id {event['id']!r}, this session has {index}.")
                if self._codes[index] == _UNANSWERED and all(q.index != index for q in self._pending):
                    self._pending.append(Query(self.ids[index], index, float(event["score"]), int(event["rank"]),
                                               str(event["reason"])))
            else:
                label = parse_label(event.get("label"))
                if label is None:
                    raise InvalidInputError(f"label log {self._log.path}: event {event.get('seq')} has a bad label "
                                            f"{event.get('label')!r}.")
                self._apply(index, label)
                self._tells = max(self._tells, int(event.get("tell", 0)))
            self._seq = max(self._seq, int(event.get("seq", 0)) + 1)
        self._refresh()

    # ------------------------------------------------------------------ state
    def _apply(self, index: int, label: str) -> None:
        if self._codes[index] == _UNANSWERED:
            self._order.append(index)
        self._codes[index] = _CODES[label]
        self._pending = [q for q in self._pending if q.index != index]

    def _refresh(self) -> None:
        anomalies = np.flatnonzero(self._codes == _CODES[ANOMALY])
        nominals = np.flatnonzero(self._codes == _CODES[NOMINAL])
        fed = (anomalies.tobytes(), nominals.tobytes())
        if fed == self._fed:  # only skips (or nothing) changed: the ranking cannot change
            return
        start = time.perf_counter()
        scores = np.array(self.updater.scores_for(anomalies, nominals), dtype=np.float64)
        self.last_update_seconds = time.perf_counter() - start
        self._scores = scores
        self._fed = fed

    def _rank(self, index: int) -> int:
        s, t = self._scores[index], self._tiebreak[index]
        open_rows = self._codes == _UNANSWERED
        above = (self._scores > s) | ((self._scores == s) & (self._tiebreak < t))
        return int(np.count_nonzero(open_rows & above)) + 1

    def _record(self, record: dict) -> None:
        if self._log is not None:
            self._log.append({"seq": self._seq, **record, "time": now()})
        self._seq += 1

    # ------------------------------------------------------------------ public API
    def ask(self, n: int = 1) -> list[Query]:
        """The next ``n`` rows to label (fewer when fewer are left unanswered).

        Asking again before :meth:`tell` returns the same pending queries;
        asking for more than are pending adds new ones after them.

        Parameters
        ----------
        n : int, default 1

        Returns
        -------
        list of Query
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidInputError(f"n must be a positive integer, got {n!r}.")
        missing = int(n) - len(self._pending)
        if missing > 0:
            available = self._codes == _UNANSWERED
            for q in self._pending:
                available[q.index] = False
            for index, reason in self.strategy.select(self._scores, self._tiebreak, available, missing):
                query = Query(self.ids[index], int(index), float(self._scores[index]), self._rank(index), reason)
                self._record({"event": "query", **query.as_dict()})
                self._pending.append(query)
        return list(self._pending[:n])

    def tell(self, labels) -> None:
        """Record answers and update the ranking.

        Parameters
        ----------
        labels : mapping of id to label
            ``{id: "anomaly" | "nominal" | "skip"}`` (also 1 / True, 0 / False,
            None or NaN for skip). Any row of the session may be labelled, asked or not; pending
            queries not answered stay pending. A row told again takes the new label.
            :class:`Query` objects are accepted as keys.

        Raises
        ------
        InvalidInputError
            For an id that is not a row of the session or a value that is not a
            label; nothing is recorded then.
        """
        if not (isinstance(labels, Mapping) or hasattr(labels, "items")):
            raise InvalidInputError(f"tell() takes a mapping {{id: label}}, got {type(labels).__name__}.")
        parsed, unknown, bad = [], [], []
        for key, value in labels.items():
            key = key.id if isinstance(key, Query) else key
            try:
                index = self._index.get(key)
            except TypeError:  # unhashable
                index = None
            label = parse_label(value)
            if index is None:
                unknown.append(key)
            elif label is None:
                bad.append((key, value))
            else:
                parsed.append((index, label))
        if unknown:
            shown = ", ".join(map(repr, unknown[:5])) + (" …" if len(unknown) > 5 else "")
            # Ids read from a CSV are text, from Parquet numbers: say so when the other type would have matched.
            retyped = next((alt for key in unknown for alt in (str(key), _as_int(key))
                            if alt is not None and alt != key and alt in self._index), None)
            hint = (f" The session's ids are {'text' if isinstance(retyped, str) else 'integers'}: did you mean "
                    f"{retyped!r}?"
                    if retyped is not None else "")
            raise InvalidInputError(f"tell(): {len(unknown)} unknown id(s): {shown}. Ids are those given to the "
                                    f"session (row numbers 0 … {self.n_rows - 1} by default); nothing was "
                                    f"recorded.{hint}")
        if bad:
            shown = ", ".join(f"{k!r}: {v!r}" for k, v in bad[:5])
            raise InvalidInputError(f"tell(): bad label(s) {shown}; use one of {', '.join(LABELS)} "
                                    "(or 1 / True, 0 / False, None / NaN). Nothing was recorded.")
        if not parsed:
            return
        self._tells += 1
        try:
            for index, label in parsed:
                self._record({"event": "label", "tell": self._tells, "id": self.ids[index], "label": label})
                self._apply(index, label)
        finally:  # a failed write leaves memory and log agreeing on what was told
            self._refresh()

    def run(self, oracle, budget: int, batch_size: int = 1) -> DiscoveryRecord:
        """Ask, get answers from ``oracle``, tell; until ``budget`` rows are answered.

        Parameters
        ----------
        oracle : Oracle or callable
            Called with a list of queries, returns ``{id: label}``; an empty
            answer stops the loop (e.g. the person quit).
        budget : int
            Total number of answered rows the session should reach (answers given
            before, or replayed from the store, count), so a resumed script with
            the same budget does only the remaining queries.
        batch_size : int, default 1
            Queries per round; 1 re-ranks after every answer.

        Returns
        -------
        DiscoveryRecord
            Every answer of the session so far (:attr:`record`).
        """
        for name, value, low in (("budget", budget, 0), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}.")
        known = getattr(oracle, "n_rows", None)  # a fixed table of answers (LabelOracle): it must fit the rows
        if isinstance(known, (int, np.integer)) and not isinstance(known, bool) and known != self.n_rows:
            raise InvalidInputError(f"the oracle holds labels for {known} rows but the session has {self.n_rows}; "
                                    "give it one label per row of X, in the same order.")
        while len(self._order) < budget:
            queries = self.ask(min(int(batch_size), int(budget) - len(self._order)))
            if not queries:
                break
            answers = oracle(queries)
            before = len(self._order)
            if answers:
                self.tell(answers)
            if len(self._order) == before:
                break
        return self.record

    # ------------------------------------------------------------------ views
    @property
    def scores(self) -> np.ndarray:
        """Current score of every row (higher = more anomalous); a read-only array."""
        view = self._scores.view()
        view.setflags(write=False)
        return view

    @property
    def weights(self) -> np.ndarray | None:
        """Current member weights (None for a detector other than an ensemble or forest).

        After ``"aad"`` on an Ensemble, ``ensemble.reweight(session.weights, combination="mean")`` carries
        them over to the ensemble (AAD scores by a weighted mean). After ``"select"`` the session's ranking
        also uses closeness to the labelled anomalies, which weights cannot carry: call
        ``ensemble.select(X, anomalies, nominals)`` with the labelled rows instead."""
        return self.updater.weights

    @property
    def pending(self) -> tuple[Query, ...]:
        """Queries handed out by :meth:`ask` and not answered yet."""
        return tuple(self._pending)

    @property
    def labels(self) -> dict:
        """``{id: label}`` of every answered row, in the order first answered."""
        names = {code: label for label, code in _CODES.items()}
        return {self.ids[i]: names[int(self._codes[i])] for i in self._order}

    @property
    def record(self) -> DiscoveryRecord:
        """The discovery record: answered rows in answer order with their labels."""
        labels = self.labels
        return DiscoveryRecord(tuple(labels), np.array(self._order, dtype=np.int64), tuple(labels.values()))

    @property
    def n_answered(self) -> int:
        """Number of rows answered (skips included)."""
        return len(self._order)

    def ranking(self, include_answered: bool = False) -> np.ndarray:
        """Row indices by current score, best first (unanswered rows only by default).

        Tied scores are ordered by the session's fixed random tie-break, not by row position.

        Parameters
        ----------
        include_answered : bool, default False
            Also rank the rows that already have an answer.

        Returns
        -------
        ndarray of int64
            Row positions in ``X``, highest current score first.
        """
        available = np.ones(self.n_rows, bool) if include_answered else self._codes == _UNANSWERED
        return best_rows(self._scores, self._tiebreak, available, int(available.sum()))

    def close(self) -> None:
        """Close the label log (it reopens on the next write)."""
        if self._log is not None:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        found = int(np.count_nonzero(self._codes == _CODES[ANOMALY]))
        return (f"ActiveSession({self.n_rows} rows, updater={self.updater.name!r}, strategy={self.strategy.name!r}, "
                f"{len(self._order)} answered, {found} anomalies, {len(self._pending)} pending)")
