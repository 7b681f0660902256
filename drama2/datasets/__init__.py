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
        Passed to the dataset's loader (e.g. ``data_dir`` or ``random_state``).
    """
    from drama2.registry import get_registry

    return get_registry().load("datasets", name)(**options)


__all__ = ["ClassSplit", "Dataset", "from_table", "leave_one_class_out", "load_dataset"]
