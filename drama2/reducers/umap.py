"""UMAP reducer (``"umap"``) on umap-learn.

UMAP has no inverse map that DRAMA could use for decoded prototypes, so
``has_inverse`` is False and DRAMA takes each group's member mean instead.
"""

from __future__ import annotations

import warnings

from drama2.errors import InvalidInputError
from drama2.reducers.base import Reducer

__all__ = ["UMAPReducer"]


class UMAPReducer(Reducer):
    """Uniform Manifold Approximation and Projection (McInnes, Healy & Melville 2018).

    Parameters
    ----------
    n_components : int, default 2
        Latent size.
    n_neighbors : int, default 15
        Size of the local neighbourhood; must be smaller than the number of rows.
    min_dist : float, default 0.1
        How tightly points may be packed in the embedding.
    metric : str, default "euclidean"
        Any metric umap-learn accepts.
    random_state : int or None, default None
        An int makes the embedding repeatable (umap-learn then runs single-threaded).

    Attributes
    ----------
    model_ : umap.UMAP
        The fitted embedding; ``transform`` places new rows into it.
    """

    has_inverse = False
    # umap-learn's fitted model holds numba-compiled functions, which the pickle-free model file cannot hold.
    _save_refusal = ("umap-learn keeps numba-compiled functions in its fitted model, and drama2's model file holds "
                     "no code. A fitted Drama(reducer='umap') can be saved (it keeps prototypes, not reducers); "
                     "a UMAPReducer on its own must be fitted again from the data.")

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean", random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state

    def _fit(self, X):
        try:
            import umap
        except ImportError:
            raise InvalidInputError("the umap reducer needs umap-learn: pip install 'drama2[umap]'.") from None
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k < X.shape[0]:
            raise InvalidInputError(f"UMAPReducer: n_neighbors must be an integer in [2, n_rows - 1] = [2, "
                                    f"{X.shape[0] - 1}], got {k!r}.")
        self.model_ = umap.UMAP(n_components=self.n_components, n_neighbors=k, min_dist=self.min_dist,
                                metric=self.metric, random_state=self.random_state)
        with warnings.catch_warnings():
            # A seed makes umap-learn single-threaded and say so on every fit; that is the price of repeatability.
            warnings.filterwarnings("ignore", message=".*n_jobs value .* overridden.*")
            self.model_.fit(X)

    def _transform(self, X):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value .* overridden.*")
            return self.model_.transform(X)
