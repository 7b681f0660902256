"""Users' own catalogues: CSV, Parquet, FITS tables and npz files as :class:`Dataset` objects.

Policy, so that nothing surprising happens silently:

- features are the columns the user names, else every column that is not
  the label, id or class column; a non-numeric feature column is an error
  that names it (choose ``columns=`` or declare it ``id_column=``);
- missing or non-finite values (NaN, inf, masked FITS cells) are an error by
  default, naming the columns and counts; ``missing="drop"`` drops those rows,
  warns with the count and records it in ``metadata``;
- labels must be 0/1 (or booleans); 1 = anomaly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from drama2.datasets.base import Dataset
from drama2.errors import InvalidInputError

#: File suffix → format name.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".fits": "fits", ".fit": "fits",
           ".fts": "fits", ".npz": "npz"}
MISSING_POLICIES = ("error", "drop")


def table_format(path: Path) -> str:
    """The format of ``path`` from its suffix (a trailing ``.gz`` is allowed for CSV, TSV and FITS)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise InvalidInputError(f"{path}: unknown table format {''.join(path.suffixes) or '(no suffix)'!r}; "
                                f"supported suffixes are {', '.join(FORMATS)} (CSV, TSV and FITS may be gzipped).")
    return fmt


def read_table(path, columns=None, *, hdu=1, text_columns=()):
    """Read a table file into a pandas DataFrame.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.tsv``, ``.parquet``, ``.fits`` or ``.npz`` file.
    columns : list of str, optional
        Read only these columns (where the format allows it).
    hdu : int or str
        FITS extension holding the table.
    text_columns : sequence of str
        Columns a CSV or TSV file gives as text, never parsed as numbers (identifiers such as ``"0000041"``
        keep their leading zeros).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file.")
    if fmt in ("csv", "tsv"):
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", usecols=columns,
                           dtype={name: str for name in text_columns} or None)
    if fmt == "parquet":
        return pd.read_parquet(path, columns=columns)
    if fmt == "fits":
        return _read_fits(path, hdu)
    return _read_npz(path)


def _read_fits(path: Path, hdu):
    try:
        from astropy.table import Table
    except ImportError:
        raise InvalidInputError("reading FITS tables needs astropy: pip install 'drama2[fits]'.") from None
    table = Table.read(path, hdu=hdu)
    multi = [name for name in table.colnames if len(table[name].shape) > 1]
    if multi:
        raise InvalidInputError(f"{path}: columns {multi} hold arrays per row, which are not features; "
                                "flatten them into scalar columns first.")
    # to_pandas turns masked cells into NaN / <NA>, which the missing-value policy then sees.
    return table.to_pandas()


def _read_npz(path: Path):
    """An npz of 1-D arrays (one per column), or ``X`` (n, d) with optional ``y`` and ``feature_names``."""
    import pandas as pd

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {key: z[key] for key in z.files}
    except ValueError as exc:  # object arrays would need unpickling, which could run code from the file
        raise InvalidInputError(f"{path}: {exc}; drama2 never unpickles files, so save plain numeric (or "
                                "string) arrays.") from None
    if "X" not in arrays:
        lengths = {key: a.shape for key, a in arrays.items()}
        if any(a.ndim != 1 for a in arrays.values()) or len({a.shape for a in arrays.values()}) > 1:
            raise InvalidInputError(f"{path}: an npz table needs either an 'X' array (n, d) or 1-D columns of "
                                    f"equal length; found {lengths}.")
        return pd.DataFrame(arrays)
    X = np.asarray(arrays.pop("X"))
    if X.ndim != 2:
        raise InvalidInputError(f"{path}: 'X' must be 2-D (n, d), got shape {X.shape}.")
    names = [str(n) for n in arrays.pop("feature_names", [f"x{i}" for i in range(X.shape[1])])]
    frame = pd.DataFrame(X, columns=names)
    for key, values in arrays.items():
        if values.size != len(frame):
            raise InvalidInputError(f"{path}: array {key!r} has shape {values.shape}, which does not give one "
                                    f"value per row of X ({len(frame)} rows).")
        frame[key] = values.reshape(-1)
    return frame


def from_table(path, columns=None, label=None, *, id_column=None, class_column=None, exclude_columns=(),
               missing="error", name=None, hdu=1) -> Dataset:
    """Load a user's table as a :class:`Dataset` ready for any detector.

    Parameters
    ----------
    path : str or Path
        CSV, TSV, Parquet, FITS (needs astropy) or npz file. An npz either holds
        one 1-D array per column or ``X`` (n, d) with optional ``y`` (used as the
        label unless ``label`` says otherwise) and ``feature_names``.
    columns : list of str, optional
        Feature columns. Default: every column except ``label``, ``id_column``,
        ``class_column`` and ``exclude_columns``.
    label : str, optional
        Column of 0/1 anomaly labels (1 = anomaly), for evaluation. It should
        not also be a feature (a warning says so when ``columns`` names it).
    id_column : str, optional
        Identifier column (e.g. an object id) kept in ``metadata["ids"]``.
    class_column : str, optional
        Column of class labels, exposed as ``Dataset.classes``.
    exclude_columns : sequence of str, optional
        Columns left out of the default features (text columns, other
        catalogues' flags); ignored when ``columns`` is given.
    missing : {"error", "drop"}
        What to do with rows holding missing or non-finite values.
    name : str, optional
        Dataset name; default the file name without suffix.
    hdu : int or str
        FITS extension of the table.

    Returns
    -------
    Dataset
        ``metadata`` holds ``feature_names``, ``n_dropped``, ``row_index`` (positions of
        the kept rows in the file) and ``ids`` when ``id_column`` is given.
    """
    if missing not in MISSING_POLICIES:
        raise InvalidInputError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}.")
    path = Path(path)
    fmt = table_format(path)
    special = [c for c in (label, id_column, class_column) if c is not None]
    wanted = None if columns is None or fmt in ("fits", "npz") else list(dict.fromkeys([*columns, *special]))
    try:
        frame = read_table(path, wanted, hdu=hdu, text_columns=[id_column] if id_column else ())
    except (ValueError, KeyError):  # a named column is absent: read everything so the error can list them
        frame = read_table(path, None, hdu=hdu)
    if label is None and fmt == "npz" and "y" in frame.columns:  # the X/y convention of ODDS-style npz files
        label = "y"
        special.append("y")
    exclude_columns = [exclude_columns] if isinstance(exclude_columns, str) else list(exclude_columns or ())
    _require_columns(path, frame, (list(columns) if columns is not None else []) + special + exclude_columns)
    if len(frame) == 0:
        raise InvalidInputError(f"{path}: the table has columns but no rows.")
    if columns is not None:
        features = list(columns)
        if label is not None and label in features:
            warnings.warn(f"{path}: the label column {label!r} is also a feature, so the detector sees the answer "
                          "it is evaluated against; leave it out of columns=.", UserWarning, stacklevel=2)
    else:
        features = [c for c in frame.columns if c not in special and c not in exclude_columns]
    _require_numeric(path, frame, features)
    if not features:
        raise InvalidInputError(f"{path}: no feature columns left after removing {special}.")

    X = frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
    y = _label_values(path, frame[label]) if label is not None else None
    bad = ~np.isfinite(X).all(axis=1)
    if y is not None:
        bad |= np.isnan(y)
    n_bad = int(bad.sum())
    if n_bad and missing == "error":
        raise InvalidInputError(_missing_message(path, frame, features, label, bad))
    if n_bad:
        warnings.warn(f"{path}: dropped {n_bad} of {len(frame)} rows with missing or non-finite values.",
                      stacklevel=2)
    keep = ~bad
    if not keep.any():
        raise InvalidInputError(f"{path}: no rows left after dropping missing values.")
    metadata = {"feature_names": features, "n_dropped": n_bad, "row_index": np.flatnonzero(keep), "format": fmt,
                "label_column": label}
    if id_column is not None:
        metadata["ids"] = frame[id_column].to_numpy()[keep]
    classes = frame[class_column].to_numpy()[keep] if class_column is not None else None
    return Dataset(name=name or path.name.split(".")[0], X=X[keep], y=None if y is None else y[keep].astype(np.int64),
                   source=str(path), metadata=metadata, classes=classes)


def _require_columns(path, frame, names):
    absent = [c for c in dict.fromkeys(names) if c not in frame.columns]
    if absent:
        shown = ", ".join(map(str, list(frame.columns)[:20])) + (" …" if frame.shape[1] > 20 else "")
        raise InvalidInputError(f"{path}: no column(s) {absent}; the table has: {shown}.")


def _require_numeric(path, frame, features):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    non_numeric = [c for c in features if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    if non_numeric:
        raise InvalidInputError(f"{path}: column(s) {non_numeric} are not numeric and cannot be features; leave "
                                "them out with exclude_columns=[...], choose the features with columns=[...], or "
                                "declare an identifier with id_column=.")


def _label_values(path, column) -> np.ndarray:
    try:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        seen = column.dropna().unique()[:10].tolist()
        raise InvalidInputError(f"{path}: label column {column.name!r} must hold 0/1 (1 = anomaly); found text "
                                f"values {seen}. Map them to 0/1 first.") from None
    seen = np.unique(values[~np.isnan(values)])
    if not np.isin(seen, (0.0, 1.0)).all():
        raise InvalidInputError(f"{path}: label column {column.name!r} must hold 0/1 (1 = anomaly); found values "
                                f"{seen[:10].tolist()}.")
    return values


def _missing_message(path, frame, features, label, bad) -> str:
    counts = {c: int((~np.isfinite(frame[c].to_numpy(dtype=np.float64, na_value=np.nan))).sum())
              for c in features + ([label] if label is not None else [])}
    counts = {c: k for c, k in counts.items() if k}
    return (f"{path}: {int(bad.sum())} of {len(frame)} rows have missing or non-finite values (per column: "
            f"{counts}); pass missing='drop' to drop those rows, or fill them before loading.")
