"""The run directory: one JSON record per finished job, results.csv, manifest.json.

Every file is written to a temporary name in the same directory and renamed
into place, so a run killed at any moment leaves either the old file or the
new one, never half of one. A job whose rows include a failure is recorded
(so its error is visible) but not counted as done, so ``--resume`` retries it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drama2.bench.execute import RESULT_COLUMNS
from drama2.files import temporary_beside

DONE_STATUSES = ("ok", "skipped")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_beside(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunLock:
    """Claims a run directory for one ``drama2 bench`` process at a time (a ``.lock`` file, removed on exit).

    Two runs writing one directory would fit the same jobs twice and overwrite each other's results and
    manifest. A lock left by a process that no longer runs on this machine (killed with SIGKILL) is taken
    over; one from another machine cannot be checked, so the error says how to remove it.

    Parameters
    ----------
    root : str or Path
        The run directory.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.path = self.root / ".lock"

    def __enter__(self):
        import socket
        import time

        from drama2.errors import InvalidInputError

        self.root.mkdir(parents=True, exist_ok=True)
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._holder()
                if holder.get("host") == mine["host"] and not _alive(holder.get("pid")):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                raise InvalidInputError(
                    f"{self.root} is in use by another drama2 bench (pid {holder.get('pid', '?')} on "
                    f"{holder.get('host', '?')}, started {holder.get('started', '?')}). Wait for it to finish or "
                    f"give another --out; if that run is no longer going, delete {self.path}.") from None
            with os.fdopen(fd, "w") as fh:
                json.dump(mine, fh)
            return self
        raise InvalidInputError(f"could not claim {self.root}: {self.path} keeps reappearing; delete it and retry.")

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)

    def _holder(self) -> dict:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}


def _alive(pid) -> bool:
    """Whether a process with this id runs on this machine."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


class RunStore:
    """Read and write a run directory.

    Parameters
    ----------
    root : str or Path
        The run directory (created on first write).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.jobs_dir = self.root / "jobs"

    def record_path(self, key: str) -> Path:
        return self.jobs_dir / f"{key}.json"

    def save_job(self, key: str, identity: dict, rows: list[dict]) -> None:
        """Persist one finished job's rows, atomically."""
        record = {"key": key, "identity": identity, "rows": rows}
        write_atomic(self.record_path(key), json.dumps(record, default=_json_default, indent=1).encode())

    def load_job(self, key: str) -> list[dict] | None:
        """The rows recorded for ``key``, or None when absent or unreadable."""
        path = self.record_path(key)
        try:
            return json.loads(path.read_text())["rows"]
        except (OSError, ValueError, KeyError):
            return None

    def finished_rows(self, key: str) -> list[dict] | None:
        """The rows of ``key`` if it finished without a failure (what ``--resume`` skips), else None."""
        rows = self.load_job(key)
        return rows if rows and all(r.get("status") in DONE_STATUSES for r in rows) else None

    def write_results(self, rows: list[dict], *, parquet: bool = True) -> Path:
        """Write results.csv (and results.parquet when pyarrow is installed and ``parquet``), atomically."""
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        # Whole numbers stay whole (split level 1, not 1.0) though scorer rows have no split level.
        frame = frame.astype({name: "Int64" for name in ("split_level", "seed") if name in frame})
        path = self.root / "results.csv"
        write_atomic(path, frame.to_csv(index=False).encode())
        if not parquet:
            return path
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return path
        write_atomic(self.root / "results.parquet", frame.astype({"params": "string", "error": "string", "warnings": "string"})
                     .to_parquet(index=False))
        return path

    def read_results(self):
        """results.csv (or a gzipped results.csv.gz, as archived run directories keep it) as a DataFrame."""
        import pandas as pd

        path = self.root / "results.csv"
        if not path.is_file() and (self.root / "results.csv.gz").is_file():
            path = self.root / "results.csv.gz"
        if not path.is_file():
            from drama2.errors import InvalidInputError

            raise InvalidInputError(f"{self.root} is not a bench run directory (no results.csv); run "
                                    f"`drama2 bench --out {self.root}` first.")
        return pd.read_csv(path, keep_default_na=True)

    def write_manifest(self, manifest: dict) -> None:
        write_atomic(self.root / "manifest.json", json.dumps(manifest, default=_json_default, indent=2).encode())

    def read_manifest(self) -> dict:
        try:
            return json.loads((self.root / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}
