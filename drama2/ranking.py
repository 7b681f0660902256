"""Ranking scores and writing a ranked table whose rows arrive in input order (an external bucket sort).

:class:`Ranking` turns one score per input row into ranks (1 = highest score, ties in input order), for every
row or only the ``top`` ones. :class:`RankBuckets` collects output rows, which arrive in input order, into
rank ranges of at most :data:`BUCKET_ROWS` rows — kept in memory when one bucket holds the whole output,
otherwise written as Arrow IPC files — and gives them back sorted, one bucket at a time, so sorting needs the
memory of one bucket whatever the number of rows. :class:`RankedWriter` appends the sorted tables to a CSV or
Parquet file under a temporary name and renames it when complete.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

__all__ = ["Ranking", "RankBuckets", "RankedWriter", "BUCKET_ROWS", "MAX_BUCKETS", "OUTPUT_FORMATS"]

#: Rows per rank bucket: bounds the memory of sorting the output whatever the number of rows.
BUCKET_ROWS = 250_000
#: More buckets than this (over 128 million output rows) make each bucket larger instead of opening more files.
MAX_BUCKETS = 512
#: Output suffix → format.
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class Ranking:
    """Rank of every output row (1 = most anomalous; ties in file order), looked up by file position."""

    def __init__(self, scores: np.ndarray, limit: int | None):
        n_valid = int(np.isfinite(scores).sum())
        self.n_out = n_valid if limit is None else min(int(limit), n_valid)
        self.full = self.n_out == n_valid  # every scored row: one rank per file position
        if self.full:
            # Sort the negated scores in place (restored below) rather than a negated copy: 8 bytes per row
            # less at the peak. A stable sort keeps ties in file order and puts NaN (dropped rows) last.
            np.negative(scores, out=scores)
            try:
                order = np.argsort(scores, kind="stable")
            finally:
                np.negative(scores, out=scores)
            rank_type = np.int32 if scores.size < 2**31 - 1 else np.int64
            self.rank = np.zeros(scores.size, dtype=rank_type)  # 0 = not output
            step = 1 << 20
            for start in range(0, n_valid, step):  # in slices: no n-sized arange
                stop = min(n_valid, start + step)
                self.rank[order[start:stop]] = np.arange(start + 1, stop + 1, dtype=rank_type)
            del order
            self.rows = None
        else:
            key = -scores
            key[np.isnan(key)] = np.inf  # dropped rows are never chosen
            chosen = _smallest(key, self.n_out)
            self.rows = np.sort(chosen)
            positions = np.argsort(np.argsort(key[self.rows], kind="stable"), kind="stable")
            self.rows_rank = positions.astype(np.int64) + 1

    def lookup(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions within [start, stop) of the output rows there (relative to start), and their ranks."""
        if self.full:
            ranks = self.rank[start:stop]
            where = np.flatnonzero(ranks)
            return where, ranks[where].astype(np.int64)
        lo, hi = np.searchsorted(self.rows, [start, stop])
        return self.rows[lo:hi] - start, self.rows_rank[lo:hi]

    def wanted_rows(self):
        """Sorted file positions of the output rows (None for the full ranking: every row)."""
        return None if self.full else self.rows


def _smallest(key: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest keys, ties broken by position (lower first)."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= key.size:
        return np.argsort(key, kind="stable")[:k]
    threshold = key[np.argpartition(key, k - 1)[:k]].max()
    below = np.flatnonzero(key < threshold)
    at = np.flatnonzero(key == threshold)[:k - below.size]
    return np.concatenate([below, at])


class RankBuckets:
    """Output rows grouped by rank range; each bucket is sorted on its own, in rank order."""

    def __init__(self, n_out: int, directory: Path | None, bucket_rows: int):
        bucket_rows = max(1, int(bucket_rows))
        n_buckets = max(1, -(-n_out // bucket_rows))
        if n_buckets > MAX_BUCKETS:
            bucket_rows = -(-n_out // MAX_BUCKETS)
            n_buckets = -(-n_out // bucket_rows)
        self.bucket_rows, self.n_buckets = bucket_rows, n_buckets
        self.directory = directory
        self.memory = n_buckets == 1
        self.parts: list[list] = [[] for _ in range(n_buckets)] if self.memory else []
        self.writers: dict[int, object] = {}
        self.sinks: dict[int, object] = {}

    def write(self, table) -> None:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        if self.memory:
            self.parts[0].append(table)
            return
        bucket = (table.column("rank").to_numpy() - 1) // self.bucket_rows
        for b in np.unique(bucket):
            part = table.take(pa.array(np.flatnonzero(bucket == b)))
            if b not in self.writers:
                self.sinks[b] = pa.OSFile(str(self.directory / f"bucket-{b:05d}.arrow"), "wb")
                self.writers[b] = ipc.new_file(self.sinks[b], part.schema)
            self.writers[b].write_table(part)

    def sorted_tables(self):
        """Each bucket's rows sorted by rank, bucket after bucket."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        for writer, sink in zip(self.writers.values(), self.sinks.values()):
            writer.close()
            sink.close()
        for b in range(self.n_buckets):
            if self.memory:
                parts, self.parts[b] = self.parts[b], []
                if not parts:
                    continue
                table = pa.concat_tables(parts)
            else:
                if b not in self.writers:
                    continue
                path = self.directory / f"bucket-{b:05d}.arrow"
                with pa.OSFile(str(path)) as source:
                    table = ipc.open_file(source).read_all()
                path.unlink()
            order = np.argsort(table.column("rank").to_numpy(), kind="stable")
            yield table.take(pa.array(order))


class RankedWriter:
    """The output file: Parquet or CSV by suffix, written under a temporary name, renamed by :meth:`commit`."""

    def __init__(self, out: Path, feature_names: list[str]):
        self.out = out
        self.format = OUTPUT_FORMATS[out.suffix.lower()]
        self.tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
        self.names = feature_names
        self.writer = None

    def _finish_columns(self, table):
        import pyarrow as pa

        names = pa.array(self.names, type=pa.string())
        for i, column_name in enumerate(table.column_names):
            if not column_name.startswith("top_feature_"):
                continue
            codes = table.column(column_name).to_numpy()
            mask = codes < 0
            indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
            if self.format == "parquet":
                values = pa.DictionaryArray.from_arrays(indices, names)
            else:
                values = names.take(indices)
            table = table.set_column(i, column_name, values)
        return table

    def write(self, table, rows_per_group: int) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = self._finish_columns(table)
        if self.writer is None:
            if self.format == "parquet":
                # Dictionary-encode only the feature-name columns: trying it on the float columns costs
                # more than half the writing time and gains nothing.
                names = [c for c in table.column_names if c.startswith("top_feature_")]
                self.writer = pq.ParquetWriter(str(self.tmp), table.schema, use_dictionary=names or False)
            else:
                self.writer = pacsv.CSVWriter(str(self.tmp), table.schema)
        if self.format == "parquet":
            self.writer.write_table(table, row_group_size=max(1, rows_per_group))
        else:
            self.writer.write_table(table)

    def commit(self, empty_schema) -> None:
        if self.writer is None:  # no row to write: still a valid file with the columns
            self.write(empty_schema, 1)
        self.writer.close()
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the original error matters, not this one
                pass
        self.tmp.unlink(missing_ok=True)
