"""Datasets: named benchmarks through the plugin registry, and users' own tables.

``drama2.load_dataset(name)`` loads any registered dataset (``drama2 list
datasets``); :func:`from_table` reads a catalogue file; :func:`leave_one_class_out`
turns a multi-class dataset into anomaly-detection splits.
"""

from __future__ import annotations

from drama2.datasets.base import Dataset
from drama2.errors import InvalidInputError
from drama2.datasets.splits import ClassSplit, leave_one_class_out
from drama2.datasets.tables import from_table


def _looks_like_a_table(name: str) -> bool:
    from pathlib import Path

    from drama2.datasets.tables import FORMATS

    suffixes = [x.lower() for x in Path(name).suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in FORMATS or Path(name).is_file()


def load_dataset(name: str, **options) -> Dataset:
    """Load a registered dataset by name (``drama2 list datasets`` shows them).

    Parameters
    ----------
    name : str
        Registered name, e.g. ``"cardio"`` or ``"synthetic-local-100"``.
    **options
        Passed to the dataset's loader (e.g. ``data_dir`` or ``random_state``). ``data_dir``,
        ``random_state`` and ``download`` may be given to any dataset (loaders that do not use them ignore
        them, so one call fits every name); any other option must be one the loader takes.

    Raises
    ------
    InvalidInputError
        For an option the loader does not take (a misspelt ``random_state`` would otherwise be ignored).
    """
    from drama2.errors import UnknownComponentError
    from drama2.registry import get_registry

    try:
        loader = get_registry().load("datasets", name)
    except UnknownComponentError as exc:
        if isinstance(name, str) and _looks_like_a_table(name):
            raise UnknownComponentError(f"{exc} {name!r} looks like a file: load your own table with "
                                        f"drama2.from_table({name!r}, label=..., id_column=...).") from None
        raise
    options = _without_unused_generic_options(loader, options)
    _check_options(loader, options, name)
    dataset = loader(**options)
    if not isinstance(dataset, Dataset):
        raise InvalidInputError(
            f"dataset {name!r}: its loader {getattr(loader, '__qualname__', loader)!r} returned "
            f"{type(dataset).__name__}, not a drama2.Dataset; return Dataset(name=..., X=..., y=...) "
            "(from drama2.datasets import Dataset).")
    return dataset


#: Options any loader may receive (and ignore): what generic callers such as the bench pass to every dataset.
GENERIC_OPTIONS = ("data_dir", "random_state", "download")


def _without_unused_generic_options(loader, options: dict) -> dict:
    """Drop the generic options (:data:`GENERIC_OPTIONS`) that a loader has no parameter for.

    Generic callers pass them to every dataset; a plugin's ``load(n=300)`` without ``**kwargs`` would
    otherwise fail on ``data_dir``.
    """
    import inspect

    try:
        parameters = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return options
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    return {k: v for k, v in options.items() if k in parameters or k not in GENERIC_OPTIONS}


def _check_options(loader, options: dict, name: str) -> None:
    """Refuse options a loader does not take, or would swallow unread in its ``**_ignored`` (drama2's
    loaders' convention), with a suggestion rather than a bare ``TypeError``."""
    import inspect

    from drama2.validation import refuse_unknown

    try:
        parameters = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD and not p.name.startswith("_") for p in parameters.values()):
        return  # a loader with a real **kwargs checks its own options
    known = [p for p in parameters if parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    refuse_unknown(options, known + list(GENERIC_OPTIONS), component=f"dataset {name!r}", noun="option")
