"""A uniform random sample of a stream read in chunks: the rows with the smallest random tags."""

from __future__ import annotations

import numpy as np

__all__ = ["TaggedSample"]


class TaggedSample:
    """At most ``size`` rows of a stream: those whose random tags are smallest.

    The caller draws one tag per row (uniform in [0, 1)) and passes it with the row's values, one array per
    column (rows along axis 0). When tags are drawn for every row in file order, the sample does not depend
    on how the stream is cut into chunks.
    """

    def __init__(self, size: int):
        self.size = int(size)
        self.tags = np.empty(0)
        self.columns: tuple[np.ndarray, ...] | None = None

    def add(self, tags: np.ndarray, *columns: np.ndarray) -> None:
        if self.tags.size >= self.size:  # full: only rows tagged below the current largest tag can enter
            keep = tags < self.tags.max()
            tags, columns = tags[keep], tuple(c[keep] for c in columns)
        if tags.size == 0:
            return
        if self.columns is not None:
            tags = np.concatenate([self.tags, tags])
            columns = tuple(np.concatenate([old, new]) for old, new in zip(self.columns, columns))
        if tags.size > self.size:
            keep = np.argpartition(tags, self.size - 1)[:self.size]
            tags, columns = tags[keep], tuple(c[keep] for c in columns)
        self.tags, self.columns = tags, columns
