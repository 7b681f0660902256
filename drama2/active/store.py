"""The label log: an append-only JSON-lines file that lets a session resume exactly.

Line 1 is a header describing the session (drama2 version, number of rows, a
hash of the row ids, updater and strategy with their settings, seed, a hash of
the initial scores). Every later line is one event, written and flushed (and
fsynced) the moment it happens:

- ``{"event": "label", "seq": 7, "tell": 3, "id": "J0123+45", "label": "anomaly", "time": "…"}``
  — one line per told label;
- ``{"event": "query", "seq": 6, "id": …, "index": …, "score": …, "rank": …, "reason": …, "time": …}``
  — one line per query handed out by ``ask``, so pending queries survive too.

A crash can at worst leave a half-written last line, which is dropped (with a
warning) when the log is next opened; nothing told before is lost.

One log belongs to one session at a time. Every write first checks that the
file is as long as this session left it; when another session (in this
process or another) has written to it since, the write is refused, so two
sessions cannot mix their answers or overwrite each other's lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

from drama2.errors import InvalidInputError

__all__ = ["LabelLog", "FORMAT", "ids_digest", "now"]

FORMAT = "drama2-active-label-log"
FORMAT_VERSION = 1

#: Header fields that must agree between a log and the session that opens it.
CHECKED_FIELDS = ("n_rows", "ids_sha256", "detector", "updater", "updater_params", "strategy", "strategy_params",
                  "seed")


#: What a replay reads from each kind of event (besides ``event`` and ``id``).
_EVENT_FIELDS = {"label": ("seq", "label"), "query": ("seq", "index", "score", "rank", "reason")}


def ids_digest(ids) -> str:
    """sha256 of the row ids in order (as JSON)."""
    return hashlib.sha256(json.dumps(list(ids), separators=(",", ":")).encode()).hexdigest()


def now() -> str:
    """The current UTC time as an ISO 8601 string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class LabelLog:
    """An append-only JSON-lines label log at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The log file; its directory must exist.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fh = None
        self._size = None  # bytes of the file as this session last read or wrote it
        if self.path.is_dir():
            raise InvalidInputError(f"the label log {self.path} is a folder; give a file path such as "
                                    f"{self.path / 'labels.jsonl'}.")
        if not self.path.parent.is_dir():
            raise InvalidInputError(f"the label log's folder {self.path.parent} does not exist; create it first "
                                    "or choose another path.")

    def exists(self) -> bool:
        """Whether the file exists and is not empty."""
        return self.path.exists() and self.path.stat().st_size > 0

    def read(self) -> tuple[dict, list[dict]]:
        """The header and the events, in order.

        A last line cut short by a crash (no final newline and not valid JSON)
        is removed from the file with a warning; any other unreadable line is an error.

        Returns
        -------
        header : dict
        events : list of dict
        """
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            cut = raw.rfind(b"\n") + 1
            tail = raw[cut:]
            try:
                json.loads(tail)
                complete = True
            except ValueError:
                complete = False
            if complete:  # a whole record whose newline was lost: keep it
                with open(self.path, "ab") as fh:
                    fh.write(b"\n")
                raw += b"\n"
            else:
                warnings.warn(f"{self.path}: the last line was cut short (a crash while writing?) and is dropped: "
                              f"{tail[:80]!r}", UserWarning, stacklevel=3)
                with open(self.path, "r+b") as fh:
                    fh.truncate(cut)
                raw = raw[:cut]
        self._size = len(raw)
        lines = raw.decode("utf-8", errors="replace").splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise InvalidInputError(f"{self.path} is not a drama2 label log (its first line is not a "
                                    f"{FORMAT!r} header); choose another store path.")
        events = []
        for number, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise InvalidInputError(f"{self.path}, line {number}: not valid JSON ({exc}); the label log is "
                                        "damaged. Fix or remove that line by hand.") from None
        if header.get("format_version", 0) > FORMAT_VERSION:
            raise InvalidInputError(f"{self.path} was written by a newer drama2 (log format "
                                    f"{header.get('format_version')}); upgrade drama2 to read it.")
        for number, event in enumerate(events, 2):
            if not isinstance(event, dict) or event.get("event") not in ("label", "query") or "id" not in event:
                raise InvalidInputError(f"{self.path}, line {number}: not a label or query event: {event!r}.")
            # A hand-edited line must still say everything a replay reads; a missing label is not a skip.
            missing = [key for key in _EVENT_FIELDS[event["event"]] if key not in event]
            seq = event.get("seq")
            if missing or isinstance(seq, bool) or not isinstance(seq, int):
                problem = f"lacks {', '.join(missing)}" if missing else f"has seq {seq!r}, not an integer"
                raise InvalidInputError(f"{self.path}, line {number}: this {event['event']} event {problem}; "
                                        "the label log is damaged. Fix or remove that line by hand.")
        return header, events

    def check_header(self, header: dict, expected: dict) -> None:
        """Raise :class:`InvalidInputError` when ``header`` does not describe the session ``expected`` describes.

        The fields in ``CHECKED_FIELDS`` must be equal; differing initial-score
        hashes (``scores_sha256``) only warn.

        Parameters
        ----------
        header : dict
            The header read from the log.
        expected : dict
            The header the current session would write.
        """
        problems = [f"{key}: log has {header.get(key)!r}, this session has {expected.get(key)!r}"
                    for key in CHECKED_FIELDS if header.get(key) != expected.get(key)]
        if problems:
            raise InvalidInputError(f"the label log {self.path} was written by a different session, so it cannot be "
                                    "resumed here (" + "; ".join(problems) + "). Create the session with the same "
                                    "kind of detector, data, ids, updater, strategy and random_state, or use a new "
                                    "store path.")
        if header.get("scores_sha256") != expected.get("scores_sha256"):
            warnings.warn(f"{self.path}: the detector's initial scores differ from those the log was written with "
                          "(a refit with another seed or version?); the labels are replayed, but the ranking will "
                          "not be exactly the one of the original session.", UserWarning, stacklevel=3)

    def create(self, header: dict) -> None:
        """Start a new log with ``header`` (the file must not exist or be empty).

        The file is overwritten with a single header line (format and format
        version added), flushed and fsynced.

        Parameters
        ----------
        header : dict
            JSON-serialisable description of the session.
        """
        self._write({"format": FORMAT, "format_version": FORMAT_VERSION, **header}, mode="w")

    def append(self, record: dict) -> None:
        """Append one event and make it durable before returning.

        Refused with :class:`InvalidInputError` when the file changed since
        this object last read or wrote it.

        Parameters
        ----------
        record : dict
            JSON-serialisable event (a ``"label"`` or ``"query"`` line).
        """
        self._write(record, mode="a")

    def _write(self, record: dict, mode: str) -> None:
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()
        if mode == "w":
            self.close()
            with open(self.path, "wb") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            self._size = len(line)
            return
        self._check_unchanged()
        if self._fh is None:
            self._fh = open(self.path, "ab")  # append mode: a write never lands on top of another line
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._size += len(line)

    def _check_unchanged(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise InvalidInputError(f"the label log {self.path} was removed while this session used it; nothing "
                                    "more was written. Create the session again to start a new log.") from None
        if size != self._size:
            raise InvalidInputError(
                f"the label log {self.path} was changed by someone else since this session last wrote to it "
                f"({size} bytes, {self._size} expected): another session is using the same log. Nothing was "
                "written. Keep one session per log: close the other one and create this session again (it "
                "replays the log), or give each session its own store path.")

    def close(self) -> None:
        """Close the file (it is reopened on the next append)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
