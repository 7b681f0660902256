"""The Drama estimator: contract, splitting, prototypes, scaling, determinism."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA

from drama2 import Drama
from drama2.reducers import Reducer
from drama2.evaluation import auc


def blobs(rng, n=150, d=4, outliers=5):
    """Two well-separated clusters plus a few far-away outliers at the end."""
    X = np.r_[rng.normal(0, 1, (n, d)), rng.normal(8, 1, (n, d)), rng.uniform(-30, 40, (outliers, d))]
    y = np.r_[np.zeros(2 * n, int), np.ones(outliers, int)]
    return X, y


def use_only_reducer(monkeypatch, name, cls):
    """Make ``Drama`` see a registry holding only the reducer ``cls`` under ``name`` (a test plugin)."""
    import drama2
    import drama2.engine
    from drama2.registry import Registry

    class Plugin:
        @drama2.hookimpl
        def register_reducers(self, register):
            register(name, cls)

    registry = Registry(load_entry_points=False, plugins=[("test", Plugin())])
    monkeypatch.setattr(drama2.engine, "get_registry", lambda: registry)


def test_detector_contract(rng):
    X, y = blobs(rng)
    model = Drama(random_state=0, contamination=0.05)
    assert model.fit(X) is model
    scores = model.score_samples(X)
    assert scores.shape == (len(X),)
    np.testing.assert_allclose(model.decision_scores_, scores)
    np.testing.assert_allclose(model.decision_function(X), scores)
    assert auc(y, scores) > 0.99  # higher = more anomalous
    flags = model.predict(X)
    assert set(np.unique(flags)) <= {0, 1}
    assert abs(flags.mean() - 0.05) < 0.01
    np.testing.assert_array_equal(model.labels_, flags)
    assert model.prototypes_.shape == (2, X.shape[1])
    assert model.leaf_labels_.shape == (len(X),)
    assert model.leaf_stats_.sizes.sum() == (model.leaf_labels_ >= 0).sum()
    clone(model)  # sklearn-compatible parameters


def test_prototypes_are_decoded_latent_centroids_in_input_units(rng):
    X, _ = blobs(rng, outliers=0)
    model = Drama(reducer="pca", n_components=2, scaling="minmax", random_state=0).fit(X)
    Xs = (X - X.min(0)) / (X.max(0) - X.min(0))
    pca = PCA(2).fit(Xs)
    for k, leaf in enumerate(model.leaves_):
        centroid = pca.transform(Xs[leaf.members]).mean(0, keepdims=True)
        expected = pca.inverse_transform(centroid)[0] * (X.max(0) - X.min(0)) + X.min(0)
        np.testing.assert_allclose(model.prototypes_[k], expected, atol=1e-8)
    # Both true clusters are found.
    sizes = sorted(leaf.size for leaf in model.leaves_)
    assert sizes == [150, 150]


def test_none_reducer_prototypes_are_member_means(rng):
    X, _ = blobs(rng, outliers=0)
    model = Drama(reducer="none", random_state=0).fit(X)
    for k, leaf in enumerate(model.leaves_):
        np.testing.assert_allclose(model.prototypes_[k], X[leaf.members].mean(0), atol=1e-9)


def test_reconstruction_prototypes_equal_decoded_centroids_for_pca(rng):
    # PCA's inverse is affine, so the mean of the members' reconstructions is the decoded centroid.
    X, _ = blobs(rng)
    decoded = Drama(reducer="pca", random_state=0).fit(X)
    averaged = Drama(reducer="pca", prototype="reconstruction", random_state=0).fit(X)
    np.testing.assert_allclose(averaged.prototypes_, decoded.prototypes_, atol=1e-9)
    np.testing.assert_allclose(averaged.decision_scores_, decoded.decision_scores_, atol=1e-9)


def test_reconstruction_prototypes_average_a_nonlinear_decoder(rng, monkeypatch):
    from drama2.reducers import Reducer

    class SquareDecoder(Reducer):
        """Codes are the first two columns; decoding squares them (curved, so mean and decode differ)."""

        def __init__(self, n_components=2, random_state=None):
            self.n_components = n_components
            self.random_state = random_state

        def _fit(self, X):
            self.n_out_ = X.shape[1]

        def _transform(self, X):
            return X[:, :2]

        def _inverse_transform(self, Z):
            return np.tile(Z ** 2, (1, self.n_out_ // 2 + 1))[:, :self.n_out_]

    use_only_reducer(monkeypatch, "square-decoder", SquareDecoder)
    X, _ = blobs(rng, outliers=0)
    model = Drama(reducer="square-decoder", prototype="reconstruction", scaling="none", random_state=0).fit(X)
    decoded = Drama(reducer="square-decoder", scaling="none", random_state=0).fit(X)
    for k, leaf in enumerate(model.leaves_):
        codes = X[leaf.members, :2]
        expected = np.tile((codes ** 2).mean(0), 3)[:X.shape[1]]
        np.testing.assert_allclose(model.prototypes_[k], expected, atol=1e-9)
        # Jensen: the decoded centroid squares the mean code, which is smaller than the mean square.
        assert (decoded.prototypes_[k] < model.prototypes_[k]).all()


def test_deeper_splits_fit_a_fresh_reducer_per_leaf(rng):
    # Two far-apart pairs of clusters: level 1 separates the pairs, level 2 each pair.
    centres = [(0, 0, 0), (0, 6, 0), (30, 0, 0), (30, 6, 0)]
    X = np.concatenate([rng.normal(c, 0.5, (60, 3)) for c in centres])
    model = Drama(split_levels=2, scaling="none", random_state=0).fit(X)
    assert len(model.leaves_) == 4
    assert sorted(leaf.path for leaf in model.leaves_) == ["00", "01", "10", "11"]
    assert sorted(leaf.size for leaf in model.leaves_) == [60, 60, 60, 60]


def test_tiny_groups_make_no_phantom_prototypes(rng):
    # One extreme outlier becomes its own Ward group: it must not become a prototype
    # (that would give it the lowest possible score).
    X = np.r_[rng.normal(0, 1, (100, 3)), [[500.0, 500.0, 500.0]]]
    model = Drama.original(reducer="none").fit(X)
    assert len(model.leaves_) == 1
    assert model.leaf_labels_[-1] == -1
    assert np.argmax(model.decision_scores_) == 100


def test_large_inputs_cluster_consistently(rng):
    # Above max_samples rows, Ward runs on a subsample and every row is assigned by nearest centroid:
    # one cluster identity for the whole dataset (the original clustered chunks independently).
    X = np.r_[rng.normal(0, 1, (3500, 2)), rng.normal(10, 1, (3500, 2))]
    model = Drama(reducer="none", clusterer_params={"max_samples": 1000}, random_state=0).fit(X)
    assert sorted(leaf.size for leaf in model.leaves_) == [3500, 3500]
    assert len(set(model.leaf_labels_[:3500])) == 1


def test_kmeans_clusterer(rng):
    X, y = blobs(rng)
    model = Drama(clusterer="kmeans", random_state=0).fit(X)
    assert auc(y, model.decision_scores_) > 0.99


def test_per_feature_scaling_stops_the_widest_feature_dominating(rng):
    # Feature 0 has a huge range but no signal; the anomalies differ only in feature 1.
    n = 400
    X = np.c_[rng.uniform(0, 1000, n), rng.normal(0, 1, n)]
    X[:10, 1] += 8
    y = np.r_[np.ones(10, int), np.zeros(n - 10, int)]
    default = Drama(reducer="none", random_state=0).fit(X)
    original = Drama.original(reducer="none").fit(X)
    assert auc(y, default.decision_scores_) > 0.95
    assert auc(y, original.decision_scores_) < auc(y, default.decision_scores_) - 0.2


def test_same_seed_same_scores_and_metric_override_matches_a_refit(rng):
    X, _ = blobs(rng)
    a = Drama(reducer="ica", random_state=3).fit(X).decision_scores_
    b = Drama(reducer="ica", random_state=3).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)
    model = Drama(metric="l2", random_state=0).fit(X)
    refit = Drama(metric="canberra", random_state=0).fit(X)
    np.testing.assert_allclose(model.score_samples(X, metric="canberra"), refit.decision_scores_)


def test_scores_new_data_and_accepts_tensors(rng):
    X, _ = blobs(rng)
    model = Drama(random_state=0).fit(X)
    new = np.array([[0.0, 0, 0, 0], [100, 100, 100, 100]])
    s = model.score_samples(new)
    assert s[1] > s[0]
    st = model.score_samples(torch.from_numpy(new))
    assert torch.is_tensor(st)
    np.testing.assert_allclose(st.numpy(), s)
    single = model.score_samples(torch.from_numpy(new).float())  # torch in, torch out: same dtype
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.numpy(), s, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(new), [0, 1])


def test_correlation_refuses_a_single_feature(rng):
    # The centred one-element vector is zero, so every correlation distance would be 1: no ranking at all.
    X = rng.normal(size=(100, 1))
    with pytest.raises(ValueError, match="single feature"):
        Drama(reducer="none", metric="correlation").fit(X)


def test_contamination_auto_uses_tukeys_fence(rng):
    X, _ = blobs(rng)
    model = Drama(contamination="auto", random_state=0).fit(X)
    q1, q3 = np.percentile(model.decision_scores_, [25, 75])
    assert model.threshold_ == pytest.approx(q3 + 1.5 * (q3 - q1))


@pytest.mark.parametrize("reducer", ["none", "pca", "ica", "nmf"])
@pytest.mark.parametrize("metric", ["l1", "l2", "l4", "wl2", "wl4", "braycurtis", "chebyshev", "canberra",
                                    "correlation", "mahalanobis"])
def test_every_reducer_and_metric_finds_obvious_outliers(reducer, metric, rng):
    X, y = blobs(rng, n=100, outliers=4)
    X = X + 40  # keep values positive so relative metrics (canberra, braycurtis) are meaningful
    model = Drama(reducer=reducer, metric=metric, random_state=0).fit(X)
    assert np.isfinite(model.decision_scores_).all()
    assert auc(y, model.decision_scores_) > 0.8


class _FirstTwoColumnsNoInverse(Reducer):
    """A test reducer whose codes are the first two columns and which forgot to declare it has no inverse."""

    def __init__(self, n_components=2, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, X):
        pass

    def _transform(self, X):
        return X[:, :2]


def test_reducers_without_an_inverse_use_member_means(rng, monkeypatch):
    class FirstTwoColumns(_FirstTwoColumnsNoInverse):
        has_inverse = False

    use_only_reducer(monkeypatch, "first-two", FirstTwoColumns)
    X, _ = blobs(rng, outliers=0)
    model = Drama(reducer="first-two", random_state=0).fit(X)
    Xs = model.scaler_.to_distance_space(X)
    for k, leaf in enumerate(model.leaves_):
        np.testing.assert_allclose(model.prototypes_[k], X[leaf.members].mean(0), atol=1e-9)
        np.testing.assert_allclose(model._prototypes_scaled[k], Xs[leaf.members].mean(0), atol=1e-12)


def test_a_plain_plugin_reducer_needs_only_fit_and_transform(rng, monkeypatch):
    class FirstTwoPlain:  # follows the documented contract without subclassing Reducer: no inverse
        def __init__(self, n_components=2, random_state=None):
            self.n_components = n_components

        def fit(self, X):
            return self

        def transform(self, X):
            return np.asarray(X)[:, :2]

    use_only_reducer(monkeypatch, "first-two-plain", FirstTwoPlain)
    X, y = blobs(rng)
    model = Drama(reducer="first-two-plain", random_state=0).fit(X)
    for leaf, prototype in zip(model.leaves_, model.prototypes_):  # no inverse: member means
        np.testing.assert_allclose(prototype, X[leaf.members].mean(0), atol=1e-9)
    assert auc(y, model.decision_scores_) > 0.99


def test_a_reducer_subclass_without_an_inverse_says_how_to_declare_it(rng, monkeypatch):
    use_only_reducer(monkeypatch, "no-inverse", _FirstTwoColumnsNoInverse)
    X, _ = blobs(rng, outliers=0)
    with pytest.raises(NotImplementedError, match="set has_inverse = False"):
        Drama(reducer="no-inverse", random_state=0).fit(X)


def test_set_params_metric_after_fit_keeps_scoring_with_the_fitted_metric(rng):
    # The threshold belongs to the fitted metric's scores: flags under another metric would be meaningless.
    X, _ = blobs(rng)
    model = Drama(metric="l2", random_state=0).fit(X)
    scores, flags = model.score_samples(X), model.predict(X)
    model.set_params(metric="canberra")
    assert model.metric_ == "l2"
    np.testing.assert_array_equal(model.score_samples(X), scores)
    np.testing.assert_array_equal(model.predict(X), flags)
    assert model.predict(X).mean() == pytest.approx(0.1, abs=0.02)
    refit = clone(model).fit(X)
    assert refit.metric_ == "canberra" and refit.predict(X).mean() == pytest.approx(0.1, abs=0.02)


def test_global_scaling_of_all_negative_data_keeps_the_sign(rng):
    # X / max(X) with a negative max would flip the data; the largest magnitude is used instead.
    X, y = blobs(rng)
    X = X - X.max() - 1.0
    model = Drama.original(reducer="pca").fit(X)
    assert (model.scaler_.scale_ > 0).all()
    Xd = model.scaler_.to_distance_space(X)
    assert Xd.min() >= -1.0 and Xd.max() < 0
    np.testing.assert_allclose(model.prototypes_.min(), X.min(), rtol=0.5)  # prototypes back in input units
    assert auc(y, model.decision_scores_) > 0.95


def test_identical_rows_are_not_split_further(rng):
    # Level 2 would hand ICA a group of identical rows, which it cannot whiten.
    X = np.r_[np.zeros((60, 3)), rng.normal(5, 1, (60, 3))]
    model = Drama(reducer="ica", split_levels=2, min_leaf_size=5, random_state=0).fit(X)
    constant = [leaf for leaf in model.leaves_ if not np.ptp(X[leaf.members], axis=0).any()]
    assert len(constant) == 1 and constant[0].size == 60 and len(constant[0].path) == 1


def test_mahalanobis_warns_when_a_leaf_has_identical_members(rng):
    X = np.r_[np.zeros((60, 3)), rng.normal(5, 1, (60, 3))]
    with pytest.warns(UserWarning, match="identical members.*every score is 0"):
        Drama(metric="mahalanobis", min_leaf_size=5, random_state=0).fit(X)


@pytest.mark.parametrize("params, message", [
    ({"min_leaf_size": 1}, "integer >= 2"),
    ({"min_leaf_size": 1.0}, "integer >= 2"),
    ({"split_levels": True}, "split_levels"),
    ({"n_components": [2, 3]}, "n_components"),
    ({"n_components": "3"}, "n_components"),
    ({"scaling": "glob"}, "scaling must be one of"),
])
def test_wrong_parameter_values_are_refused_before_fitting(params, message, rng):
    X, _ = blobs(rng)
    with pytest.raises(ValueError, match=message):
        Drama(**params).fit(X)
