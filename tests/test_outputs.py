"""fit_predict and predict_proba: PyOD's numbers from the same scores, on Drama and every scorer."""

import numpy as np
import pytest
import torch

import drama2
from drama2.errors import InvalidInputError, NotFittedError
from drama2.scorers.baselines import KNN, LOF


@pytest.fixture
def data(rng):
    X = np.r_[rng.normal(0, 1, (150, 4)), rng.uniform(6, 9, (5, 4))]
    return X, np.r_[rng.normal(0, 2, (25, 4)), rng.uniform(20, 30, (2, 4))]


@pytest.mark.parametrize("method", ["linear", "unify"])
@pytest.mark.parametrize("ours_cls, module, name", [(KNN, "knn", "KNN"), (LOF, "lof", "LOF")])
def test_predict_proba_equals_pyods(data, method, ours_cls, module, name):
    pyod_cls = getattr(pytest.importorskip(f"pyod.models.{module}"), name)
    X, X_new = data
    ours = ours_cls(n_neighbors=7).fit(X)
    theirs = pyod_cls(n_neighbors=7).fit(X)
    np.testing.assert_allclose(ours.predict_proba(X_new, method=method),
                               theirs.predict_proba(X_new, method=method), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: drama2.Drama(random_state=0), lambda: KNN(n_neighbors=5),
                                  lambda: drama2.Ensemble(members=["knn", "iforest"], random_state=0)],
                         ids=["Drama", "KNN", "Ensemble"])
def test_predict_proba_rows_are_probabilities_ordered_by_score(data, make):
    X, X_new = data
    model = make().fit(X)
    for method in ("linear", "unify"):
        proba = model.predict_proba(X_new, method=method)
        assert proba.shape == (len(X_new), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert proba.min() >= 0 and proba.max() <= 1
        order = np.argsort(model.score_samples(X_new), kind="stable")
        assert np.all(np.diff(proba[order, 1]) >= 0)  # a higher score never gets a lower probability
        if method == "linear":  # far beyond every training score (unify can stay below 1 for bounded scores)
            assert np.all(proba[-2:, 1] == 1.0)


def test_linear_probability_spans_the_training_scores(data):
    X, _ = data
    model = drama2.Drama(random_state=0).fit(X)
    proba = model.predict_proba(X)[:, 1]
    assert proba.min() == 0.0 and proba.max() == 1.0  # Drama scores training rows as new data
    assert np.argmax(proba) == np.argmax(model.decision_scores_)


def test_torch_rows_give_a_numpy_array(data):
    X, X_new = data
    model = drama2.Drama(random_state=0).fit(X)
    proba = model.predict_proba(torch.as_tensor(X_new))
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, model.predict_proba(X_new))


def test_constant_training_scores_flag_only_higher_scores():
    X = np.zeros((20, 2))
    model = KNN(n_neighbors=3).fit(X)
    proba = model.predict_proba(np.array([[0.0, 0.0], [1.0, 1.0]]), method="unify")
    np.testing.assert_array_equal(proba[:, 1], [0.0, 1.0])


@pytest.mark.parametrize("make", [lambda: drama2.Drama(random_state=0), lambda: KNN(n_neighbors=5)],
                         ids=["Drama", "KNN"])
def test_fit_predict_returns_the_training_flags(data, make):
    X, _ = data
    model = make()
    flags = model.fit_predict(X)
    np.testing.assert_array_equal(flags, model.labels_)
    assert set(np.flatnonzero(flags)) >= set(range(150, 155))  # the planted far rows are flagged


def test_bad_method_and_unfitted_model(data):
    X, X_new = data
    with pytest.raises(NotFittedError):
        KNN().predict_proba(X_new)
    with pytest.raises(InvalidInputError, match="'linear', 'unify'"):
        KNN().fit(X).predict_proba(X_new, method="sigmoid")
