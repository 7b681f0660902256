"""Explanations: exact per-feature decompositions of DRAMA's distances, and the replacement fallback."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import distance

import drama2
from drama2.explanations import EXACT_METRICS, explain_by_replacement, plot_explanation, top_features
from drama2.scorers.baselines import IForest

PLANTED_ROW, PLANTED_FEATURE = 7, 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    X[:200, :3] += 4.0  # two groups, so the split finds two prototypes
    X[PLANTED_ROW] = X[PLANTED_ROW + 1]  # an ordinary row of the same group ...
    X[PLANTED_ROW, PLANTED_FEATURE] += 12.0  # ... made anomalous in one feature
    return X


def _fit(X, metric):
    return drama2.Drama(reducer="pca", metric=metric, random_state=0).fit(X)


def _reference_distance(model, u, j):
    """The metric between a scaled sample and prototype j, from scipy (squared Mahalanobis from the leaf mean)."""
    v = model._prototypes_scaled[j]
    stats = model.leaf_stats_
    w = stats.inverse_sigmas()[j]
    metric = model.metric
    if metric == "l1":
        return distance.cityblock(u, v)
    if metric == "l2":
        return distance.euclidean(u, v)
    if metric == "l4":
        return distance.minkowski(u, v, 4)
    if metric == "wl2":
        return distance.euclidean(u, v, w**2)
    if metric == "wl4":
        return distance.minkowski(u, v, 4, w**4)
    if metric == "canberra":
        return distance.canberra(u, v)
    if metric == "braycurtis":
        return distance.braycurtis(u, v)
    if metric == "chebyshev":
        return distance.chebyshev(u, v)
    if metric == "correlation":
        return distance.correlation(u, v)
    if metric == "mahalanobis":
        return distance.mahalanobis(u, stats.means[j], np.linalg.pinv(stats.covariances[j])) ** 2
    raise AssertionError(metric)


@pytest.mark.parametrize("metric", EXACT_METRICS + ("chebyshev",))
def test_contributions_add_up_to_the_distance(data, metric):
    model = _fit(data, metric)
    rows = data[::20]
    ex = drama2.explain(model, rows)
    scores = model.score_samples(rows)
    np.testing.assert_array_equal(ex.scores, scores)
    np.testing.assert_array_equal(ex.nearest, model.nearest_leaf(rows))
    total = ex.contributions.max(axis=1) if metric == "chebyshev" else ex.contributions.sum(axis=1)
    assert ex.additivity == ("max" if metric == "chebyshev" else "sum")
    np.testing.assert_allclose(total, scores, rtol=1e-12, atol=1e-12)
    Xd = model.scaler_.to_distance_space(rows)
    reference = [_reference_distance(model, u, j) for u, j in zip(Xd, ex.nearest)]
    np.testing.assert_allclose(total, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("metric", ["l1", "l2", "wl2", "l4", "canberra", "braycurtis", "chebyshev", "mahalanobis"])
def test_a_planted_anomaly_is_explained_by_its_feature(data, metric):
    model = _fit(data, metric)
    ex = drama2.explain(model, data)
    if metric in ("l1", "l2"):
        assert np.argmax(ex.scores) == PLANTED_ROW
    index, _ = ex.top_features(1)
    assert index[PLANTED_ROW, 0] == PLANTED_FEATURE


def test_mahalanobis_terms_can_be_negative_and_still_add_up():
    rng = np.random.default_rng(1)
    a = rng.normal(size=600)
    X = np.column_stack([a, a + 0.3 * rng.normal(size=600), rng.normal(size=600)])
    model = drama2.Drama(reducer="pca", metric="mahalanobis", scaling="none", random_state=0).fit(X)
    ex = drama2.explain(model, np.array([[2.0, 1.0, 0.0], [2.0, -2.0, 0.0]]))
    assert (ex.contributions < 0).any()
    np.testing.assert_allclose(ex.contributions.sum(axis=1), ex.scores, rtol=1e-10)
    assert ex.method == "drama:mahalanobis"


def test_plugin_metrics_fall_back_on_replacement_by_the_prototype(data):
    from drama2.metrics import l1

    def my_l1(X, P, stats=None):
        return l1(X, P, stats)

    model = drama2.Drama(reducer="pca", metric=my_l1, random_state=0).fit(data)
    ex = drama2.explain(model, data[:20])
    assert ex.method == "drama:my_l1:replacement" and ex.additivity == "none"
    assert ex.top_features(1)[0][PLANTED_ROW, 0] == PLANTED_FEATURE
    # For l1, replacing a feature by the prototype's value removes exactly its |u - v| term.
    exact = drama2.explain(drama2.Drama(reducer="pca", metric="l1", random_state=0).fit(data), data[:20])
    np.testing.assert_allclose(ex.contributions, exact.contributions, atol=1e-12)


def test_fallback_explains_iforest_with_reference_medians(data):
    from sklearn.ensemble import IsolationForest

    model = IForest(random_state=0).fit(data)
    with pytest.raises(drama2.InvalidInputError, match="reference"):  # a model that keeps no medians of its own
        drama2.explain(IsolationForest(random_state=0).fit(data), data[:5])
    ex = drama2.explain(model, data[:20], reference=data)
    assert ex.method == "replacement" and ex.additivity == "none"
    assert ex.top_features(1)[0][PLANTED_ROW, 0] == PLANTED_FEATURE
    np.testing.assert_array_equal(ex.scores, model.score_samples(data[:20]))
    np.testing.assert_array_equal(ex.baseline[0], np.median(data, axis=0))
    same = drama2.explain(model, data[:20], reference=np.median(data, axis=0))
    np.testing.assert_array_equal(same.contributions, ex.contributions)
    with pytest.raises(drama2.InvalidInputError, match="non-finite values for feature"):
        drama2.explain(model, data[:5], reference=np.full(data.shape[1], np.nan))
    with pytest.raises(drama2.NotFittedError):  # an unfitted detector is named as such, not as lacking references
        drama2.explain(IForest(), data[:5])


def test_fallback_costs_d_plus_one_scorings_per_row(data):
    class Counting(IForest):
        rows_scored = 0

        def score_samples(self, X):
            Counting.rows_scored += len(X)
            return super().score_samples(X)

    model = Counting(random_state=0).fit(data)
    Counting.rows_scored = 0
    explain_by_replacement(model, data[:50], reference=data)
    assert Counting.rows_scored == 50 * (data.shape[1] + 1)


def test_feature_names_frames_and_top_features(data):
    frame = pd.DataFrame(data, columns=[f"band_{i}" for i in range(data.shape[1])])
    model = _fit(data, "l1")
    ex = drama2.explain(model, frame.iloc[:20], top=2)
    assert ex.feature_names == list(frame.columns)
    assert ex.top_feature_names()[PLANTED_ROW][0] == f"band_{PLANTED_FEATURE}" and len(ex.top_feature_names()[0]) == 2
    assert ex.to_frame(top=4).shape[1] == 2 + 2 * 4
    table = ex.to_frame()
    assert list(table.columns) == ["score", "prototype", "top_feature_1", "top_contribution_1", "top_feature_2",
                                   "top_contribution_2"]
    assert table.loc[PLANTED_ROW, "top_feature_1"] == f"band_{PLANTED_FEATURE}"
    assert (table["top_contribution_1"] >= table["top_contribution_2"]).all()
    assert list(ex.contributions_frame().columns) == list(frame.columns)
    index, value = top_features(np.array([[1.0, 3.0, 3.0, 0.0]]), 3)
    assert index.tolist() == [[1, 2, 0]] and value.tolist() == [[3.0, 3.0, 1.0]]


def test_wrong_feature_count_is_an_error(data):
    model = _fit(data, "l2")
    with pytest.raises(drama2.InvalidInputError, match="features"):
        drama2.explain(model, data[:, :4])
    with pytest.warns(UserWarning, match="reference is ignored for a DRAMA model"):
        drama2.explain(model, data[:3], reference=data)


@pytest.mark.parametrize("detector", ["drama", "iforest"])
def test_a_frame_with_reordered_or_other_columns_is_refused_as_score_samples_refuses_it(data, detector):
    columns = [f"band_{i}" for i in range(data.shape[1])]
    frame = pd.DataFrame(data, columns=columns)
    model = (drama2.Drama(metric="l1", random_state=0) if detector == "drama" else IForest(random_state=0)).fit(frame)
    reference = None if detector == "drama" else data
    with pytest.raises(drama2.InvalidInputError, match="the same columns in another order"):
        drama2.explain(model, frame[columns[::-1]].iloc[:5], reference=reference)
    renamed = frame.set_axis([f"x{i}" for i in range(data.shape[1])], axis=1)
    with pytest.raises(drama2.InvalidInputError, match="missing \\['band_0', .*more\\]"):
        drama2.explain(model, renamed.iloc[:5], reference=reference)
    assert drama2.explain(model, frame.iloc[:5], reference=reference).feature_names == columns


def test_figure_shows_the_top_anomalies(data, tmp_path):
    ex = drama2.explain(_fit(data, "l2"), data)
    path = plot_explanation(ex, tmp_path / "top.png", n=4)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["top.png"]


def test_a_saved_detector_fitted_in_python_explains_without_its_training_data(data, tmp_path):
    model = IForest(random_state=0).fit(data)
    np.testing.assert_array_equal(model.reference_medians_, np.median(data, axis=0))
    drama2.save(model, tmp_path / "forest.drama2")
    loaded = drama2.load(tmp_path / "forest.drama2")
    by_medians = drama2.explain(loaded, data[:5])
    np.testing.assert_allclose(by_medians.contributions, drama2.explain(model, data[:5], reference=data).contributions)
