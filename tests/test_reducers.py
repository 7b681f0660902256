"""Linear reducers: registered by name, fit / transform / inverse_transform, against scikit-learn."""

import numpy as np
import pytest
from sklearn.decomposition import NMF, PCA, FastICA

from drama2.registry import get_registry


@pytest.fixture
def X(rng):
    return np.abs(rng.normal(size=(80, 6))) + rng.random((80, 1))


@pytest.mark.parametrize("name", ["none", "pca", "ica", "nmf"])
def test_registered_and_round_trip_shapes(name, X):
    cls = get_registry().load("reducers", name)
    reducer = cls(n_components=3, random_state=0).fit(X)
    Z = reducer.transform(X)
    assert Z.shape == (80, 6 if name == "none" else 3)
    back = reducer.inverse_transform(Z)
    assert back.shape == X.shape


def test_none_is_the_identity(X):
    reducer = get_registry().load("reducers", "none")().fit(X)
    np.testing.assert_array_equal(reducer.transform(X), X)
    np.testing.assert_array_equal(reducer.inverse_transform(X), X)


def test_pca_matches_sklearn(X):
    ours = get_registry().load("reducers", "pca")(n_components=2).fit(X)
    ref = PCA(2).fit(X)
    np.testing.assert_allclose(np.abs(ours.transform(X)), np.abs(ref.transform(X)), atol=1e-10)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), ref.inverse_transform(ref.transform(X)),
                               atol=1e-10)


def test_ica_matches_sklearn_with_drama_defaults(X):
    ours = get_registry().load("reducers", "ica")(n_components=2, random_state=0).fit(X)
    ref = FastICA(2, max_iter=1000, whiten="arbitrary-variance", random_state=0).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-8)


def test_nmf_decodes_with_its_basis(X):
    ours = get_registry().load("reducers", "nmf")(n_components=2).fit(X)
    ref = NMF(2, init="nndsvd").fit(X)
    Z = ours.transform(X)
    np.testing.assert_allclose(Z, ref.transform(X), atol=1e-8)
    np.testing.assert_allclose(ours.inverse_transform(Z), Z @ ref.components_, atol=1e-8)
