"""The dataset record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drama2.errors import InvalidInputError


@dataclass
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    name : str
        Name of the dataset (usually its registered name), used in messages and results.
    X : ndarray of shape (n_samples, n_features), float64
        The flat view every detector takes. Image datasets also offer :attr:`images`.
    y : ndarray of shape (n_samples,) of 0/1 int, or None
        1 = anomaly, 0 = normal; None when the data carry no anomaly labels.
    source : str
        Where the data come from (file path, URL or generator).
    citation : str
        What to cite when publishing results on these data.
    metadata : dict
        Anything else worth knowing (sha256, generator settings, ``image_shape`` …).
    classes : ndarray of shape (n_samples,), or None
        Class labels where the data have them (digits, ALeRCE sub-classes), e.g. for MCDSVDD.
    """

    name: str
    X: np.ndarray
    y: np.ndarray | None
    source: str = ""
    citation: str = ""
    metadata: dict = field(default_factory=dict)
    classes: np.ndarray | None = None

    def __post_init__(self):
        # Loaders include third-party plugins: check the record here, where the mistake is still named by
        # its dataset, rather than as a length mismatch deep inside an evaluation.
        where = f"Dataset {self.name!r}"
        try:
            X = np.asarray(self.X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{where}: X must be numeric ({exc}).") from None
        if X.ndim != 2:
            raise InvalidInputError(f"{where}: X must be 2-D (n_samples, n_features), got shape {X.shape}; "
                                    "images go in flattened, with metadata['image_shape'].")
        self.X = X
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim == 2 and 1 in y.shape:  # a column or row vector, as .mat files store labels
                y = y.reshape(-1)
            if y.shape != (X.shape[0],):
                raise InvalidInputError(f"{where}: y has shape {y.shape} but X has {X.shape[0]} rows; give one "
                                        "label per row (or y=None for unlabelled data).")
            values = np.unique(y)
            if not np.isin(values, [0, 1]).all():
                raise InvalidInputError(f"{where}: y must be 1 (anomaly) or 0 (normal); found "
                                        f"{values[:10].tolist()}. Map your labels to 0/1 first.")
            self.y = y.astype(int)
        if self.classes is not None and len(self.classes) != X.shape[0]:
            raise InvalidInputError(f"{where}: classes has {len(self.classes)} entries but X has {X.shape[0]} rows.")

    @property
    def n_outliers(self) -> int | None:
        """Number of rows labelled anomalous (None without labels)."""
        return None if self.y is None else int(self.y.sum())

    @property
    def images(self) -> np.ndarray:
        """The rows as images ``(n, channels, height, width)`` for convolutional reducers.

        Only for datasets whose ``metadata["image_shape"]`` says how a row folds into an image.
        """
        shape = self.metadata.get("image_shape")
        if shape is None:
            raise AttributeError(f"dataset {self.name!r} is not an image dataset (no metadata['image_shape']).")
        return self.X.reshape((self.X.shape[0], *shape))

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n={self.X.shape[0]}, d={self.X.shape[1]}, "
                f"outliers={self.n_outliers})")
