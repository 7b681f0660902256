"""The run directory: one JSON record per finished job, results.csv, manifest.json.

Every file is written to a temporary name in the same directory and renamed
into place, so a run killed at any moment leaves either the old file or the
new one, never half of one. A job whose rows include a failure is recorded
(so its error is visible) but not counted as done, so ``--resume`` retries it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from drama2.bench.execute import RESULT_COLUMNS

DONE_STATUSES = ("ok", "skipped")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        """results.csv as a pandas DataFrame."""
        import pandas as pd

        path = self.root / "results.csv"
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
