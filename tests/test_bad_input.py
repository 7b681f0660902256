"""Bad input gets a clear drama2 error (a ValueError/KeyError subclass) that says what to do."""

import warnings

import numpy as np
import pytest

from drama2 import Drama, Drama2Error, InvalidInputError, NotFittedError, UnknownComponentError


@pytest.fixture
def X(rng):
    return rng.normal(size=(60, 4))


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_nan_and_inf_are_rejected_never_scored_as_normal(X, bad, match):
    X = X.copy()
    X[7, 2] = bad
    with pytest.raises(InvalidInputError, match=match) as err:
        Drama().fit(X)
    assert "[7]" in str(err.value) and "impute" in str(err.value)
    model = Drama(random_state=0).fit(np.nan_to_num(X, posinf=0.0))
    with pytest.raises(InvalidInputError, match=match):
        model.score_samples(X)


def test_empty_and_one_dimensional_input(X):
    with pytest.raises(InvalidInputError, match="empty"):
        Drama().fit(np.empty((0, 3)))
    with pytest.raises(InvalidInputError, match=r"reshape\(-1, 1\)"):
        Drama().fit(X[:, 0])
    with pytest.raises(InvalidInputError, match="3 dimensions"):
        Drama().fit(X.reshape(3, 20, 4))
    with pytest.raises(InvalidInputError, match="numeric"):
        Drama().fit([["a", "b"], ["c", "d"]])


def test_too_few_rows_for_the_split(X):
    with pytest.raises(InvalidInputError, match="needs 4"):
        Drama(min_leaf_size=2).fit(X[:3])
    with pytest.raises(InvalidInputError, match="split_levels"):
        Drama(split_levels=0).fit(X)


def test_constant_columns(X):
    with pytest.raises(InvalidInputError, match="every feature of X is constant"):
        Drama().fit(np.ones((20, 3)))
    X = X.copy()
    X[:, 1] = 5.0
    with pytest.warns(UserWarning, match="constant feature"):
        model = Drama(random_state=0).fit(X)
    assert np.isfinite(model.decision_scores_).all()


def test_negative_values_for_nmf(X):
    with pytest.raises(InvalidInputError, match="non-negative"):
        Drama(reducer="nmf", scaling="standard").fit(X)


def test_wrong_feature_count_at_scoring_time(X):
    model = Drama(random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="X has 3 features, but the model was fitted on 4"):
        model.score_samples(X[:, :3])


def test_latent_size_larger_than_the_data(X):
    with pytest.raises(InvalidInputError, match="n_components=9 is larger than the number of features"):
        Drama(n_components=9).fit(X)


@pytest.mark.parametrize("param, value, match", [
    ("reducer", "pac", "Did you mean 'pca'"),
    ("metric", "euclid", "unknown metric"),
    ("clusterer", "kmean", "Did you mean 'kmeans'"),
])
def test_unknown_component_names(X, param, value, match):
    with pytest.raises(UnknownComponentError, match=match) as err:
        Drama(**{param: value}).fit(X)
    assert isinstance(err.value, KeyError) and isinstance(err.value, Drama2Error)


def test_bad_parameter_values(X):
    with pytest.raises(InvalidInputError, match="contamination"):
        Drama(contamination=0.9).fit(X)
    with pytest.raises(InvalidInputError, match="scaling"):
        Drama(scaling="zscore").fit(X)
    with pytest.raises(InvalidInputError, match="prototype"):
        Drama(prototype="median").fit(X)
    with pytest.raises(InvalidInputError, match="device"):
        Drama(device="tpu").fit(X)


def test_component_parameters_are_checked_before_any_fit(X):
    with pytest.raises(InvalidInputError, match="no parameter 'max_epoch' \\(did you mean 'max_epochs'\\?\\)"):
        Drama(reducer="ae", reducer_params={"max_epoch": 3}).fit(X)
    with pytest.raises(InvalidInputError, match=r"Drama\(n_components=\.\.\.\)"):
        Drama(reducer="pca", reducer_params={"n_components": 3}).fit(X)
    with pytest.raises(InvalidInputError, match="every split makes two groups"):
        Drama(clusterer_params={"n_clusters": 3}).fit(X)
    with pytest.raises(InvalidInputError, match="must be a dict"):
        Drama(reducer_params=[("svd_solver", "full")]).fit(X)
    Drama(reducer="pca", reducer_params={"svd_solver": "full"}, random_state=0).fit(X)  # a real one passes


def test_using_an_unfitted_model(X):
    with pytest.raises(NotFittedError, match="call fit"):
        Drama().score_samples(X)


def test_a_metric_that_gives_nan_is_an_error_not_a_normal_score(X):
    def nan_metric(A, P, stats):
        out = (A[:, None, :] - P[None]).abs().sum(-1)
        out[0] = float("nan")
        return out

    model = Drama(random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="non-finite"):
        model.score_samples(X, metric=nan_metric)


def test_failed_fit_keeps_the_previous_fit(X, rng):
    model = Drama(random_state=0).fit(X)
    before = model.decision_scores_.copy()
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInputError):
        model.fit(bad)
    np.testing.assert_array_equal(model.decision_scores_, before)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.score_samples(X)


def test_dataframe_columns_are_remembered_and_checked():
    import pandas as pd

    from drama2 import Drama
    from drama2.scorers.baselines import IForest

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["u", "g", "r"])
    for model in (Drama(random_state=0), IForest(random_state=0)):
        model.fit(frame)
        assert list(model.feature_names_in_) == ["u", "g", "r"]
        model.score_samples(frame)  # same columns: fine
        model.score_samples(frame.to_numpy())  # no names: taken in the training order
        with pytest.raises(InvalidInputError, match="another order"):
            model.score_samples(frame[["r", "g", "u"]])
        with pytest.raises(InvalidInputError, match="missing"):
            model.score_samples(frame.rename(columns={"u": "i"}))
        model.fit(frame.to_numpy())  # refitted without names: the old names are forgotten
        assert not hasattr(model, "feature_names_in_")


def test_unknown_detector_parameters_are_named():
    from drama2.detect import make_detector
    from drama2.ensemble import Ensemble

    with pytest.raises(InvalidInputError, match=r"'k'.*n_neighbors"):
        make_detector("knn[k=10]")
    with pytest.raises(InvalidInputError, match=r"'n_cluster' \(did you mean 'clusterer'\?\)|n_cluster"):
        make_detector("drama[n_cluster=3]")
    with pytest.raises(InvalidInputError, match=r"'k'.*n_neighbors"):
        Ensemble(members=["knn[k=10]"]).fit(np.random.default_rng(0).normal(size=(50, 3)))


@pytest.mark.parametrize("fields, match", [
    (dict(X=np.zeros((10, 2)), y=np.zeros(5)), "y has shape \\(5,\\) but X has 10 rows"),
    (dict(X=np.zeros((10, 2)), y=np.r_[np.zeros(5), np.full(5, 2)]), "y must be 1 \\(anomaly\\) or 0 \\(normal\\)"),
    (dict(X=np.zeros(10), y=None), "X must be 2-D"),
    (dict(X=[["a", "b"]], y=None), "X must be numeric"),
])
def test_a_dataset_record_is_checked_where_it_is_made(fields, match):
    from drama2.datasets import Dataset

    with pytest.raises(InvalidInputError, match=f"Dataset 'mine': {match}"):
        Dataset(name="mine", **fields)


def test_a_dataset_record_takes_column_labels_and_float32_rows():
    from drama2.datasets import Dataset

    data = Dataset(name="mine", X=np.zeros((4, 2), dtype=np.float32), y=np.array([[True], [False], [False], [True]]))
    assert data.X.dtype == np.float64 and data.y.tolist() == [1, 0, 0, 1] and data.n_outliers == 2
