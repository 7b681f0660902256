"""Linear reducers: none, PCA, FastICA and NMF (scikit-learn underneath)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import NMF, PCA, FastICA
from sklearn.exceptions import ConvergenceWarning

from drama2.errors import InvalidInputError
from drama2.reducers.base import Reducer


class IdentityReducer(Reducer):
    """No reduction: the latent space is the data space (``"none"``).

    ``n_components`` is accepted for a uniform interface and ignored.

    Parameters
    ----------
    n_components : int, default 2
        Ignored: the latent size is the number of features.
    random_state : int or None
        Ignored (nothing is random); stored for a uniform interface.
    """

    bounded_by_features = False

    def __init__(self, n_components=2, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, X):
        pass

    def _transform(self, X):
        return X.copy()

    def _inverse_transform(self, Z):
        return Z.copy()


class _SklearnReducer(Reducer):
    # Training rows are encoded with transform() after fit(), as DRAMA did; for NMF
    # this differs from the fit's own W and matters for reproducing its scores.
    def _fit(self, X):
        self.model_ = self._make_model()
        self._fit_transform(X)

    def _transform(self, X):
        return self.model_.transform(X)

    def _inverse_transform(self, Z):
        return self.model_.inverse_transform(Z)

    def _fit_transform(self, X):
        return self.model_.fit_transform(X)


class PCAReducer(_SklearnReducer):
    """Principal component analysis (``"pca"``).

    Parameters
    ----------
    n_components : int, default 2
        Latent size.
    random_state : int or None
        Seed for randomised SVD solvers.
    svd_solver : str, default "auto"
        Passed to :class:`sklearn.decomposition.PCA`.
    """

    def __init__(self, n_components=2, random_state=None, svd_solver="auto"):
        self.n_components = n_components
        self.random_state = random_state
        self.svd_solver = svd_solver

    def _make_model(self):
        return PCA(n_components=self.n_components, svd_solver=self.svd_solver, random_state=self.random_state)


class ICAReducer(_SklearnReducer):
    """Independent component analysis with FastICA (``"ica"``).

    Defaults follow DRAMA: ``max_iter=1000``, ``whiten="arbitrary-variance"``.

    Parameters
    ----------
    n_components : int, default 2
        Latent size (number of independent components).
    random_state : int or None
        Seed of FastICA's initial unmixing matrix.
    max_iter : int, default 1000
        Most FastICA iterations; stopping there does not warn.
    whiten : str or bool, default "arbitrary-variance"
        Whitening strategy, passed to :class:`sklearn.decomposition.FastICA`.
    tol : float, default 1e-4
        Convergence tolerance, passed to FastICA.
    """

    def __init__(self, n_components=2, random_state=None, max_iter=1000, whiten="arbitrary-variance", tol=1e-4):
        self.n_components = n_components
        self.random_state = random_state
        self.max_iter = max_iter
        self.whiten = whiten
        self.tol = tol

    def _make_model(self):
        return FastICA(n_components=self.n_components, max_iter=self.max_iter, whiten=self.whiten,
                       tol=self.tol, random_state=self.random_state)

    def _fit_transform(self, X):
        with warnings.catch_warnings():
            # FastICA often stops at max_iter on data with fewer real sources than
            # components; the components are still usable, so do not alarm the user.
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.model_.fit_transform(X)


class NMFReducer(_SklearnReducer):
    """Non-negative matrix factorisation (``"nmf"``); input must be non-negative.

    Defaults follow DRAMA: ``init="nndsvd"``. Prototypes decode as ``z @ H``.

    Parameters
    ----------
    n_components : int, default 2
        Latent size (number of NMF components).
    random_state : int or None
        Seed for initialisations that use one, passed to
        :class:`sklearn.decomposition.NMF`.
    init : str, default "nndsvd"
        Initialisation method, passed to NMF.
    max_iter : int, default 200
        Most iterations; stopping there does not warn.
    tol : float, default 1e-4
        Convergence tolerance, passed to NMF.
    """

    def __init__(self, n_components=2, random_state=None, init="nndsvd", max_iter=200, tol=1e-4):
        self.n_components = n_components
        self.random_state = random_state
        self.init = init
        self.max_iter = max_iter
        self.tol = tol

    def _make_model(self):
        return NMF(n_components=self.n_components, init=self.init, max_iter=self.max_iter, tol=self.tol,
                   random_state=self.random_state)

    @staticmethod
    def _check_nonnegative(X):
        low = float(X.min())
        if low < 0:
            raise InvalidInputError(
                f"NMF needs non-negative input, but the data it received has minimum {low:.4g}. Use "
                "scaling='minmax' (the default) so training data lies in [0, 1], shift the data, or pick "
                "another reducer."
            )

    def _fit_transform(self, X):
        self._check_nonnegative(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.model_.fit_transform(X)

    def _transform(self, X):
        self._check_nonnegative(X)
        return super()._transform(X)

    def _inverse_transform(self, Z):
        return np.asarray(Z) @ self.model_.components_
