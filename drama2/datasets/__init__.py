"""Named datasets: ``drama2.load_dataset(name)`` resolves through the plugin registry."""

from __future__ import annotations

from drama2.datasets.base import Dataset


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


__all__ = ["Dataset", "load_dataset"]
