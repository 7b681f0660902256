"""Reading rows of a FITS binary table in chunks, straight from the file.

A FITS binary table stores fixed-width big-endian records one after another, so rows ``[start, stop)`` are
one ``numpy.fromfile`` away once the record layout is known. astropy parses the header (column names,
formats, ``TSCALn``/``TZEROn`` scaling, ``TNULLn`` null values); the records are read here, so memory holds
one chunk whatever the size of the file. Only scalar columns of the common types (``L``, ``B``, ``I``,
``J``, ``K``, ``E``, ``D`` and strings ``A``) are read this way; a table with bit, complex or
variable-length columns is reported by :func:`open_fits_records` as not streamable, and the caller reads it
whole instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["FitsRecords", "open_fits_records"]

#: FITS binary-table type codes read here (numpy ``recformat`` kind after astropy's parsing).
_STREAMABLE = set("LBIJKEDA")


@dataclass
class _Column:
    name: str
    code: str  # FITS type code: L, B, I, J, K, E, D or A
    repeat: int
    scale: float | None
    zero: float | None
    null: int | None


class FitsRecords:
    """The records of one binary-table HDU, read by row range.

    Use :func:`open_fits_records` to make one. Attributes: ``columns`` (names in file order), ``n_rows``.
    """

    def __init__(self, path: Path, offset: int, row_bytes: int, n_rows: int, dtype: np.dtype, columns: list):
        self.path, self.offset, self.row_bytes, self.n_rows = path, offset, row_bytes, n_rows
        self.dtype = dtype
        self._columns = {c.name: c for c in columns}
        self.columns = [c.name for c in columns]

    def non_numeric(self, names) -> list[str]:
        """Columns among ``names`` that hold text, not numbers."""
        return [n for n in names if self._columns[n].code == "A"]

    def vector_columns(self, names) -> list[str]:
        """Columns among ``names`` that hold several values per row."""
        return [n for n in names if self._columns[n].code != "A" and self._columns[n].repeat != 1]

    def read(self, start: int, stop: int) -> np.ndarray:
        """The raw records of rows ``[start, stop)``."""
        count = max(0, min(stop, self.n_rows) - start)
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + start * self.row_bytes)
            records = np.fromfile(handle, dtype=self.dtype, count=count)
        if records.size != count:
            raise InvalidInputError(f"{self.path}: the file ends before row {start + records.size} of the "
                                    f"{self.n_rows} its header announces; it is truncated.")
        return records

    def numbers(self, records: np.ndarray, name: str) -> np.ndarray:
        """A column as float64, scaled, with NaN for null values (``TNULLn``, undefined logicals)."""
        column, raw = self._columns[name], records[name]
        if column.code == "L":  # 'T', 'F', or 0 for undefined
            values = (raw == ord("T")).astype(np.float64)
            values[raw == 0] = np.nan
            return values
        unsigned = _unsigned(column, raw)
        if unsigned is not None:  # exact: adding 2**63 in float64 would lose the low bits
            values = unsigned.astype(np.float64)
        else:
            values = raw.astype(np.float64)
            if column.scale is not None:
                values *= column.scale
            if column.zero is not None:
                values += column.zero
        if column.null is not None:
            values[raw == column.null] = np.nan
        return values

    def identifiers(self, records: np.ndarray, name: str):
        """A column as a pyarrow array: text with its padding removed, integers unsigned when ``TZEROn`` says so."""
        import pyarrow as pa

        column, raw = self._columns[name], records[name]
        if column.code == "A":
            text = np.char.rstrip(np.char.decode(raw, "ascii", errors="replace"), " \x00")
            return pa.array(text.tolist(), type=pa.string())
        if column.code == "L":
            return pa.array(self.numbers(records, name) == 1, mask=raw == 0)
        mask = raw == column.null if column.null is not None else None
        unsigned = _unsigned(column, raw)
        if unsigned is not None:
            return pa.array(unsigned, mask=mask)
        if column.scale is not None or column.zero is not None:
            return pa.array(self.numbers(records, name), mask=mask)
        return pa.array(raw.astype(raw.dtype.newbyteorder("=")), mask=mask)


def open_fits_records(path, hdu=1) -> FitsRecords | None:
    """The streamable records of a binary-table HDU, or None when the table needs reading whole.

    Parameters
    ----------
    path : str or Path
        The FITS file.
    hdu : int or str, default 1
        The extension holding the table.

    Returns
    -------
    FitsRecords or None
        None for an ASCII table or a table with bit, complex or variable-length columns.
    """
    try:
        from astropy.io import fits
    except ImportError:
        raise InvalidInputError("reading FITS tables needs astropy: pip install 'drama2[fits]'.") from None
    path = Path(path)
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            try:
                table = hdul[hdu]
            except (IndexError, KeyError):
                hdul.readall()
                available = ", ".join(f"{i} ({h.name or 'unnamed'}, {type(h).__name__})" for i, h in enumerate(hdul))
                raise InvalidInputError(f"{path}: no HDU {hdu!r}; the file has {available}. Choose the table with "
                                        "--hdu (hdu=).") from None
            if not isinstance(table, fits.BinTableHDU):
                return None
            header, offset = table.header, table.fileinfo()["datLoc"]
            columns, formats = [], []
            for col in table.columns:
                code = col.format[-1] if col.format else ""
                if code not in _STREAMABLE or "P" in col.format or "Q" in col.format:
                    return None
                repeat = int(col.format[:-1] or 1)
                dtype = np.dtype(col.format.recformat)
                if code != "A":
                    dtype = dtype.newbyteorder(">")
                columns.append(_Column(col.name, code, repeat if code != "A" else 1,
                                       _number(col.bscale), _number(col.bzero),
                                       int(col.null) if col.null is not None and code in "BIJK" else None))
                formats.append(dtype)
    except (OSError, IndexError, KeyError) as exc:
        raise InvalidInputError(f"{path}: cannot read HDU {hdu!r} as a table ({exc}).") from None
    row_bytes, n_rows = int(header["NAXIS1"]), int(header["NAXIS2"])
    if sum(f.itemsize for f in formats) != row_bytes:  # a layout not understood here: let astropy read it
        return None
    dtype = np.dtype({"names": [c.name for c in columns], "formats": formats, "itemsize": row_bytes})
    return FitsRecords(path, int(offset), row_bytes, n_rows, dtype, columns)


def _unsigned(column: _Column, raw: np.ndarray):
    """The values of an unsigned integer column (the FITS convention: TZERO = 2**(bits - 1)), else None."""
    if column.code not in "IJK" or column.scale not in (None, 1) or column.zero is None:
        return None
    bits = raw.dtype.itemsize * 8
    if column.zero != 2 ** (bits - 1):
        return None
    unsigned = raw.astype(raw.dtype.newbyteorder("=")).view(f"u{raw.dtype.itemsize}")
    return unsigned ^ np.array(1 << (bits - 1), dtype=unsigned.dtype)  # flipping the sign bit adds TZERO


def _number(value):
    """A header scaling value as float, None when absent (astropy gives '' or None)."""
    if value is None or value == "":
        return None
    return float(value)
