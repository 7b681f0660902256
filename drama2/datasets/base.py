"""The dataset record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,) of 0/1 int, or None
        1 = anomaly.
    source : str
        Where the data comes from (file path or generator).
    citation : str
    metadata : dict
    """

    name: str
    X: np.ndarray
    y: np.ndarray | None
    source: str = ""
    citation: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def n_outliers(self) -> int | None:
        return None if self.y is None else int(self.y.sum())

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n={self.X.shape[0]}, d={self.X.shape[1]}, "
                f"outliers={self.n_outliers})")
