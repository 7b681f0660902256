"""Reading a user's table in row chunks, so a catalogue larger than memory can be scored.

:class:`TableStream` reads only the columns asked for, ``chunk_rows`` rows at
a time: Parquet through ``pyarrow.parquet.ParquetFile.iter_batches`` (skipping
row groups that hold none of the wanted rows), CSV and TSV through pandas'
``chunksize``, FITS binary tables record by record from the file
(:mod:`drama2.datasets.fits_stream`). npz files, and FITS tables with bit,
complex or variable-length columns, are read whole with
:func:`drama2.datasets.tables.read_table` and then sliced.

Feature values come back as float64 with NaN for missing cells (nulls,
masked FITS cells); identifiers as pyarrow arrays in their own type (CSV
identifiers as strings, so that long integer ids and leading zeros survive).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from drama2.datasets.fits_stream import open_fits_records
from drama2.datasets.tables import _require_columns, read_table, table_format
from drama2.errors import InvalidInputError

__all__ = ["TableStream", "Chunk"]

#: Rows pandas reads to guess CSV column types before streaming.
_CSV_SNIFF_ROWS = 1000
#: Read buffer per Parquet column chunk (bytes).
_PARQUET_BUFFER = 1 << 20


@dataclass
class Chunk:
    """Consecutive rows of a table.

    Attributes
    ----------
    start : int
        Position in the file of the chunk's first row (0-based).
    X : ndarray of shape (m, d), float64
        The feature columns, NaN where a cell is missing.
    ids : pyarrow.Array or None
        The identifier column, when one was asked for.
    """

    start: int
    X: np.ndarray
    ids: object = None

    @property
    def stop(self) -> int:
        return self.start + self.X.shape[0]


class TableStream:
    """A table file read column-selectively in row chunks.

    Parameters
    ----------
    path : str or Path
        CSV, TSV (optionally gzipped), Parquet, FITS or npz file.
    hdu : int or str, default 1
        FITS extension holding the table.

    Attributes
    ----------
    columns : list of str
        Every column of the table.
    n_rows : int or None
        Number of rows, when known without reading the file (Parquet, FITS, npz).
    format : str
        ``csv``, ``tsv``, ``parquet``, ``fits`` or ``npz``.
    """

    def __init__(self, path, *, hdu=1):
        self.path = Path(path)
        self.format = table_format(self.path)
        if not self.path.is_file():
            raise InvalidInputError(f"{self.path}: no such file.")
        self._frame = None
        self._records = None
        if self.format == "parquet":
            import pyarrow.parquet as pq

            try:
                # Stream each column chunk through a small buffer instead of loading whole row groups:
                # with pyarrow's defaults a 1M-row group of 20 columns costs ~200 MB before the first batch.
                self._file = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=_PARQUET_BUFFER)
            except Exception as exc:  # pyarrow raises ArrowInvalid for truncated or foreign files
                raise InvalidInputError(f"{self.path}: not a readable Parquet file ({exc}).") from None
            self.columns = list(self._file.schema_arrow.names)
            self.n_rows = int(self._file.metadata.num_rows)
        elif self.format in ("csv", "tsv"):
            import pandas as pd

            self._sep = "\t" if self.format == "tsv" else ","
            self._sniff = pd.read_csv(self.path, sep=self._sep, nrows=_CSV_SNIFF_ROWS)
            self.columns = [str(c) for c in self._sniff.columns]
            self.n_rows = None
        elif self.format == "fits" and (records := open_fits_records(self.path, hdu)) is not None:
            self._records = records
            self.columns = list(records.columns)
            self.n_rows = records.n_rows
        else:  # npz, and FITS tables with column types the record reader does not handle
            self._frame = read_table(self.path, hdu=hdu)
            self._frame.columns = [str(c) for c in self._frame.columns]
            self.columns = list(self._frame.columns)
            self.n_rows = len(self._frame)

    # ------------------------------------------------------------------ columns
    def require_columns(self, names) -> None:
        """Raise, naming the absent columns and listing the table's, when any of ``names`` is missing."""
        import pandas as pd

        _require_columns(self.path, pd.DataFrame(columns=self.columns), list(names))

    def non_numeric(self, names) -> list[str]:
        """The columns among ``names`` that do not hold numbers (or booleans)."""
        if self.format == "parquet":
            import pyarrow as pa

            schema = self._file.schema_arrow
            ok = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal,
                  pa.types.is_null)
            return [c for c in names if not any(test(schema.field(c).type) for test in ok)]
        if self._records is not None:
            return self._records.non_numeric(names)
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        frame = self._frame if self._frame is not None else self._sniff
        return [c for c in names if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]

    def check_numeric(self, names) -> None:
        """Raise when a feature column is not numeric, naming it and how to choose other columns.

        A column of numbers spoilt by a few other cells is reported with those cells' rows and values.
        """
        sniffed = self._frame if self._frame is not None else getattr(self, "_sniff", None)
        if self.n_rows == 0 or (sniffed is not None and len(sniffed) == 0):
            # Checked first: the columns of an empty CSV read as text, which would be reported as not numeric.
            raise InvalidInputError(f"{self.path}: the table has columns but no rows; there is nothing to score.")
        bad = self.non_numeric(names)
        vectors = self._records.vector_columns(names) if self._records is not None else []
        if vectors:
            raise InvalidInputError(f"{self.path}: columns {vectors} hold arrays per row, which are not features; "
                                    "flatten them into scalar columns first, or leave them out with --columns.")
        frame = self._frame if self._frame is not None else getattr(self, "_sniff", None)
        if bad and frame is not None:
            spoilt = _stray_cells(frame, bad, 0)
            if spoilt:
                raise InvalidInputError(f"{self.path}: {spoilt}; fix those cells, or leave the column out with "
                                        "--columns a,b,c (columns=[...]).")
        if bad:
            raise InvalidInputError(
                f"{self.path}: column(s) {bad} are not numeric and cannot be features; leave them out with "
                "--exclude-columns (exclude_columns=[...]), choose the feature columns with --columns a,b,c "
                "(columns=[...]), or name an identifier column with --id-column (id_column=).")

    # ------------------------------------------------------------------ reading
    def chunks(self, features, id_column=None, *, chunk_rows: int = 100_000, rows=None) -> Iterator[Chunk]:
        """Yield the table in consecutive row chunks.

        Parameters
        ----------
        features : list of str
            Columns returned as ``Chunk.X`` (float64, NaN where missing).
        id_column : str, optional
            Column returned as ``Chunk.ids``.
        chunk_rows : int
            Rows per chunk (the last may be shorter).
        rows : ndarray of int, optional
            Sorted positions of the rows the caller needs. A hint only: Parquet
            row groups without any of them are skipped; chunks may still hold
            other rows, which the caller filters.

        Yields
        ------
        Chunk
        """
        chunk_rows = int(chunk_rows)
        if chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be a positive integer, got {chunk_rows}.")
        features = list(features)
        if self.format == "parquet":
            yield from self._parquet_chunks(features, id_column, chunk_rows, rows)
        elif self.format in ("csv", "tsv"):
            yield from self._csv_chunks(features, id_column, chunk_rows)
        elif self._records is not None:
            yield from self._fits_chunks(features, id_column, chunk_rows)
        else:
            yield from self._frame_chunks(features, id_column, chunk_rows)

    def _parquet_chunks(self, features, id_column, chunk_rows, rows):
        import pyarrow as pa

        meta = self._file.metadata
        sizes = np.array([meta.row_group(g).num_rows for g in range(meta.num_row_groups)], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        wanted = list(dict.fromkeys(features + ([id_column] if id_column is not None else [])))
        for g in range(meta.num_row_groups):
            if rows is not None:
                lo, hi = np.searchsorted(rows, [offsets[g], offsets[g + 1]])
                if lo == hi:
                    continue
            start = int(offsets[g])
            for batch in self._file.iter_batches(batch_size=chunk_rows, row_groups=[g], columns=wanted,
                                                 use_threads=False):
                X = np.empty((batch.num_rows, len(features)), dtype=np.float64)
                for j, name in enumerate(features):
                    # safe=False: integers beyond 2**53 round to the nearest float64, as CSV input does
                    X[:, j] = batch.column(name).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
                ids = batch.column(id_column) if id_column is not None else None
                yield Chunk(start, X, ids)
                start += batch.num_rows

    def _csv_chunks(self, features, id_column, chunk_rows):
        import pandas as pd
        import pyarrow as pa
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        usecols = list(dict.fromkeys(features + ([id_column] if id_column is not None else [])))
        dtype = {id_column: str} if id_column is not None else None
        start = 0
        with pd.read_csv(self.path, sep=self._sep, usecols=usecols, dtype=dtype, chunksize=chunk_rows) as reader:
            for frame in reader:
                bad = [c for c in features if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
                if bad:
                    last = start + len(frame) - 1
                    where = _stray_cells(frame, bad, start) or (f"column(s) {bad} hold non-numeric values in rows "
                                                                 f"{start}–{last}")
                    raise InvalidInputError(f"{self.path}: {where}; fix those cells or leave the column out with "
                                            "--columns.")
                X = frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
                ids = pa.array(frame[id_column], type=pa.string(), from_pandas=True) if id_column is not None else None
                yield Chunk(start, X, ids)
                start += len(frame)

    def _fits_chunks(self, features, id_column, chunk_rows):
        records = self._records
        for start in range(0, records.n_rows, chunk_rows):
            rows = records.read(start, start + chunk_rows)
            X = np.empty((rows.size, len(features)), dtype=np.float64)
            for j, name in enumerate(features):
                X[:, j] = records.numbers(rows, name)
            ids = records.identifiers(rows, id_column) if id_column is not None else None
            yield Chunk(start, X, ids)

    def _frame_chunks(self, features, id_column, chunk_rows):
        import pyarrow as pa

        frame = self._frame
        # One conversion of the whole id column, so every chunk's ids have the same type.
        all_ids = pa.array(frame[id_column].to_numpy(), from_pandas=True) if id_column is not None else None
        for start in range(0, len(frame), chunk_rows):
            X = frame[features].iloc[start:start + chunk_rows].to_numpy(dtype=np.float64, na_value=np.nan)
            ids = all_ids.slice(start, X.shape[0]) if all_ids is not None else None
            yield Chunk(start, X, ids)


def _stray_cells(frame, columns, start: int, show: int = 3) -> str:
    """Where columns of numbers hold other values: "column 'x' holds non-numbers: row 12 'n/a', ...".

    Rows are 0-based positions in the file (``start`` is the frame's first). Empty when a column holds no
    number at all (a text column, not a spoilt numeric one).
    """
    import pandas as pd

    parts = []
    for name in columns:
        values = frame[name]
        numbers = pd.to_numeric(values, errors="coerce")
        stray = numbers.isna() & values.notna()
        if not numbers.notna().any():
            return ""
        rows = np.flatnonzero(stray.to_numpy())
        cells = ", ".join(f"row {start + r} {values.iloc[r]!r}" for r in rows[:show])
        parts.append(f"column {name!r} holds {rows.size} non-numeric cell(s): {cells}{' …' if rows.size > show else ''}")
    return "; ".join(parts) + " (data rows counted from 0)"
