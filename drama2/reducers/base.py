"""The reducer contract shared by built-in and plugin reducers."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from drama2.errors import InvalidInputError
from drama2.validation import check_array, check_is_fitted, check_n_features


class Reducer(BaseEstimator):
    """Base class for reducers: ``fit(X)``, ``transform(X)``, ``inverse_transform(Z)``.

    Subclasses implement :meth:`_fit`, :meth:`_transform` and, when they have
    an inverse, :meth:`_inverse_transform`; this class validates inputs and
    the latent size. Set ``has_inverse = False`` on reducers that cannot map
    latent points back to data space (DRAMA then uses member means).
    """

    has_inverse = True
    #: Whether the reducer caps ``n_components`` at the number of features.
    bounded_by_features = True

    def _check_n_components(self, X: np.ndarray) -> int:
        k = self.n_components
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise InvalidInputError(f"{type(self).__name__}: n_components must be a positive integer, got {k!r}.")
        if self.bounded_by_features and k > X.shape[1]:
            raise InvalidInputError(
                f"{type(self).__name__}: n_components={k} is larger than the number of features "
                f"({X.shape[1]}); choose n_components <= {X.shape[1]}."
            )
        if self.bounded_by_features and k > X.shape[0]:
            raise InvalidInputError(
                f"{type(self).__name__}: n_components={k} is larger than the number of rows ({X.shape[0]}); "
                "use a smaller latent size or more data."
            )
        return int(k)

    def fit(self, X, y=None):
        """Fit the reducer on ``X`` (n_samples, n_features); returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN or infinite values are an error.
        y : ignored
            Accepted for scikit-learn pipelines.

        Returns
        -------
        self
        """
        X = check_array(X, estimator=type(self).__name__)
        self._check_n_components(X)
        self._fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Latent coordinates (n_samples, n_components) of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with as many features as the training data.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float64
        """
        check_is_fitted(self, "n_features_in_")
        X = check_array(X, estimator=type(self).__name__)
        check_n_features(X, self.n_features_in_, estimator=type(self).__name__)
        return np.asarray(self._transform(X), dtype=np.float64)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit on ``X``, then return its latent coordinates (``fit(X).transform(X)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored
            Accepted for scikit-learn pipelines.

        Returns
        -------
        ndarray of shape (n_samples, n_components), float64
        """
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map latent points back to data space (only when ``has_inverse``).

        Parameters
        ----------
        Z : array-like of shape (n_points, n_components)
            Latent points, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_points, n_features), float64
        """
        check_is_fitted(self, "n_features_in_")
        if not self.has_inverse:
            raise InvalidInputError(f"{type(self).__name__} has no inverse_transform; use member means instead.")
        Z = check_array(Z, name="Z", estimator=type(self).__name__)
        return np.asarray(self._inverse_transform(Z), dtype=np.float64)

    # -- to implement -----------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(X) to be a Reducer.")

    def _transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _transform(X) to be a Reducer.")

    def _inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no _inverse_transform(Z): implement it, or set "
                                  "has_inverse = False on the class so DRAMA uses member means as prototypes.")
