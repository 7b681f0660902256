"""The random-projection reducer itself."""

from __future__ import annotations

from sklearn.random_projection import GaussianRandomProjection

from drama2.reducers import Reducer


class RandomProjectionReducer(Reducer):
    """Project onto ``n_components`` random Gaussian directions.

    Parameters
    ----------
    n_components : int, default 2
        Latent size.
    random_state : int or None
        Seed of the projection matrix.
    """

    def __init__(self, n_components=2, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, X):
        self.model_ = GaussianRandomProjection(
            n_components=self.n_components, random_state=self.random_state, compute_inverse_components=True
        ).fit(X)

    def _transform(self, X):
        return self.model_.transform(X)

    def _inverse_transform(self, Z):
        return self.model_.inverse_transform(Z)
