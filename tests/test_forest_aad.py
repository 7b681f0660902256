"""Tree-based AAD (drama2.active.forest_aad): leaf features, the update, and sessions on isolation forests."""

import warnings

import numpy as np
import pytest

from drama2.active import ActiveSession, Oracle
from drama2.active.forest_aad import LeafFeatures, average_path_length, isolation_forest_of, leaf_aad_scores
from drama2.errors import InvalidInputError
from drama2.scorers.baselines import IForest


def _decoys(seed=0):
    """1,500 nominal rows; a far, tight cluster of 60 *nominal* decoys; 30 anomalies in a nearer cluster (last)."""
    rng = np.random.default_rng(seed)
    nominal = rng.normal(0, 1, (1500, 4))
    decoys = rng.normal(0, 0.3, (60, 4)) + np.array([7.0, 7.0, 0.0, 0.0])
    anomalies = rng.normal(0, 0.3, (30, 4)) + np.array([0.0, 0.0, 4.5, -4.5])
    X = np.vstack([nominal, decoys, anomalies])
    y = np.r_[np.zeros(1560, int), np.ones(30, int)]
    return X, y


def test_average_path_length_matches_scikit_learn():
    from sklearn.ensemble._iforest import _average_path_length

    n = np.arange(0, 3000)
    assert average_path_length(n) == pytest.approx(_average_path_length(n), rel=1e-12, abs=1e-12)


def test_uniform_leaf_weights_reproduce_the_forest_scores():
    X, _ = _decoys()
    detector = IForest(random_state=0).fit(X)
    features = LeafFeatures(detector.estimator_, X)
    n_trees = len(detector.estimator_.estimators_)
    n_leaves = int((features.prior > 0).sum())
    assert np.linalg.norm(features.prior) == pytest.approx(1.0)
    # w · φ = -Σ h / √m, so the mean path length and the paper's score follow.
    mean_path = -features.scores(features.prior) * np.sqrt(n_leaves) / n_trees
    scores = 2.0 ** (-mean_path / average_path_length(detector.estimator_._max_samples))
    assert scores == pytest.approx(detector.decision_scores_, rel=1e-12)


def test_feature_rows_agree_with_the_scores():
    X, _ = _decoys()
    features = LeafFeatures(IForest(random_state=1).fit(X).estimator_, X)
    w = np.random.default_rng(0).normal(size=features.prior.size)
    rows = np.array([0, 5, 1559, 1589])
    columns = np.unique(features.leaves[rows])
    assert features.rows(rows, columns) @ w[columns] == pytest.approx(features.scores(w)[rows])


def test_labelled_decoys_pull_their_whole_region_down():
    X, y = _decoys()
    features = LeafFeatures(IForest(random_state=0).fit(X).estimator_, X)
    before = features.scores(features.prior)
    decoys = np.arange(1500, 1560)
    labelled = decoys[:5]
    after, weights = leaf_aad_scores(features, [], labelled)
    rank = lambda s, rows: np.argsort(np.argsort(-s))[rows].mean()  # noqa: E731
    unlabelled = decoys[5:]
    # Five answers move the 55 decoys nobody labelled down the ranking, below the anomalies.
    assert rank(after, unlabelled) > rank(before, unlabelled) + 100
    assert rank(after, unlabelled) > rank(after, np.arange(1560, 1590))
    moved = np.flatnonzero(weights != features.prior)
    assert moved.size and np.isin(moved, np.unique(features.leaves[np.r_[labelled, 0:1590]])).all()


def test_the_update_is_a_pure_function_of_the_labelled_sets():
    X, _ = _decoys()
    features = LeafFeatures(IForest(random_state=0).fit(X).estimator_, X)
    a, _ = leaf_aad_scores(features, [1560, 1561], [1500, 1501, 3])
    b, _ = leaf_aad_scores(features, [1561, 1560], [3, 1501, 1500])
    assert np.array_equal(a, b)
    unlabelled, w = leaf_aad_scores(features, [], [])
    assert np.array_equal(w, features.prior) and np.array_equal(unlabelled, features.scores(features.prior))
    with pytest.raises(InvalidInputError, match="tau"):
        leaf_aad_scores(features, [1560], [], tau=1.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_aad_on_a_forest_finds_more_than_its_frozen_ranking(seed):
    X, y = _decoys(seed)
    detector = IForest(random_state=seed).fit(X)
    frozen = ActiveSession(detector, X, updater="none", random_state=0, fitted_on_X=True)
    aad = ActiveSession(detector, X, updater="aad", random_state=0, fitted_on_X=True)
    assert np.array_equal(np.argsort(-aad.scores, kind="stable"), np.argsort(-frozen.scores, kind="stable"))
    found_frozen = frozen.run(Oracle.from_labels(y), 30).curve[-1]
    found_aad = aad.run(Oracle.from_labels(y), 30).curve[-1]
    assert found_aad >= found_frozen + 5


def test_every_isolation_forest_flavour_gets_leaf_aad():
    from pyod.models.iforest import IForest as PyODIForest
    from sklearn.ensemble import IsolationForest

    X, y = _decoys()
    for detector in (IForest(random_state=0).fit(X), IsolationForest(random_state=0).fit(X),
                     PyODIForest(random_state=0).fit(X)):
        assert isolation_forest_of(detector) is not None
        session = ActiveSession(detector, X, updater="aad", random_state=0)
        assert session.weights.size == LeafFeatures(isolation_forest_of(detector), X).prior.size
        session.run(Oracle.from_labels(y), 3)
    from drama2.scorers.baselines import KNN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        knn = KNN().fit(X)
    assert isolation_forest_of(knn) is None
    with pytest.raises(InvalidInputError, match="isolation forest"):
        ActiveSession(knn, X, updater="aad")


def test_forest_session_resumed_from_its_log_equals_continuing(tmp_path):
    X, y = _decoys()
    detector = IForest(random_state=0).fit(X)
    log = tmp_path / "labels.jsonl"
    straight = ActiveSession(detector, X, random_state=3, fitted_on_X=True)
    straight.run(Oracle.from_labels(y), 12)
    first = ActiveSession(detector, X, random_state=3, fitted_on_X=True, store=log)
    first.run(Oracle.from_labels(y), 7)
    first.close()
    resumed = ActiveSession(detector, X, random_state=3, fitted_on_X=True, store=log)
    resumed.run(Oracle.from_labels(y), 12)
    assert np.array_equal(resumed.scores, straight.scores)
    assert resumed.labels == straight.labels
