"""The ten metric kernels against scipy.spatial.distance and the SPEC definitions."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from drama2.metrics import METRIC_NAMES, LeafStats, nearest_prototype, pairwise_distances
from drama2.errors import InvalidInputError

SCIPY_NAMES = {
    "l1": ("cityblock", {}),
    "l2": ("euclidean", {}),
    "l4": ("minkowski", {"p": 4}),
    "braycurtis": ("braycurtis", {}),
    "chebyshev": ("chebyshev", {}),
    "canberra": ("canberra", {}),
    "correlation": ("correlation", {}),
}


def make_case(rng, n=60, d=7, k=3):
    X = rng.normal(size=(n, d))
    members = [rng.normal(loc=j, size=(20, d)) for j in range(k)]
    stats = LeafStats.from_groups(members)
    P = rng.normal(size=(k, d))
    return X, P, stats


@pytest.mark.parametrize("name", sorted(SCIPY_NAMES))
def test_matches_scipy_on_random_data(name, rng):
    X, P, stats = make_case(rng)
    scipy_name, kw = SCIPY_NAMES[name]
    np.testing.assert_allclose(pairwise_distances(X, P, name, stats), cdist(X, P, scipy_name, **kw),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["l1", "l2", "l4", "braycurtis", "chebyshev", "canberra"])
def test_matches_scipy_with_zeros_and_non_negative_data(name, rng):
    # Zero rows and zero entries: canberra's 0/0 terms count 0 as in scipy.
    X = np.abs(rng.normal(size=(30, 5)))
    X[::3, 1:3] = 0.0
    X[5] = 0.0
    P = np.abs(rng.normal(size=(2, 5)))
    P[0, 1] = 0.0
    scipy_name, kw = SCIPY_NAMES[name]
    np.testing.assert_allclose(pairwise_distances(X, P, name), cdist(X, P, scipy_name, **kw), rtol=1e-10, atol=1e-12)


def test_zero_vector_against_zero_prototype_is_distance_zero():
    X = np.zeros((2, 4))
    P = np.zeros((1, 4))
    for name in ("braycurtis", "canberra", "l1", "l2", "chebyshev"):
        assert np.all(pairwise_distances(X, P, name) == 0.0), name


@pytest.mark.parametrize("name", sorted(SCIPY_NAMES))
def test_one_feature(name, rng):
    X = rng.normal(size=(10, 1))
    P = rng.normal(size=(2, 1))
    ours = pairwise_distances(X, P, name)
    assert np.isfinite(ours).all()
    if name == "correlation":
        # A single value has no correlation; drama2 defines the distance as 1 (scipy gives NaN).
        np.testing.assert_array_equal(ours, 1.0)
    else:
        scipy_name, kw = SCIPY_NAMES[name]
        np.testing.assert_allclose(ours, cdist(X, P, scipy_name, **kw), rtol=1e-10)


def test_correlation_constant_rows_follow_the_original_rule(rng):
    X = rng.normal(size=(5, 6))
    X[2] = 3.0
    P = rng.normal(size=(2, 6))
    P[1] = -1.0
    ours = pairwise_distances(X, P, "correlation")
    Xr, Pr = X.copy(), P.copy()
    Xr[2, 0] += 1e-7
    Pr[1, 0] += 1e-7
    np.testing.assert_allclose(ours, cdist(Xr, Pr, "correlation"), rtol=1e-6, atol=1e-9)
    assert X[2, 0] == 3.0 and P[1, 0] == -1.0  # the caller's data is untouched


@pytest.mark.parametrize("power", [2, 4])
def test_weighted_metrics_follow_the_spec(power, rng):
    X, P, stats = make_case(rng)
    var = np.array([np.diag(c) for c in stats.covariances])
    var[0, 0] = 1e-9  # exercises the floor: sigma = sqrt(max(var, 1e-4))
    stats = LeafStats(stats.means, stats.covariances.copy(), stats.sizes)
    stats.covariances[0, 0, 0] = 1e-9
    sigma = np.sqrt(np.maximum(var, 1e-4))
    expected = np.stack([((np.abs(X - P[j]) / sigma[j]) ** power).sum(1) ** (1 / power) for j in range(len(P))], 1)
    np.testing.assert_allclose(pairwise_distances(X, P, f"wl{power}", stats), expected, rtol=1e-10)


def test_mahalanobis_is_squared_with_pseudo_inverse_and_member_mean(rng):
    X = rng.normal(size=(40, 4))
    # A singular covariance (two identical features) needs the pseudo-inverse.
    singular = rng.normal(size=(25, 3))
    groups = [np.c_[singular, singular[:, 0]], rng.normal(size=(30, 4))]
    stats = LeafStats.from_groups(groups)
    expected = np.stack(
        [cdist(X, g.mean(0, keepdims=True), "mahalanobis",
               VI=np.linalg.pinv(np.cov(g, rowvar=False, bias=True)))[:, 0] ** 2 for g in groups], axis=1)
    # Prototypes are ignored: mahalanobis measures from the leaf's member mean.
    far_prototypes = np.full((2, 4), 100.0)
    np.testing.assert_allclose(pairwise_distances(X, far_prototypes, "mahalanobis", stats), expected, rtol=1e-8)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_inputs_are_never_mutated_and_chunking_is_invisible(name, rng):
    X, P, stats = make_case(rng, n=101)
    X[3] = 1.5  # a constant row
    X0, P0, m0 = X.copy(), P.copy(), stats.means.copy()
    whole = pairwise_distances(X, P, name, stats)
    tiny_chunks = pairwise_distances(X, P, name, stats, chunk_elements=7)
    np.testing.assert_allclose(tiny_chunks, whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(P, P0)
    np.testing.assert_array_equal(stats.means, m0)
    best, index = nearest_prototype(X, P, name, stats, chunk_elements=7)
    np.testing.assert_allclose(best, whole.min(1))
    np.testing.assert_array_equal(index, whole.argmin(1))


def test_tensor_in_tensor_out(rng):
    X, P, stats = make_case(rng)
    Xt = torch.from_numpy(X)
    out = pairwise_distances(Xt, P, "l2")
    assert torch.is_tensor(out) and out.device == Xt.device
    np.testing.assert_allclose(out.numpy(), cdist(X, P))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", METRIC_NAMES)
def test_cuda_matches_cpu(name, rng):
    X, P, stats = make_case(rng, n=500)
    cpu = pairwise_distances(X, P, name, stats, device="cpu")
    gpu = pairwise_distances(X, P, name, stats, device="cuda")
    np.testing.assert_allclose(gpu, cpu, rtol=1e-9, atol=1e-9)


def test_leaf_precisions_equal_numpys_pseudo_inverse_for_singular_covariances(rng):
    from drama2.metrics import _symmetric_pinv

    for n, d in ((5, 20), (300, 40), (50, 3)):  # rank-deficient, well-conditioned, tiny
        cov = np.cov(rng.normal(size=(n, d)).T, bias=True)
        np.testing.assert_allclose(_symmetric_pinv(cov), np.linalg.pinv(cov), atol=1e-10 * np.abs(np.linalg.pinv(cov)).max())
    np.testing.assert_array_equal(_symmetric_pinv(np.zeros((3, 3))), np.zeros((3, 3)))


def _transposed(X, P, stats):
    return torch.cdist(X, P).T


def _as_numpy(X, P, stats):
    return torch.cdist(X, P).numpy()


def _scribbles_on_its_inputs(X, P, stats):
    X.mul_(2.0)
    P.mul_(3.0)
    return torch.cdist(X, P)


@pytest.mark.parametrize("kernel, match", [(_transposed, "returned shape \\(4, 50\\)"),
                                           (_as_numpy, "returned ndarray")])
def test_a_plugin_kernel_with_the_wrong_output_is_named(kernel, match):
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(InvalidInputError, match=f"metric kernel '{kernel.__name__}' {match}"):
        pairwise_distances(X, X[:4], kernel)


def test_a_plugin_kernel_cannot_change_the_callers_rows_or_prototypes():
    X = np.random.default_rng(0).normal(size=(50, 3))
    P = X[:4].copy()
    X_before, P_before = X.copy(), P.copy()
    pairwise_distances(X, P, _scribbles_on_its_inputs)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(P, P_before)
