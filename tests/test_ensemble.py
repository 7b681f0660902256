"""drama2.Ensemble and label-efficient selection: normalisation, combination, caching, selection, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import percentileofscore
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

from drama2 import InvalidInputError
from drama2.ensemble import Ensemble, _weighted_median
from drama2.selection import anomaly_ranks, labelled_auc, probability_best, select_weights, selection_weights

CHEAP = ["iforest", "knn[n_neighbors=10]", "drama[reducer=pca, metric=[l2, mahalanobis]]", "pyod:HBOS"]


@pytest.fixture(autouse=True)
def _quiet(torch_one_thread):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def planted(n=400, d=6, n_out=12, seed=0):
    """Gaussian inliers plus a tight cluster of anomalies far along one direction."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:n_out] = rng.normal(loc=5.0, scale=0.3, size=(n_out, d))
    y = np.zeros(n, dtype=int)
    y[:n_out] = 1
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ensemble(members=CHEAP, random_state=0).fit(X)
    return model, X, y


def test_default_members_find_planted_anomalies():
    X, y = planted(seed=1)
    model = Ensemble(random_state=0).fit(X)
    assert len(model.member_labels_) == 6
    assert roc_auc_score(y, model.decision_scores_) > 0.99
    X_new, y_new = planted(seed=2)
    assert roc_auc_score(y_new, model.score_samples(X_new)) > 0.99


def test_rank_normalisation_is_the_training_percentile(fitted):
    model, X, _ = fitted
    X_new, _ = planted(seed=3)
    normalised = model.member_scores(X_new)
    raw_train = model._sorted_train  # the training scores each member is ranked against
    for j in range(normalised.shape[1]):
        expected = [percentileofscore(raw_train[:, j], v, kind="mean") / 100 for v in
                    _raw_member_scores(model, X_new)[:, j][:20]]
        np.testing.assert_allclose(normalised[:20, j], expected)


def _raw_member_scores(model, X):
    from drama2.ensemble import _member_scores

    Xs = model.scaler_.to_distance_space(X)
    return np.column_stack([_member_scores(u.estimator, Xs if u.scaled_input else X, m)
                            for u in model._units for m in u.metrics])


def test_zscore_normalisation():
    X, _ = planted()
    model = Ensemble(members=["iforest", "knn"], normalisation="zscore", random_state=0).fit(X)
    raw = np.column_stack([e.decision_scores_ for e in model.estimators_])  # training scores (kNN excludes self)
    median = np.median(raw, axis=0)
    mad = 1.4826 * np.median(np.abs(raw - median), axis=0)
    np.testing.assert_allclose(model.member_scores(), (raw - median) / mad)
    with pytest.raises(ValueError, match="read-only"):  # the cache every reweight and select starts from
        model.member_scores()[0, 0] = 1.0


def test_combinations_follow_their_definition(fitted):
    model, X, _ = fitted
    S = model.member_scores()
    np.testing.assert_allclose(model.decision_scores_, np.median(S, axis=1))  # equal weights: plain median
    np.testing.assert_allclose(model.combine(S, np.ones(S.shape[1])), np.median(S, axis=1))
    mean_model = Ensemble(members=CHEAP, combination="mean", random_state=0).fit(X)
    np.testing.assert_allclose(mean_model.decision_scores_, mean_model.member_scores().mean(axis=1))
    max_model = Ensemble(members=CHEAP, combination="max", random_state=0).fit(X)
    np.testing.assert_allclose(max_model.decision_scores_, max_model.member_scores().max(axis=1))


def test_weighted_median_matches_repetition():
    rng = np.random.default_rng(0)
    S = rng.random((30, 4))
    w = np.array([1, 2, 3, 1])
    repeated = np.repeat(S, w, axis=1)
    np.testing.assert_allclose(_weighted_median(S, w / w.sum()), np.median(repeated, axis=1))


def test_drama_metrics_share_one_fit_and_specs_expand(fitted):
    model, _, _ = fitted
    assert model.member_labels_ == ["iforest", "knn[n_neighbors=10]", "drama[metric=l2, reducer=pca]",
                                    "drama[metric=mahalanobis, reducer=pca]", "pyod:HBOS"]
    assert len(model.estimators_) == 4  # the two DRAMA metrics share one Drama fit


def test_member_seed_does_not_depend_on_the_other_members():
    X, _ = planted()
    alone = Ensemble(members=["iforest"], random_state=3).fit(X)
    together = Ensemble(members=["knn", "iforest"], random_state=3).fit(X)
    np.testing.assert_array_equal(alone.member_scores()[:, 0], together.member_scores()[:, 1])


def test_estimator_objects_and_sklearn_sign():
    X, y = planted()
    from pyod.models.ecod import ECOD

    model = Ensemble(members=[("skl-if", IsolationForest(random_state=0)), ECOD(), "knn"], random_state=0).fit(X)
    assert model.member_labels_ == ["skl-if", "ECOD", "knn"]
    # scikit-learn's score_samples is higher = more normal (negated); PyOD's decision_function is not.
    assert roc_auc_score(y, model.member_scores()[:, 0]) > 0.95
    assert roc_auc_score(y, model.member_scores()[:, 1]) > 0.95
    X_new, y_new = planted(seed=9)
    assert roc_auc_score(y_new, model.member_scores(X_new)[:, 0]) > 0.95



class _DistanceToCentre:
    """A plugin-style scorer outside drama2's class tree: score_samples is higher = more anomalous."""

    def fit(self, X, y=None):
        self.centre_ = np.median(X, axis=0)
        return self

    def score_samples(self, X):
        return np.linalg.norm(np.asarray(X) - self.centre_, axis=1)


class _SubclassedForest(IsolationForest):
    """Still scikit-learn's score_samples (higher = more normal), though defined outside sklearn."""


def test_plugin_scorers_keep_their_sign_and_sklearn_subclasses_are_negated():
    X, y = planted()
    X_new, y_new = planted(seed=9)
    model = Ensemble(members=[("centre", _DistanceToCentre()), ("forest", _SubclassedForest(random_state=0))],
                     random_state=0).fit(X)
    for j in range(2):
        assert roc_auc_score(y, model.member_scores()[:, j]) > 0.95
        assert roc_auc_score(y_new, model.member_scores(X_new)[:, j]) > 0.95
    assert roc_auc_score(y_new, model.score_samples(X_new)) > 0.95

def test_reweight_never_refits_and_scores_follow(fitted, monkeypatch):
    model, X, y = fitted
    model = _copy(model)
    for estimator in model.estimators_:
        monkeypatch.setattr(estimator, "fit", _refuse)
    before = model.score_samples(X)
    model.reweight([0, 0, 0, 0, 1])
    np.testing.assert_allclose(model.decision_scores_, model.member_scores()[:, 4])
    assert not np.allclose(before, model.score_samples(X))
    np.testing.assert_allclose(model.weights_.sum(), 1.0)


def _refuse(*args, **kwargs):
    raise AssertionError("a member was refitted")


def _copy(model):
    import copy

    return copy.deepcopy(model)


@pytest.mark.parametrize("weights", [[1, 2], [-1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [np.nan, 1, 1, 1, 1]])
def test_bad_weights_are_refused(fitted, weights):
    model, _, _ = fitted
    with pytest.raises(InvalidInputError, match="weights"):
        _copy(model).reweight(weights)


def test_new_data_scores_are_cached(fitted, monkeypatch):
    model, X, _ = fitted
    model = _copy(model)
    X_new, _ = planted(seed=5)
    first = model.score_samples(X_new)
    for estimator in model.estimators_:
        monkeypatch.setattr(estimator, "score_samples", _refuse)
    np.testing.assert_array_equal(model.score_samples(X_new), first)
    np.testing.assert_array_equal(model.member_scores(), model.train_member_scores_)


def test_training_rows_are_scored_as_new_data_whatever_rows_come_with_them(fitted):
    # A row's score must not depend on whether the array holds exactly the training matrix (drama2 detect
    # scores a file in chunks); the leave-self-out training scores stay in decision_scores_.
    model, X, _ = fitted
    whole = model.score_samples(X)
    np.testing.assert_allclose(whole, np.r_[model.score_samples(X[:150]), model.score_samples(X[150:])])
    np.testing.assert_allclose(model.member_scores(X), np.r_[model.member_scores(X[:150]),
                                                             model.member_scores(X[150:])])
    assert not np.allclose(whole, model.decision_scores_)  # kNN / LOF members: each row is its own neighbour


def test_failed_member_is_dropped_or_raised():
    X, _ = planted()
    bad = "knn[n_neighbors=1000]"  # more neighbours than rows
    with pytest.warns(UserWarning, match="left out"):
        model = Ensemble(members=["iforest", bad], random_state=0).fit(X)
    assert model.member_labels_ == ["iforest"] and bad in model.failed_members_
    with pytest.raises(Exception, match="n_neighbors"):
        Ensemble(members=["iforest", bad], on_error="raise").fit(X)
    with pytest.raises(InvalidInputError, match="every ensemble member failed"):
        Ensemble(members=[bad]).fit(X)


@pytest.mark.parametrize("members, match", [
    ([], "non-empty"), (["iforest", "iforest"], "distinct"), ([42], "ensemble member"),
    ([("x", "knn[n_neighbors=[5, 10]]")], "expands"), (["no-such-scorer"], "no-such-scorer"),
    ("wdie", "did you mean 'wide'"), ([LocalOutlierFactor()], "novelty=True"),
])
def test_bad_members(members, match):
    X, _ = planted()
    with pytest.raises(Exception, match=match):
        Ensemble(members=members).fit(X)


def test_bad_settings():
    X, _ = planted()
    for params, match in ((dict(normalisation="minmax"), "normalisation"), (dict(combination="sum"), "combination"),
                          (dict(on_error="ignore"), "on_error"), (dict(scaling="global"), "global")):
        with pytest.raises(InvalidInputError, match=match):
            Ensemble(members=["iforest"], **params).fit(X)


# ---------------------------------------------------------------- label-efficient selection
def test_labelled_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    S = rng.random((200, 3))
    anomalies, nominals = np.arange(5), np.arange(5, 60)
    y = np.r_[np.ones(5), np.zeros(55)]
    expected = [roc_auc_score(y, S[:60, j]) for j in range(3)]
    np.testing.assert_allclose(labelled_auc(S, anomalies, nominals), expected)
    # without nominals every other row is the reference
    y_all = np.zeros(200)
    y_all[anomalies] = 1
    np.testing.assert_allclose(labelled_auc(S, anomalies), [roc_auc_score(y_all, S[:, j]) for j in range(3)])


def test_selection_shrinks_towards_the_prior():
    rng = np.random.default_rng(0)
    S = rng.random((300, 3))
    S[:20, 1] += 1.0  # member 1 ranks the anomalies highest
    prior = np.array([1.0, 0.0, 0.0])
    one = selection_weights(S, [0], prior=prior, prior_strength=5)
    many = selection_weights(S, np.arange(20), prior=prior, prior_strength=5)
    assert one[0] > 0.8  # one label barely moves the prior
    assert many[1] > 0.7  # twenty labels mostly replace it
    assert selection_weights(S, np.arange(20), prior=prior, prior_strength=0)[1] > 0.99


def test_probability_best_follows_the_evidence():
    rng = np.random.default_rng(1)
    S = rng.random((400, 3))
    S[:30, 0] += 0.30  # member 0 clearly ranks the anomalies highest
    S[:30, 1] += 0.25  # member 1 nearly as well
    ranks = anomaly_ranks(S, np.arange(30))
    np.testing.assert_allclose(ranks.mean(axis=0), labelled_auc(S, np.arange(30)))
    many = probability_best(ranks)
    few = np.mean([probability_best(ranks[i:i + 3]) for i in range(0, 30, 3)], axis=0)  # ten disjoint triples
    for p in (few, many):
        assert p.sum() == pytest.approx(1.0) and (p >= 0).all()
    # more labels, more certainty: the best member's share grows and the worst one's shrinks
    assert many[0] > few[0] and many[2] < few[2]
    assert many[0] > many[1] > many[2]
    # the estimate is a bootstrap: check it against resampling by hand
    draws = np.random.default_rng(0).integers(0, 30, size=(200, 30))
    wins = np.zeros(3)
    for draw in draws:
        auc = ranks[draw].mean(axis=0)
        best = [j for j in range(3) if auc[j] >= auc.max() - 1e-12]  # a tie shares the win
        wins[best] += 1 / len(best) / 200
    np.testing.assert_allclose(many, wins)
    # one label: every resample is that label, so its best member takes everything; ties share
    one = probability_best(np.array([[0.9, 0.95, 0.95]]))
    np.testing.assert_allclose(one, [0.0, 0.5, 0.5])


def test_selection_temperature_keeps_the_softmax_rule():
    rng = np.random.default_rng(0)
    S = rng.random((300, 3))
    S[:10, 1] += 0.5
    auc = labelled_auc(S, np.arange(10))
    soft = np.exp((auc - auc.max()) / 0.05)
    expected = (np.full(3, 1 / 3) + 10 * soft / soft.sum()) / 11
    np.testing.assert_allclose(selection_weights(S, np.arange(10), temperature=0.05), expected)
    with pytest.raises(InvalidInputError, match="temperature"):
        selection_weights(S, np.arange(10), temperature=0.0)


def test_select_raises_labelled_anomalies_and_generalises():
    X, y = planted(n=600, n_out=20, seed=4)
    # A member that misses the planted cluster and one that finds it; selection must prefer the latter.
    model = Ensemble(members=["knn[n_neighbors=50]", "drama[reducer=none, metric=correlation]"],
                     combination="mean", random_state=0).fit(X)
    before = roc_auc_score(y, model.decision_scores_)
    model.select(X, np.arange(5))
    assert model.combination_ == "mean"
    assert model.proximity_weight_ > 0  # the labelled anomalies resemble each other
    unlabelled = np.arange(5, 600)
    assert roc_auc_score(y[unlabelled], model.decision_scores_[unlabelled]) >= before - 1e-9
    X_new, y_new = planted(n=600, n_out=20, seed=5)
    assert roc_auc_score(y_new, model.score_samples(X_new)) > 0.99


def test_select_equals_select_weights(fitted):
    model, X, y = fitted
    model = _copy(model)
    picked = np.flatnonzero(y)[:4]
    model.select(X, picked)
    expected = select_weights(model.train_member_scores_, picked, prior=np.full(5, 0.2),
                              Xd=model.scaler_.to_distance_space(X))
    np.testing.assert_allclose(model.weights_, expected.weights)
    X_new, _ = planted(seed=7)
    np.testing.assert_allclose(model.score_samples(X_new),
                               expected.scores(model.member_scores(X_new), model.scaler_.to_distance_space(X_new)))


def test_select_errors(fitted):
    model, X, y = fitted
    model = _copy(model)
    with pytest.raises(InvalidInputError, match="training data"):
        model.select(X[:100], [0, 1])
    with pytest.raises(InvalidInputError, match="row indices"):
        model.select(X, [10_000])
    with pytest.raises(InvalidInputError, match="at least one"):
        model.select(X, [])
    with pytest.raises(InvalidInputError, match="both"):
        model.select(X, [1, 2], nominals=[2, 3])
    with pytest.raises(InvalidInputError, match="integer row indices"):
        model.select(X, [1.0, 2.7])  # a fraction is not a row
    with pytest.raises(InvalidInputError, match="integer row indices"):
        model.select(X, ["5"])
    with pytest.raises(InvalidInputError, match="one entry per row"):
        model.select(X, np.ones(10, dtype=bool))
    for labels in (y.astype(int), y.astype(float)):  # the 0/1 label vector itself would name rows 0 and 1 only
        with pytest.raises(InvalidInputError, match="label vector.*y == 1"):
            model.select(X, labels)


def test_select_takes_a_boolean_mask_or_a_scalar_like_the_indices_it_marks(fitted):
    model, X, y = fitted
    by_mask = model.selected(X, anomalies=y == 1)  # what sklearn users pass
    by_index = model.selected(X, anomalies=np.flatnonzero(y))
    np.testing.assert_array_equal(by_mask.weights_, by_index.weights_)
    np.testing.assert_array_equal(by_mask.decision_scores_, by_index.decision_scores_)
    np.testing.assert_array_equal(model.selected(X, anomalies=3).weights_, model.selected(X, anomalies=[3]).weights_)
    as_objects = np.array(list(np.flatnonzero(y)), dtype=object)  # e.g. pandas .values of a mixed frame
    np.testing.assert_array_equal(model.selected(X, anomalies=as_objects).weights_, by_index.weights_)
    with pytest.raises(InvalidInputError, match="normalisation"):
        select_weights(model.train_member_scores_, [1, 2], normalisation="zscor")


@pytest.mark.parametrize("normalisation", ["rank", "zscore"])
def test_select_puts_proximity_on_the_members_scale_and_scores_fit_rows_row_by_row(normalisation):
    X, y = planted(n=600, n_out=20, seed=4)
    model = Ensemble(members=["knn[n_neighbors=50]", "drama[reducer=none, metric=correlation]"],
                     normalisation=normalisation, random_state=0).fit(X)
    model.select(X, np.arange(5))
    assert model.proximity_weight_ > 0
    # Over the unlabelled rows the proximity member has the members' scale: uniform ranks, or median 0 and MAD 1/1.4826.
    closeness = np.delete(model._train_proximity, np.arange(5))
    if normalisation == "rank":
        assert 0 <= closeness.min() and closeness.max() <= 1 and abs(np.median(closeness) - 0.5) < 0.01
    else:
        assert abs(np.median(closeness)) < 1e-9
        assert np.median(np.abs(closeness)) * 1.4826 == pytest.approx(1.0)
    # Scored again, the fit's rows are new data (each anchor is then its own nearest anchor), row by row,
    # whatever rows come with them; their leave-one-out scores stay in decision_scores_.
    np.testing.assert_allclose(model.score_samples(X), np.r_[model.score_samples(X[:300]),
                                                             model.score_samples(X[300:])])
    X_new, y_new = planted(n=600, n_out=20, seed=5)
    assert roc_auc_score(y_new, model.score_samples(X_new)) > 0.99
    # A model saved before the proximity scale was recorded (no instance attribute) ranked that member.
    del model.__dict__["_proximity_normalisation"]
    assert model._proximity_normalisation == "rank"


def test_selected_model_survives_save_and_load(fitted, tmp_path):
    import drama2

    model, X, y = fitted
    model = _copy(model)
    model.select(X, np.flatnonzero(y)[:4])
    loaded = drama2.load(model.save(tmp_path / "ensemble.drama2"))
    X_new, _ = planted(seed=8)
    np.testing.assert_array_equal(loaded.score_samples(X_new), model.score_samples(X_new))


def test_bench_labelled_anomalies(tmp_path, data_dir, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("DRAMA2_DATA", str(data_dir))

    from drama2.bench import BenchConfig, run_bench

    # A list value is a grid in a scorer spec, so one member list is written as a list of one list.
    members = 'ensemble[members=[["iforest", "knn[n_neighbors=10]"]]]'
    config = BenchConfig(datasets=["wine"], reducers=[], metrics=[], scorers=[members, "iforest"],
                         labelled_anomalies=[1, 3], seeds=[0], out=str(tmp_path / "run"))
    with pytest.warns(UserWarning, match="iforest cannot, so they get no"):
        run_bench(config, progress=False)
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    labelled = results[results.labelled_anomalies.notna()]
    assert sorted(labelled.labelled_anomalies) == [1, 3]  # iforest has no select: no labelled rows
    assert (labelled.status == "ok").all()
    base = results[(results.scorer == "ensemble") & results.labelled_anomalies.isna()].iloc[0]
    for _, row in labelled.iterrows():  # transductive: the labelled rows are left out of the evaluation
        assert row.n_test == base.n_test - row.labelled_anomalies
        assert row.n_outliers == base.n_outliers - row.labelled_anomalies

    # Which other K a run asks for changes neither the unsupervised model nor a K's draw of labels.
    only_3 = BenchConfig(datasets=["wine"], reducers=[], metrics=[], scorers=[members], labelled_anomalies=[3, 3],
                         seeds=[0], out=str(tmp_path / "run3"))
    assert only_3.labelled_anomalies == [3]  # a K given twice is one K
    run_bench(only_3, progress=False)
    again = pd.read_csv(tmp_path / "run3" / "results.csv").set_index("pipeline")["auc"]
    first = results.set_index("pipeline")["auc"]
    assert len(again) == 2 and again.to_dict() == {p: first[p] for p in again.index}
    plain = BenchConfig(datasets=["wine"], reducers=[], metrics=[], scorers=[members], seeds=[0],
                        out=str(tmp_path / "plain"))
    run_bench(plain, progress=False)
    assert pd.read_csv(tmp_path / "plain" / "results.csv")["auc"].tolist() == [base.auc]


def test_cli_labelled_anomalies(tmp_path, data_dir, monkeypatch):
    import pandas as pd
    from click.testing import CliRunner

    from drama2.cli import cli

    monkeypatch.setenv("DRAMA2_DATA", str(data_dir))  # vertebral is an ODDS file: skip (or fail in CI) without it

    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["bench", "--datasets", "vertebral", "--scorers",
                                      'ensemble[members=[["iforest", "knn[n_neighbors=10]"]]]', "--reducers", "",
                                      "--protocol", "split", "--labelled-anomalies", "2,5", "--out", str(out),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    label = "ensemble[members=['iforest', 'knn[n_neighbors=10]']]"
    assert set(results.pipeline) == {label, f"{label}+2lab", f"{label}+5lab"}
    assert (results.status == "ok").all()
    labelled = results[results.labelled_anomalies.notna()]
    assert (labelled.n_test == results.n_test.iloc[0]).all()  # split: the test rows are never labelled


def test_selected_reweights_a_copy_and_leaves_the_ensemble_alone(fitted):
    model, X, y = fitted
    assert model.is_training_data(X) and not model.is_training_data(X[::-1]) and not model.is_training_data(X[:-1])
    weights, scores = model.weights_.copy(), model.decision_scores_.copy()
    anomalies = np.flatnonzero(y)[:3]
    chosen = model.selected(X, anomalies)
    np.testing.assert_array_equal(model.weights_, weights)  # unchanged
    np.testing.assert_array_equal(model.decision_scores_, scores)
    reference = _copy(model).select(X, anomalies)
    np.testing.assert_allclose(chosen.weights_, reference.weights_)
    np.testing.assert_allclose(chosen.decision_scores_, reference.decision_scores_)
    assert not np.allclose(chosen.weights_, weights)


def test_a_pandas_index_of_labels_selects_those_rows(fitted):
    import pandas as pd

    model, X, y = fitted
    # A shuffled catalogue keeps its original row labels: X.index[y == 1] names rows by label, not position.
    frame = pd.DataFrame(X, index=np.random.default_rng(0).permutation(len(X)) + 1000)
    fitted_frame = _copy(model).fit(frame)
    anomalies = np.flatnonzero(y)[:4]
    by_label = fitted_frame.selected(frame, frame.index[anomalies])
    by_position = fitted_frame.selected(frame, anomalies)
    np.testing.assert_allclose(by_label.weights_, by_position.weights_)
    with pytest.raises(InvalidInputError, match=r"labels \[5\] are not in X's index"):
        fitted_frame.selected(frame, pd.Index([5]))
    with pytest.raises(InvalidInputError, match="X has no index"):
        _copy(model).selected(X, pd.Index(anomalies))


def test_reweight_after_select_is_the_whole_weighting():
    X, _ = planted(n=600, n_out=20, seed=4)
    model = Ensemble(members=["knn[n_neighbors=50]", "drama[reducer=none, metric=correlation]"],
                     random_state=0).fit(X)
    chosen = model.selected(X, np.arange(5))
    assert chosen.proximity_weight_ > 0  # the planted anomalies resemble each other
    one_hot = np.eye(len(model.member_labels_))[0]
    alone = _copy(chosen).reweight(one_hot)
    assert alone.proximity_weight_ == 0
    # Weight 1 on one member under the mean combination: the ensemble scores as that member does.
    np.testing.assert_allclose(alone.decision_scores_, chosen.member_scores()[:, 0])


def test_changing_normalisation_after_fit_keeps_scoring_with_the_fitted_one(fitted):
    model, X, _ = fitted
    changed = _copy(model).set_params(normalisation="zscore" if model.normalisation == "rank" else "rank")
    assert changed.normalisation_ == model.normalisation
    np.testing.assert_array_equal(changed.score_samples(X[:20] + 0.1), model.score_samples(X[:20] + 0.1))
