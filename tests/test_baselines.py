"""Baseline scorers (LOF, IForest, KNN) and the shared detector contract, against sklearn, scipy and PyOD."""

import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from drama2.errors import InvalidInputError, NotFittedError
from drama2.scorers.base import check_contamination, contamination_threshold
from drama2.scorers.baselines import KNN, LOF, IForest

N_OUT = 5


def blob_with_outliers(rng, n=200, d=3):
    """A standard Gaussian blob with N_OUT points appended at the end, 10 away from it in random directions."""
    directions = rng.normal(size=(N_OUT, d))
    X = np.r_[rng.normal(0, 1, (n, d)), 10.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)]
    y = np.r_[np.zeros(n, int), np.ones(N_OUT, int)]
    return X, y


def detectors():
    return [LOF(n_neighbors=10), IForest(random_state=0), KNN(n_neighbors=5), KNN(n_neighbors=5, method="mean")]


def brute_force_knn(X_query, X_train, k, method, exclude_self):
    """k-NN distance by sorting all pairwise distances; a row's own index is excluded, its duplicates are not."""
    D = cdist(X_query, X_train)
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    nearest = np.sort(D, axis=1)[:, :k]
    return {"largest": nearest[:, -1], "mean": nearest.mean(axis=1), "median": np.median(nearest, axis=1)}[method]


# ---------------------------------------------------------------------------- references
def test_lof_matches_sklearn_on_training_and_new_data(rng):
    X, _ = blob_with_outliers(rng)
    X_new = rng.normal(0, 2, (30, 3))
    model = LOF(n_neighbors=15).fit(X)
    reference = LocalOutlierFactor(n_neighbors=15).fit(X)  # outlier-detection mode: training LOF
    np.testing.assert_allclose(model.decision_scores_, -reference.negative_outlier_factor_, rtol=1e-12)
    novelty = LocalOutlierFactor(n_neighbors=15, novelty=True).fit(X)
    np.testing.assert_allclose(model.score_samples(X_new), -novelty.score_samples(X_new), rtol=1e-12)


def test_iforest_matches_sklearn_and_is_deterministic(rng):
    X, _ = blob_with_outliers(rng)
    X_new = rng.normal(0, 2, (30, 3))
    model = IForest(n_estimators=50, random_state=7).fit(X)
    reference = IsolationForest(n_estimators=50, random_state=7).fit(X)
    np.testing.assert_allclose(model.decision_scores_, -reference.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(model.score_samples(X_new), -reference.score_samples(X_new), rtol=1e-12)
    again = IForest(n_estimators=50, random_state=7).fit(X)
    np.testing.assert_array_equal(again.decision_scores_, model.decision_scores_)
    other = IForest(n_estimators=50, random_state=8).fit(X)
    assert not np.array_equal(other.decision_scores_, model.decision_scores_)
    gen_a = IForest(n_estimators=50, random_state=np.random.default_rng(3)).fit(X)
    gen_b = IForest(n_estimators=50, random_state=np.random.default_rng(3)).fit(X)
    np.testing.assert_array_equal(gen_a.decision_scores_, gen_b.decision_scores_)


def test_iforest_leaves_global_rngs_alone(rng):
    X, _ = blob_with_outliers(rng)
    np.random.seed(0)
    torch.manual_seed(0)
    before = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    IForest(n_estimators=10).fit(X).score_samples(X)  # random_state=None
    np.testing.assert_array_equal(np.random.get_state()[1], before[0])
    assert torch.equal(torch.get_rng_state(), before[1])


@pytest.mark.parametrize("method", ["largest", "mean", "median"])
@pytest.mark.parametrize("duplicates", [False, True])
def test_knn_matches_brute_force(rng, method, duplicates):
    X, _ = blob_with_outliers(rng, n=80)
    if duplicates:  # blocks of identical rows: each copy's neighbours include the other copies at distance 0
        X = np.r_[X, np.repeat(X[:3], 4, axis=0), np.repeat(X[-1:], 2, axis=0)]
    X_new = np.r_[rng.normal(0, 2, (20, 3)), X[:2]]
    model = KNN(n_neighbors=4, method=method).fit(X)
    np.testing.assert_allclose(model.decision_scores_, brute_force_knn(X, X, 4, method, True), atol=1e-12)
    np.testing.assert_allclose(model.score_samples(X_new), brute_force_knn(X_new, X, 4, method, False), atol=1e-12)


@pytest.mark.parametrize("method", ["largest", "mean", "median"])
def test_knn_agrees_with_pyod(rng, method):
    PyODKNN = pytest.importorskip("pyod.models.knn").KNN

    X, _ = blob_with_outliers(rng)
    X_new = rng.normal(0, 2, (30, 3))
    ours = KNN(n_neighbors=7, method=method).fit(X)
    theirs = PyODKNN(n_neighbors=7, method=method).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=1e-12)
    np.testing.assert_allclose(ours.score_samples(X_new), theirs.decision_function(X_new), rtol=1e-12)


def test_lof_agrees_with_pyod(rng):
    PyODLOF = pytest.importorskip("pyod.models.lof").LOF

    X, _ = blob_with_outliers(rng)
    X_new = rng.normal(0, 2, (30, 3))
    ours = LOF(n_neighbors=20).fit(X)
    theirs = PyODLOF(n_neighbors=20).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=1e-12)
    np.testing.assert_allclose(ours.score_samples(X_new), theirs.decision_function(X_new), rtol=1e-12)


# ---------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("model", detectors(), ids=repr)
def test_detector_contract(rng, model):
    X, y = blob_with_outliers(rng)
    assert model.fit(X) is model
    assert model.n_features_in_ == 3
    scores = model.decision_scores_
    assert scores.shape == (len(X),) and scores.dtype == np.float64
    # Higher = more anomalous: the planted far points are the top-ranked training rows.
    assert set(np.argsort(scores)[-N_OUT:]) == set(np.flatnonzero(y))
    X_new = np.r_[rng.normal(0, 1, (20, 3)), X[-N_OUT:] + 0.1]
    new = model.score_samples(X_new)
    assert new.shape == (len(X_new),)
    assert new[-N_OUT:].min() > new[:-N_OUT].max()
    np.testing.assert_array_equal(model.decision_function(X_new), new)
    np.testing.assert_array_equal(model.predict(X_new), (new > model.threshold_).astype(np.int64))
    assert model.threshold_ == pytest.approx(np.percentile(scores, 90))
    np.testing.assert_array_equal(model.labels_, (scores > model.threshold_).astype(np.int64))
    assert abs(model.labels_.mean() - 0.1) < 0.01
    assert clone(model).get_params() == model.get_params()


def test_training_rows_rescored_as_new_data(rng):
    X, _ = blob_with_outliers(rng)
    iforest = IForest(random_state=0).fit(X)
    np.testing.assert_array_equal(iforest.score_samples(X), iforest.decision_scores_)
    np.testing.assert_array_equal(iforest.predict(X), iforest.labels_)
    # kNN: a training row scored as new data is its own nearest neighbour at distance 0.
    knn = KNN(n_neighbors=3).fit(X)
    np.testing.assert_allclose(knn.score_samples(X), brute_force_knn(X, X, 2, "largest", True))


@pytest.mark.parametrize("model", detectors(), ids=repr)
def test_auto_contamination_uses_tukeys_fence(rng, model):
    X, y = blob_with_outliers(rng)
    model.set_params(contamination="auto").fit(X)
    q1, q3 = np.percentile(model.decision_scores_, [25, 75])
    assert model.threshold_ == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert model.labels_[y == 1].all()


def test_torch_in_torch_out(rng):
    X, _ = blob_with_outliers(rng)
    model = KNN().fit(X)
    scores = model.score_samples(torch.as_tensor(X[:7]))
    assert isinstance(scores, torch.Tensor) and scores.shape == (7,)
    np.testing.assert_allclose(scores.numpy(), model.score_samples(X[:7]))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", [LOF, KNN])
def test_too_few_rows_for_k_names_k_and_n(rng, cls):
    with pytest.raises(InvalidInputError, match=r"n_neighbors=10 .*X has 10.*n_neighbors <= 9"):
        cls(n_neighbors=10).fit(rng.normal(size=(10, 2)))
    cls(n_neighbors=9).fit(rng.normal(size=(10, 2)))  # the largest k that works


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "5", None])
@pytest.mark.parametrize("cls", [LOF, KNN])
def test_bad_n_neighbors(rng, cls, k):
    with pytest.raises(InvalidInputError, match="n_neighbors must be an integer >= 1"):
        cls(n_neighbors=k).fit(rng.normal(size=(30, 2)))


@pytest.mark.parametrize("params, match", [
    (dict(n_estimators=0), "n_estimators must be an integer >= 1"),
    (dict(max_samples=0), "max_samples must be"),
    (dict(max_samples=1.5), "max_samples must be"),
    (dict(max_samples="all"), "max_samples must be"),
])
def test_bad_iforest_params(rng, params, match):
    with pytest.raises(InvalidInputError, match=match):
        IForest(**params).fit(rng.normal(size=(30, 2)))


def test_iforest_max_samples_above_n_uses_every_row(rng):
    X = rng.normal(size=(50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no sklearn "max_samples will be set to n_samples" warning
        model = IForest(max_samples=1000, random_state=0).fit(X)
    assert model.estimator_.max_samples_ == 50


def test_bad_knn_method(rng):
    with pytest.raises(InvalidInputError, match="method must be one of 'largest', 'mean', 'median'"):
        KNN(method="max").fit(rng.normal(size=(30, 2)))


@pytest.mark.parametrize("model", detectors(), ids=repr)
def test_bad_data_and_unfitted_use(rng, model):
    X, _ = blob_with_outliers(rng)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.score_samples(X)
    with pytest.raises(NotFittedError):
        model.predict(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        model.fit(bad)
    model.fit(X)
    with pytest.raises(InvalidInputError, match="NaN"):
        model.score_samples(bad)
    with pytest.raises(InvalidInputError, match="X has 2 features, but the model was fitted on 3"):
        model.score_samples(X[:, :2])
    with pytest.raises(InvalidInputError, match="X has 2 features"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("value", [0, 0.6, -0.1, True, "bogus", float("nan"), None])
def test_bad_contamination(rng, value):
    with pytest.raises(InvalidInputError, match=r"contamination must be a float in \(0, 0.5\] or 'auto'"):
        KNN(contamination=value).fit(rng.normal(size=(30, 2)))


def test_failed_fit_keeps_previous_fit(rng):
    X, _ = blob_with_outliers(rng)
    model = KNN(n_neighbors=5).fit(X)
    scores = model.decision_scores_.copy()
    with pytest.raises(InvalidInputError):
        model.fit(X[:4])
    np.testing.assert_array_equal(model.decision_scores_, scores)
    np.testing.assert_array_equal(model.score_samples(X[:3]), KNN(n_neighbors=5).fit(X).score_samples(X[:3]))


def test_duplicate_heavy_data_gives_finite_scores(rng):
    # Like ODDS http: a block of identical rows dominates the data.
    X = np.r_[np.tile([1.0, 2.0, 3.0], (1000, 1)), rng.normal(0, 1, (10, 3)) + 5.0]
    X_new = np.r_[X[:5], rng.normal(0, 1, (5, 3)) + 5.0]
    for model in (LOF(n_neighbors=20), KNN(n_neighbors=5), IForest(random_state=0)):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Duplicate values", UserWarning)  # sklearn's LOF warning
            model.fit(X)
        assert np.isfinite(model.decision_scores_).all(), model
        assert np.isfinite(model.score_samples(X_new)).all(), model
        # The duplicated rows are the normal ones.
        assert model.decision_scores_[:1000].max() < model.decision_scores_[1000:].min(), model
    lof = LOF(n_neighbors=20)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate values", UserWarning)
        lof.fit(X)
    np.testing.assert_allclose(lof.decision_scores_[:1000], 1.0)  # identical rows: LOF exactly 1


def test_all_identical_rows(rng):
    X = np.ones((40, 2))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate values", UserWarning)
        lof = LOF(n_neighbors=5).fit(X)
    np.testing.assert_allclose(lof.decision_scores_, 1.0)
    knn = KNN().fit(X)
    np.testing.assert_array_equal(knn.decision_scores_, 0.0)
    assert knn.labels_.sum() == 0  # nothing exceeds the threshold when every score ties


# ---------------------------------------------------------------------------- threshold helpers
def test_contamination_threshold_rules(rng):
    scores = rng.normal(size=1000)
    assert contamination_threshold(scores, 0.05) == pytest.approx(np.percentile(scores, 95))
    q1, q3 = np.percentile(scores, [25, 75])
    assert contamination_threshold(scores, "auto") == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert check_contamination(np.float32(0.25)) == pytest.approx(0.25)
    assert check_contamination(0.5) == 0.5
    with pytest.raises(InvalidInputError, match="contamination"):
        contamination_threshold(scores, 0.9)


@pytest.mark.parametrize("name", ["knn", "lof"])
def test_one_training_row_is_refused_with_advice_that_works(name):
    from drama2.registry import get_registry

    cls = get_registry().load("scorers", name)
    with pytest.raises(InvalidInputError, match="X has 1 row; neighbours need at least 2 training rows"):
        cls(n_neighbors=1).fit(np.ones((1, 3)))
    cls(n_neighbors=1).fit(np.random.default_rng(0).normal(size=(2, 3)))  # the smallest table that works
