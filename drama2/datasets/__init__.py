"""Datasets: named benchmarks through the plugin registry, and users' own tables.

``drama2.load_dataset(name)`` loads any registered dataset (``drama2 list
datasets``); :func:`from_table` reads a catalogue file; :func:`leave_one_class_out`
turns a multi-class dataset into anomaly-detection splits.
"""

from __future__ import annotations

from drama2.datasets.base import Dataset
from drama2.datasets.splits import ClassSplit, leave_one_class_out
from drama2.datasets.tables import from_table


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
    from drama2.registry import get_registry

    loader = get_registry().load("datasets", name)
    _check_options(loader, options, name)
    return loader(**options)


#: Options any loader may receive (and ignore): what generic callers such as the bench pass to every dataset.
GENERIC_OPTIONS = ("data_dir", "random_state", "download")


def _check_options(loader, options: dict, name: str) -> None:
    """Refuse options a loader would swallow unread in its ``**_ignored`` (drama2's loaders' convention)."""
    import inspect

    from drama2.validation import refuse_unknown

    try:
        parameters = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD and p.name.startswith("_") for p in parameters.values()):
        return  # a loader with a real **kwargs (or none) checks its own options
    known = [p for p in parameters if parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    refuse_unknown(options, known + list(GENERIC_OPTIONS), component=f"dataset {name!r}", noun="option")
