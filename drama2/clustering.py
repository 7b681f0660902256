"""Clusterers that split a leaf's latent codes into groups.

Contract: constructed with ``n_clusters`` and ``random_state`` keywords;
``fit_predict(Z)`` returns labels in ``0 .. n_clusters - 1``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import AgglomerativeClustering, KMeans

from drama2.device import check_random_state

__all__ = ["WardClusterer", "KMeansClusterer"]


class WardClusterer(BaseEstimator):
    """Agglomerative clustering with Ward linkage, bounded in memory for large inputs.

    Ward needs O(n²) memory, so above ``max_samples`` rows it clusters a
    random subsample and assigns every row to the nearest subsample-cluster
    centroid. (The original DRAMA instead clustered contiguous chunks
    independently, which mixed up cluster identities between chunks.)

    Parameters
    ----------
    n_clusters : int, default 2
    max_samples : int or None, default 5000
        Largest number of rows clustered exactly; None always clusters all rows.
    random_state : int, Generator or None
        Seeds the subsample.
    """

    def __init__(self, n_clusters=2, max_samples=5000, random_state=None):
        self.n_clusters = n_clusters
        self.max_samples = max_samples
        self.random_state = random_state

    def fit_predict(self, Z, y=None) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        n = Z.shape[0]
        if self.max_samples is None or n <= self.max_samples:
            return AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward").fit_predict(Z)
        rng = check_random_state(self.random_state)
        sample = np.sort(rng.choice(n, size=self.max_samples, replace=False))
        sample_labels = AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward").fit_predict(Z[sample])
        centroids = np.stack([Z[sample][sample_labels == k].mean(axis=0) for k in range(self.n_clusters)])
        d2 = ((Z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
        return d2.argmin(axis=1)


class KMeansClusterer(BaseEstimator):
    """k-means (scikit-learn), linear in the number of rows.

    Parameters
    ----------
    n_clusters : int, default 2
    n_init : int, default 10
    random_state : int, Generator or None
    """

    def __init__(self, n_clusters=2, n_init=10, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit_predict(self, Z, y=None) -> np.ndarray:
        seed = self.random_state
        if not (seed is None or isinstance(seed, (int, np.integer))):
            seed = int(check_random_state(seed).integers(2**31 - 1))
        return KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=seed).fit_predict(
            np.asarray(Z, dtype=np.float64))
