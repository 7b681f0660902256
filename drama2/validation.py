"""Input checks shared by every estimator: shapes, finiteness, feature counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from drama2.errors import InvalidInputError, NotFittedError


def check_array(X: Any, *, name: str = "X", min_samples: int = 1, estimator: str = "drama2") -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D float64 array, or raise a clear error.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data. Lists, numpy arrays and torch tensors (moved to the CPU) are accepted.
    name : str
        The argument name used in error messages.
    min_samples : int
        The fewest rows the caller can work with.
    estimator : str
        The caller's name, used in error messages.

    Returns
    -------
    numpy.ndarray
        The data as float64, never a view the caller could see mutated.

    Raises
    ------
    InvalidInputError
        For non-numeric, empty, non-2-D or non-finite input, or too few rows.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor, without importing torch
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{estimator}: {name} must be numeric (n_samples, n_features) data; could not convert it "
            f"to float64 ({exc}). Drop or encode non-numeric columns first."
        ) from None
    if arr.ndim == 1:
        raise InvalidInputError(
            f"{estimator}: {name} must be 2-D (n_samples, n_features), got a 1-D array of shape {arr.shape}. "
            f"Use {name}.reshape(-1, 1) if it is one feature, or {name}.reshape(1, -1) if it is one sample."
        )
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{estimator}: {name} must be 2-D (n_samples, n_features), got {arr.ndim} dimensions "
            f"with shape {arr.shape}. Flatten each sample first, e.g. {name}.reshape(len({name}), -1)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(
            f"{estimator}: {name} is empty (shape {arr.shape}); it needs at least one row and one feature."
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad = ~finite
        rows = np.flatnonzero(bad.any(axis=1))
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        raise InvalidInputError(
            f"{estimator}: {name} contains {n_nan} NaN and {n_inf} infinite values in {rows.size} rows "
            f"(first rows: {rows[:5].tolist()}). drama2 never guesses what they should be: impute missing "
            f"values (e.g. sklearn.impute.SimpleImputer), replace infinite ones, or drop those rows before "
            f"fitting or scoring."
        )
    if arr.shape[0] < min_samples:
        raise InvalidInputError(
            f"{estimator}: {name} has {arr.shape[0]} rows but at least {min_samples} are needed."
        )
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def rows_digest(X: np.ndarray, n_rows: int = 1024) -> str:
    """A cheap digest of a validated array: its shape and up to ``n_rows`` evenly spaced rows.

    Detectors keep it from ``fit`` so that a caller who says "these are the training rows" (an active
    session's ``fitted_on_X=True``) can be checked without hashing the whole of a large table.
    """
    import hashlib

    picked = X[np.unique(np.linspace(0, X.shape[0] - 1, min(n_rows, X.shape[0])).astype(np.int64))]
    digest = hashlib.blake2b(repr(X.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(picked, dtype=np.float64).view(np.uint8))
    return digest.hexdigest()


def reference_medians(X: np.ndarray, max_rows: int = 100_000) -> np.ndarray:
    """Per-feature medians of training rows: exact up to ``max_rows`` rows, else of that many evenly spaced ones.

    Detectors keep them from ``fit`` as ``reference_medians_``, the values that replacement explanations put
    in place of a feature, so a saved model can be explained without its training data.
    """
    if X.shape[0] > max_rows:
        X = X[np.linspace(0, X.shape[0] - 1, max_rows).astype(np.int64)]
    return np.median(X, axis=0)


def check_n_features(X: np.ndarray, expected: int, *, estimator: str) -> None:
    """Raise when scoring data has a different number of features than the training data."""
    if X.shape[1] != expected:
        raise InvalidInputError(
            f"{estimator}: X has {X.shape[1]} features, but the model was fitted on {expected}. "
            "Score data with the same columns, in the same order, as the training data."
        )


def check_is_fitted(estimator: Any, attribute: str) -> None:
    """Raise :class:`NotFittedError` when ``estimator`` lacks the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted yet; call fit(X) before using it."
        )


def accepts_parameter(cls, name: str) -> bool:
    """Whether calling ``cls`` accepts a keyword argument ``name`` (False when the signature is unknown)."""
    import inspect

    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame-like ``X`` when they are all strings, else None (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    if not names or not all(isinstance(name, str) for name in names):
        return None
    return np.asarray(names, dtype=object)


def set_feature_names(estimator: Any, X: Any) -> None:
    """Record ``feature_names_in_`` from a DataFrame at fit time (and forget names from an earlier fit)."""
    names = feature_names(X)
    if names is not None:
        estimator.feature_names_in_ = names
    elif "feature_names_in_" in vars(estimator):
        del estimator.feature_names_in_


def check_feature_names(estimator: Any, X: Any, *, name: str) -> None:
    """Raise when ``X``'s column names differ from those seen in ``fit`` (order included).

    Arrays without names pass: their columns are taken to be in the training order.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    given = feature_names(X)
    if fitted is None or given is None:
        return
    fitted, given = [str(n) for n in fitted], [str(n) for n in given]
    if fitted == given:
        return
    if sorted(fitted) == sorted(given):
        problem = "the same columns in another order"
    else:
        missing = [n for n in fitted if n not in given]
        unexpected = [n for n in given if n not in fitted]
        problem = f"missing {_listed(missing)}, unexpected {_listed(unexpected)}"
    raise InvalidInputError(
        f"{name}: X's columns differ from those seen in fit ({problem}). Select the training columns in "
        "the training order: X[model.feature_names_in_]."
    )


def _listed(names: list, limit: int = 5) -> str:
    """``names`` for a message: all of them, or the first ``limit`` and how many more."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}, … {len(names) - limit} more]" if len(names) > limit else f"[{shown}]"


def check_parameters(cls, params: dict, *, component: str) -> None:
    """Raise a clear error when ``params`` names a keyword ``cls`` does not take."""
    import inspect

    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    known = [n for n, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    refuse_unknown(params, known, component=component)


def check_component_params(cls, params, name: str, component: str, *, owner: str, set_by_owner: dict) -> None:
    """Refuse a component's parameter dict that is not a dict, names a keyword ``cls`` does not take, or sets
    one its owner passes itself.

    Parameters
    ----------
    cls : type
        The component's class.
    params : dict or None
        The keyword arguments the user gave for it (None for none).
    name : str
        The owner's parameter holding ``params``, e.g. ``"reducer_params"``.
    component : str
        The component as messages name it, e.g. ``"reducer 'ae'"``.
    owner : str
        The estimator that builds the component, e.g. ``"Drama"``.
    set_by_owner : dict
        Keyword the owner passes itself -> what to do instead of setting it.
    """
    if params is None:
        return
    if not isinstance(params, dict):
        raise InvalidInputError(f"{name} must be a dict of keyword arguments, got {type(params).__name__}.")
    taken = [key for key in params if key in set_by_owner]
    if taken:
        raise InvalidInputError(f"{name} sets {', '.join(map(repr, taken))}, which {owner} passes to the {component} "
                                f"itself: {'; '.join(set_by_owner[key] for key in taken)}.")
    check_parameters(cls, params, component=component)


def refuse_unknown(given, known, *, component: str, noun: str = "parameter") -> None:
    """Raise a clear error naming each of ``given`` not in ``known``, with the closest known name as a hint."""
    import difflib

    known = list(dict.fromkeys(known))
    unknown = [key for key in given if key not in known]
    if unknown:
        hints = [f"{key!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, known, 1))
                 else repr(key) for key in unknown]
        raise InvalidInputError(f"{component} takes no {noun} {', '.join(hints)}; its {noun}s are: "
                                f"{', '.join(known)}.")
