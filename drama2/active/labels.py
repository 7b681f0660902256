"""The three answers an oracle can give, and the spellings accepted for them."""

from __future__ import annotations

import numbers

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["ANOMALY", "NOMINAL", "SKIP", "LABELS", "parse_label"]

ANOMALY = "anomaly"
NOMINAL = "nominal"
SKIP = "skip"
LABELS = (ANOMALY, NOMINAL, SKIP)


def parse_label(value) -> str | None:
    """The canonical label for ``value``, or None when it is not a label.

    Accepted: ``"anomaly"``, ``"nominal"``, ``"skip"`` (any case); ``1`` /
    ``True`` for an anomaly; ``0`` / ``False`` for a nominal row; ``None`` or
    NaN (a missing value, as in ``Oracle.from_labels``) for a skip. numpy
    scalars count like their Python equivalents.

    Parameters
    ----------
    value : object
        An answer as a user or an oracle gave it.

    Returns
    -------
    str or None
        One of :data:`LABELS`, or None when ``value`` is not an accepted answer.
    """
    if value is None:
        return SKIP
    if isinstance(value, (bool, np.bool_)):
        return ANOMALY if value else NOMINAL
    if isinstance(value, str):
        text = value.strip().lower()
        return text if text in LABELS else None
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and np.isnan(float(value)):
        return SKIP
    if isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer()):
        return {1: ANOMALY, 0: NOMINAL}.get(int(value))
    return None


def check_label(value, key=None) -> str:
    """:func:`parse_label`, raising :class:`~drama2.errors.InvalidInputError` for anything else."""
    label = parse_label(value)
    if label is None:
        where = f" for id {key!r}" if key is not None else ""
        raise InvalidInputError(f"bad label {value!r}{where}: use 'anomaly', 'nominal' or 'skip' "
                                "(or 1 / True, 0 / False, None / NaN).")
    return label
