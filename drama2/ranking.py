"""Ranking a stream of scores, and writing the ranked table, in memory that does not grow with the rows.

Rows are ordered by the key (−score, file position): rank 1 is the highest score (+inf included), ties go in
file order, and rows with a NaN score (dropped for missing values) are never output. Nothing here holds one value per row:

- :class:`ScoreSpool` keeps the scores of the scoring pass in memory while they are few and otherwise appends
  them to a temporary file, from which the writing pass reads them back chunk by chunk.
- :class:`TopKeys` keeps the ``k`` smallest keys of the stream: the rows of ``--top N`` (and, when there are
  more of them than a bucket holds, their bucket boundaries) and the thresholds "rank ≤ k" (rows to
  explain, rows of the figure).
- :class:`KeySample` is a uniform random sample of the keys, whose quantiles split the key range of a full
  ranking into buckets of about :data:`BUCKET_ROWS` rows.
- :class:`Ranking` says, for the rows of a chunk, which bucket each output row goes to and whether its rank is
  within ``k``.
- :class:`RankBuckets` collects the output rows by bucket — in memory when one bucket holds them all, otherwise
  as Arrow IPC files — and gives them back one bucket at a time, sorted by key and with their ranks.
- :class:`RankedWriter` appends the sorted tables to a CSV or Parquet file under a temporary name and renames
  it when complete.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from drama2.sampling import TaggedSample

__all__ = ["ScoreSpool", "TopKeys", "KeySample", "Ranking", "RankBuckets", "RankedWriter", "BUCKET_ROWS",
           "MAX_BUCKETS", "SAMPLE_KEYS", "OUTPUT_FORMATS", "POSITION_COLUMN"]

#: Rows per rank bucket (on average): bounds the memory of sorting the output whatever the number of rows.
BUCKET_ROWS = 250_000
#: More buckets than this (over 128 million output rows) make each bucket larger instead of opening more files.
MAX_BUCKETS = 512
#: Keys sampled to choose the bucket boundaries: about 200 per bucket at most, so buckets come out within a
#: few percent of their intended size.
SAMPLE_KEYS = 100_000
#: Output suffix → format.
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Column carrying each output row's file position into the buckets; it becomes the ``rank`` column.
POSITION_COLUMN = "__position__"


def _key_order(neg: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Order of the keys (neg, pos), smallest first."""
    return np.lexsort((pos, neg))


def _at_most(neg, pos, t_neg: float, t_pos: int) -> np.ndarray:
    """Whether each key (neg, pos) is at most the key (t_neg, t_pos)."""
    return (neg < t_neg) | ((neg == t_neg) & (pos <= t_pos))


class ScoreSpool:
    """The scores of every row in file order: in memory up to ``memory_rows``, then in a temporary file.

    Parameters
    ----------
    directory : callable
        Returns the directory for the file; called only once the scores outgrow ``memory_rows``.
    memory_rows : int
        Scores kept in memory before spilling to the file.
    """

    def __init__(self, directory, memory_rows: int):
        self._directory, self.memory_rows = directory, int(memory_rows)
        self._parts: list[np.ndarray] = []
        self._memory: np.ndarray | None = None
        self.path: Path | None = None
        self._file = None
        self.n = 0
        self.n_valid = 0

    def append(self, scores: np.ndarray) -> None:
        scores = np.ascontiguousarray(scores, dtype=np.float64)
        self.n += scores.size
        self.n_valid += int((~np.isnan(scores)).sum())
        if self._file is None and self.n > self.memory_rows:
            self.path = Path(self._directory()) / "scores.f64"
            self._file = open(self.path, "wb")
            for part in self._parts:
                part.tofile(self._file)
            self._parts = []
        if self._file is None:
            self._parts.append(scores)
        else:
            scores.tofile(self._file)

    def close(self) -> None:
        """End of the scoring pass: no more appends."""
        if self._file is not None:
            self._file.close()
        else:
            self._memory = np.concatenate(self._parts) if self._parts else np.empty(0)
            self._parts = []

    def read(self, start: int, stop: int) -> np.ndarray:
        """The scores of the rows at file positions [start, stop)."""
        if self._memory is not None:
            return self._memory[start:stop]
        count = max(0, min(stop, self.n) - start)
        return np.fromfile(self.path, dtype=np.float64, count=count, offset=8 * start)


class TopKeys:
    """The ``k`` smallest keys (−score, position) of a stream of valid rows."""

    def __init__(self, k: int):
        self.k = max(0, int(k))
        self.neg = np.empty(0)
        self.pos = np.empty(0, dtype=np.int64)
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending = 0

    def add(self, neg: np.ndarray, pos: np.ndarray) -> None:
        if self.k == 0 or neg.size == 0:
            return
        if self.neg.size == self.k:  # only keys below the current k-th can enter
            keep = _at_most(neg, pos, self.neg[-1], self.pos[-1])
            neg, pos = neg[keep], pos[keep]
            if neg.size == 0:
                return
        self._parts.append((neg, pos))
        self._pending += neg.size
        if self._pending >= max(self.k, 1 << 16):
            self._consolidate()

    def _consolidate(self) -> None:
        if not self._parts:
            return
        neg = np.concatenate([self.neg] + [n for n, _ in self._parts])
        pos = np.concatenate([self.pos] + [p for _, p in self._parts])
        self._parts, self._pending = [], 0
        order = _key_order(neg, pos)[:self.k]
        self.neg, self.pos = neg[order], pos[order]

    def finish(self) -> None:
        self._consolidate()

    def threshold(self, k: int):
        """The k-th smallest key, or None when fewer than k keys were seen (every row is within)."""
        if k <= 0:
            return -np.inf, -1
        if k > self.neg.size:
            return None
        return self.neg[k - 1], self.pos[k - 1]


class KeySample:
    """A uniform random sample of at most ``size`` keys."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.rng = rng
        self._sample = TaggedSample(size)

    def add(self, neg: np.ndarray, pos: np.ndarray) -> None:
        self._sample.add(self.rng.random(neg.size), neg, pos)

    def boundaries(self, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """``n_buckets - 1`` keys splitting the sample into equal parts, in key order."""
        neg, pos = self._sample.columns or (np.empty(0), np.empty(0, dtype=np.int64))
        order = _key_order(neg, pos)
        cut = (np.arange(1, n_buckets) * order.size) // max(n_buckets, 1)
        chosen = order[cut]
        return neg[chosen], pos[chosen]


class Ranking:
    """Which rows are output, into which bucket, and which ranks are within a limit.

    Built after the scoring pass from its summaries; nothing in it grows with the number of rows except the
    chosen rows of a small ``top``.

    Parameters
    ----------
    n_valid : int
        Rows with a finite score.
    top : int or None
        Output only the ``top`` best rows.
    top_keys : TopKeys
        The smallest keys of the scoring pass; with a ``top`` below the number of valid rows it must hold
        ``top`` keys (they name the output rows, and split them into buckets when there are many).
    sample : KeySample
        Sampled keys, for the bucket boundaries of a full ranking.
    bucket_rows : int
        Intended rows per bucket.
    """

    def __init__(self, n_valid: int, top, top_keys: TopKeys, sample: KeySample, bucket_rows: int):
        bucket_rows = max(1, int(bucket_rows))
        self.n_valid = int(n_valid)
        self.n_out = self.n_valid if top is None else min(int(top), self.n_valid)
        self.top_keys = top_keys
        self.limited = self.n_out < self.n_valid  # only the best n_out rows are output
        if self.limited and top_keys.k < self.n_out:
            raise ValueError("top_keys must hold the top rows")
        self.selected = self.limited and self.n_out <= bucket_rows
        self.rows = None
        self.bounds = (np.empty(0), np.empty(0, dtype=np.int64))
        rows_per_bucket = max(bucket_rows, -(-self.n_out // MAX_BUCKETS))  # beyond MAX_BUCKETS: larger ones
        self.n_buckets = max(1, -(-self.n_out // rows_per_bucket))
        if self.selected:  # the output rows are known: one bucket, and only their row groups need reading
            self.rows = np.sort(top_keys.pos[:self.n_out])
        elif self.limited:  # the output's keys are known: exact boundaries, the first key of each bucket
            cut = np.arange(1, self.n_buckets) * rows_per_bucket
            self.bounds = (top_keys.neg[cut], top_keys.pos[cut])
        elif self.n_buckets > 1:
            self.bounds = sample.boundaries(self.n_buckets)

    def wanted_rows(self):
        """Sorted file positions of the output rows, or None when every row may be output."""
        return self.rows

    def route(self, start: int, scores: np.ndarray) -> np.ndarray:
        """Bucket of each row at file positions start, start + 1, ... (-1: not output)."""
        bucket = np.full(scores.size, -1, dtype=np.int64)
        if self.selected:
            lo, hi = np.searchsorted(self.rows, [start, start + scores.size])
            bucket[self.rows[lo:hi] - start] = 0
            return bucket
        valid = ~np.isnan(scores)
        if self.limited:  # rows past the top are not output
            valid &= self.within(self.n_out, start + np.arange(scores.size), scores)
        neg, pos = -scores[valid], start + np.flatnonzero(valid)
        bucket[valid] = self._bucket(neg, pos)
        return bucket

    def _bucket(self, neg: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Number of boundaries at or below each key."""
        b_neg, b_pos = self.bounds
        if b_neg.size == 0:
            return np.zeros(neg.size, dtype=np.int64)
        lo = np.searchsorted(b_neg, neg, side="left")
        hi = np.searchsorted(b_neg, neg, side="right")
        bucket = lo.copy()
        tied = np.flatnonzero(hi > lo)  # the score equals boundary scores: the positions decide
        for first in np.unique(lo[tied]):
            rows = tied[lo[tied] == first]
            bucket[rows] += np.searchsorted(b_pos[first:hi[rows[0]]], pos[rows], side="right")
        return bucket

    def within(self, k: int, positions: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Whether each row (file position, score) has a rank of at most ``k``."""
        valid = ~np.isnan(scores)
        if k >= self.n_valid:
            return valid
        if k > self.top_keys.k:
            raise ValueError(f"ranks up to {k} were not tracked (only {self.top_keys.k})")
        t_neg, t_pos = self.top_keys.threshold(k)
        return valid & _at_most(-scores, positions, t_neg, t_pos)

    def top_ranks(self, positions: np.ndarray) -> np.ndarray:
        """Ranks of rows among the tracked top keys, by file position."""
        return np.array([np.flatnonzero(self.top_keys.pos == p)[0] + 1 for p in positions], dtype=np.int64)


class RankBuckets:
    """Output rows grouped by key range; each bucket is sorted on its own and given its ranks, in order.

    Tables written here carry ``score`` and :data:`POSITION_COLUMN`; the sorted tables have ``rank`` in
    place of the position.
    """

    def __init__(self, n_buckets: int, directory):
        self.n_buckets = int(n_buckets)
        self.memory = self.n_buckets == 1
        self._directory = directory
        self.parts: list = []
        self.writers: dict[int, tuple] = {}

    def write(self, table, bucket: np.ndarray) -> None:
        """Append output rows (``bucket[i]`` ≥ 0 for each row of ``table``)."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        if self.memory:
            self.parts.append(table)
            return
        for b in np.unique(bucket):
            part = table.take(pa.array(np.flatnonzero(bucket == b)))
            if b not in self.writers:
                sink = pa.OSFile(str(self._path(b)), "wb")
                self.writers[b] = (ipc.new_file(sink, part.schema), sink)
            self.writers[b][0].write_table(part)

    def _path(self, b) -> Path:
        return Path(self._directory()) / f"bucket-{int(b):05d}.arrow"

    def close(self) -> None:
        for writer, sink in self.writers.values():
            writer.close()
            sink.close()

    def sorted_tables(self, n_out: int):
        """Each bucket's rows sorted by key and ranked, bucket after bucket, up to rank ``n_out``."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        self.close()
        done = 0
        for b in range(self.n_buckets):
            if done >= n_out:  # the rest is past the last rank to output
                for rest in range(b, self.n_buckets):
                    if rest in self.writers:
                        self._path(rest).unlink(missing_ok=True)
                break
            if self.memory:
                if not self.parts:
                    continue
                table, self.parts = pa.concat_tables(self.parts), []
            else:
                if b not in self.writers:
                    continue
                path = self._path(b)
                with pa.OSFile(str(path)) as source:
                    table = ipc.open_file(source).read_all()
                path.unlink()
            neg = -table.column("score").to_numpy()
            order = _key_order(neg, table.column(POSITION_COLUMN).to_numpy())[:n_out - done]
            table = table.take(pa.array(order))
            ranks = pa.array(np.arange(done + 1, done + order.size + 1, dtype=np.int64))
            done += order.size
            yield table.set_column(table.column_names.index(POSITION_COLUMN), "rank", ranks)


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
