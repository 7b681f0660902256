"""drama2.active: sessions, label log and resume, updaters, strategies, oracles, discovery metrics, the CLI."""

import json
import os
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from drama2 import evaluation as ev
from drama2.active import (
    AADUpdater,
    ActiveSession,
    DiverseStrategy,
    Oracle,
    Query,
    TerminalOracle,
    aad_weights,
    parse_label,
)
from drama2.active.aad import aad_loss, project_to_simplex, quantile_row
from drama2.errors import InvalidInputError

MEMBERS = ["iforest", "knn[n_neighbors=10]", "drama[reducer=pca, metric=[l2, mahalanobis]]", "pyod:HBOS"]


def _blobs(seed=0):
    """300 nominal rows in two Gaussian blobs, 20 scattered anomalies at the end."""
    rng = np.random.default_rng(seed)
    nominal = np.vstack([rng.normal(0, 1, (150, 5)), rng.normal(6, 1, (150, 5))])
    anomalies = rng.uniform(-6, 12, (20, 5))
    X = np.vstack([nominal, anomalies])
    y = np.r_[np.zeros(300, int), np.ones(20, int)]
    return X, y


@pytest.fixture(scope="module")
def fitted():
    import torch

    from drama2.ensemble import Ensemble

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the torch_one_thread fixture, for a module-scoped fit
    try:
        X, y = _blobs()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ensemble = Ensemble(members=MEMBERS, random_state=0).fit(X)
        yield ensemble, X, y
    finally:
        torch.set_num_threads(threads)


class FixedEnsemble:
    """An ensemble stand-in with a given member-score matrix (what the updaters see of an Ensemble)."""

    combination = "mean"

    def __init__(self, S):
        self.S = np.asarray(S, dtype=np.float64)
        self.weights_ = np.full(self.S.shape[1], 1.0 / self.S.shape[1])
        self.decision_scores_ = self.S @ self.weights_
        self.member_labels_ = [f"m{j}" for j in range(self.S.shape[1])]

    def member_scores(self, X=None):
        return self.S

    def combine(self, S, weights=None):
        return S @ (self.weights_ if weights is None else weights)


def _decoy_matrix(seed=0):
    """Member 0 ranks the 30 true anomalies (rows 0-29) first; members 1-3 rank 60 decoy nominals first."""
    rng = np.random.default_rng(seed)
    n = 2000
    S = rng.uniform(0, 0.8, (n, 4))
    S[:30, 0] = rng.uniform(0.95, 1.0, 30)
    S[30:90, 1:] = rng.uniform(0.9, 1.0, (60, 3))
    y = np.zeros(n, int)
    y[:30] = 1
    return S, y


# ---------------------------------------------------------------------------------------------- metrics
def test_discovery_metrics_match_hand_computed_values():
    curve = ev.discovery_curve([0, 1, 1, 0, 1])
    assert curve.tolist() == [0, 1, 2, 2, 3]
    assert ev.found_at(curve, 3) == 2 and ev.found_at(curve, 5) == 3 and ev.found_at(curve, 0) == 0
    # area 0+1+2+2+3 = 8 over the optimal min(k, 3): 1+2+3+3+3 = 12
    assert ev.normalised_discovery_auc(curve, 3) == pytest.approx(8 / 12)
    assert ev.normalised_discovery_auc(ev.discovery_curve([1, 1, 1, 0, 0]), 3) == 1.0
    assert ev.lift(curve, ev.discovery_curve([0, 0, 0, 1, 0])) == 3.0
    assert ev.lift([0, 0], [0, 0]) != ev.lift([0, 0], [0, 0])  # nan when neither finds anything
    assert ev.labels_to_first_anomaly(curve) == 2
    assert ev.labels_to_first_anomaly([0, 0, 0]) is None
    assert ev.random_discovery_curve(10, 100, 3).tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert ev.optimal_discovery_curve(2, 4).tolist() == [1, 2, 2, 2]
    # ties: rows 1 and 2 share a score, one of them an anomaly, so rank 2 holds half an anomaly on average
    assert ev.ranking_discovery_curve([1, 0, 1, 0], [3, 2, 2, 1]).tolist() == [1, 1.5, 2, 2]
    with pytest.raises(InvalidInputError, match="never decreases"):
        ev.found_at([0, 1, 0], 2)
    with pytest.raises(InvalidInputError, match="covers 5 queries"):
        ev.found_at(curve, 6)


# ---------------------------------------------------------------------------------------------- AAD
def test_project_to_simplex_gives_the_nearest_point():
    assert project_to_simplex([0.5, 0.5, 0.5]) == pytest.approx([1 / 3] * 3)
    assert project_to_simplex([2.0, 0.0, 0.0]) == pytest.approx([1, 0, 0])
    assert project_to_simplex([0.6, 0.6, -1.0]) == pytest.approx([0.5, 0.5, 0])
    rng = np.random.default_rng(1)
    for _ in range(20):
        v = rng.normal(size=6)
        p = project_to_simplex(v)
        assert p.min() >= 0 and p.sum() == pytest.approx(1)
        others = rng.dirichlet(np.ones(6), 200)  # no point of the simplex is nearer
        assert (np.linalg.norm(others - v, axis=1) >= np.linalg.norm(p - v) - 1e-12).all()


def test_aad_reweighting_raises_the_labelled_anomalies_and_lowers_the_decoys():
    S, y = _decoy_matrix()
    prior = np.full(4, 0.25)
    anomalies, nominals = np.arange(0, 3), np.arange(30, 40)  # 3 anomalies, 10 decoys labelled
    w = aad_weights(S, anomalies, nominals, prior)
    assert w.min() >= 0 and w.sum() == pytest.approx(1)
    assert w[0] > prior[0]

    def ranks(weights, rows):
        order = np.argsort(-(S @ weights), kind="stable")
        return np.argsort(order)[rows] + 1

    assert (ranks(w, anomalies) < ranks(prior, anomalies)).all()
    assert ranks(w, nominals).mean() > ranks(prior, nominals).mean()
    # the unlabelled anomalies follow: more of them in the top 30 than before
    top = lambda weights: np.argsort(-(S @ weights))[:30]  # noqa: E731
    assert y[top(w)].sum() > y[top(prior)].sum()
    # and the objective went down against the prior's own quantile
    scores = S @ prior
    row = quantile_row(scores, 0.03)
    assert aad_loss(w, S, anomalies, nominals, prior, scores[row], row) < aad_loss(
        prior, S, anomalies, nominals, prior, scores[row], row)


def test_aad_without_labels_keeps_the_prior_and_is_a_pure_function_of_the_labels():
    S, _ = _decoy_matrix()
    prior = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.array_equal(aad_weights(S, [], [], prior), prior)
    a = aad_weights(S, [0, 2], [31, 35], prior)
    assert np.array_equal(a, aad_weights(S, [0, 2], [31, 35], prior))


def test_aad_session_finds_more_than_the_frozen_ranking_on_decoys():
    S, y = _decoy_matrix()
    X = np.zeros((len(y), 1))
    found = {}
    for updater in ("aad", "none"):
        session = ActiveSession(FixedEnsemble(S), X, updater=updater, random_state=0, fitted_on_X=True)
        found[updater] = session.run(Oracle.from_labels(y), budget=60).n_found
    assert found["aad"] >= found["none"] + 10, found


# ---------------------------------------------------------------------------------------------- session
def test_ask_is_idempotent_until_tell_and_extends(fitted):
    ensemble, X, _ = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, strategy="topk")
    first = session.ask(3)
    assert len(first) == 3 and all(isinstance(q, Query) for q in first)
    assert session.ask(3) == first and session.ask(1) == first[:1]
    more = session.ask(5)
    assert more[:3] == first and len({q.index for q in more}) == 5
    assert [q.rank for q in more] == [1, 2, 3, 4, 5]
    assert more[0].reason == "1st highest score among rows not yet asked"
    assert [q.score for q in more] == sorted((q.score for q in more), reverse=True)
    session.tell({first[0].id: "nominal"})
    assert session.ask(4) == more[1:5]  # the unanswered ones stay pending, in order


def test_partial_asynchronous_and_skip_answers(fitted):
    ensemble, X, y = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, updater="aad", strategy="topk")
    pending = session.ask(4)
    never_asked = next(i for i in range(len(X)) if i not in {q.index for q in pending})
    session.tell({pending[1].id: 1, never_asked: False, pending[2].id: None})
    assert session.pending == (pending[0], pending[3])
    assert session.labels == {pending[1].id: "anomaly", never_asked: "nominal", pending[2].id: "skip"}
    weights = session.weights
    session.tell({pending[0].id: "SKIP"})  # a skip changes nothing in the ranking
    assert np.array_equal(session.weights, weights)
    answered = {pending[0].index, pending[1].index, pending[2].index, never_asked}
    for q in session.ask(20):
        assert q.index not in answered
    record = session.record
    assert record.labels == ("anomaly", "nominal", "skip", "skip") and record.n_found == 1
    session.tell({never_asked: "anomaly"})  # told again: the new label wins, the place stays
    assert session.record.indices.tolist()[1] == never_asked and session.record.n_found == 2


def test_strategies_return_distinct_unlabelled_rows(fitted):
    ensemble, X, y = fitted
    for strategy in ("greedy", "topk", "diverse"):
        session = ActiveSession(ensemble, X, fitted_on_X=True, strategy=strategy, random_state=1)
        session.tell({i: 0 for i in np.argsort(-ensemble.decision_scores_)[:5].tolist()})
        queries = session.ask(12)
        rows = [q.index for q in queries]
        assert len(set(rows)) == 12 and not set(rows) & set(session.labels)
        session.tell({q.id: int(y[q.index]) for q in queries})
        again = [q.index for q in session.ask(12)]
        assert len(set(again)) == 12 and not set(again) & set(rows)


def test_diverse_batches_spread_over_drama_leaves_or_kmeans(fitted):
    ensemble, X, _ = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, strategy="diverse")
    queries = session.ask(6)
    assert all("DRAMA cluster" in q.reason for q in queries)
    assert len({q.reason.split()[-1] for q in queries}) >= 2  # both DRAMA leaves (the blobs) are visited
    kmeans = ActiveSession(ensemble, X, fitted_on_X=True, random_state=0,
                           strategy=DiverseStrategy(clusters="kmeans", n_clusters=4))
    assert all("k-means cluster" in q.reason for q in kmeans.ask(4))


def test_frozen_updater_keeps_the_ranking(fitted):
    ensemble, X, y = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, updater="none")
    before = session.ranking()
    assert np.array_equal(session.scores, ensemble.decision_scores_)
    session.run(Oracle.from_labels(y), budget=15)
    assert np.array_equal(session.scores, ensemble.decision_scores_)
    assert session.record.indices.tolist() == before[:15].tolist()  # queried in the initial order
    assert session.ranking().tolist() == before[15:].tolist()


def test_aad_session_raises_labelled_anomalies(fitted):
    ensemble, X, y = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, updater="aad")
    anomalies = np.flatnonzero(y)[:3].tolist()
    nominals = session.ranking()[:40]
    nominals = [int(i) for i in nominals if y[i] == 0][:10]
    assert np.array_equal(session.scores, ensemble.decision_scores_)  # before any label: the ensemble's ranking
    linear = ensemble.member_scores() @ ensemble.weights_  # AAD's score w·z at the initial weights
    rank_before = np.argsort(np.lexsort((np.arange(len(X)), -linear)))
    session.tell({**{i: "anomaly" for i in anomalies}, **{i: "nominal" for i in nominals}})
    rank_after = np.argsort(session.ranking(include_answered=True))
    assert not np.array_equal(session.weights, ensemble.weights_)
    assert rank_after[anomalies].mean() < rank_before[anomalies].mean()
    assert rank_after[nominals].mean() > rank_before[nominals].mean()
    assert np.array_equal(ensemble.weights_, np.full(5, 0.2))  # the session never changes the detector


def test_select_updater_uses_ensemble_select_and_leaves_the_ensemble_alone(fitted):
    import copy

    from drama2.selection import selection_weights

    ensemble, X, y = fitted
    session = ActiveSession(ensemble, X, updater="select")  # the ensemble recognises its training rows
    before = ensemble.decision_scores_.copy()
    anomalies = np.flatnonzero(y)[:4]
    session.tell({int(i): 0 for i in range(5)})
    assert np.array_equal(session.weights, ensemble.weights_)  # no anomaly yet: nothing changes
    assert np.array_equal(session.scores, before)
    session.tell({int(i): 1 for i in anomalies})
    expected = copy.deepcopy(ensemble).select(X, anomalies, np.arange(5))
    assert session.weights == pytest.approx(expected.weights_)
    assert session.scores == pytest.approx(expected.decision_scores_)
    assert np.array_equal(ensemble.decision_scores_, before) and ensemble.proximity_weight_ == 0
    assert session.updater.proximity_weight == pytest.approx(expected.proximity_weight_)
    session.tell({int(i): "skip" for i in [*anomalies, *range(5)]})  # every label withdrawn: back to the start
    assert session.updater.proximity_weight == 0 and np.array_equal(session.scores, before)
    # rows that are not the training data: the same rule on the session's member scores
    other = ActiveSession(ensemble, X[::-1], updater="select")
    reversed_anomalies = sorted(len(X) - 1 - anomalies)
    other.tell({int(i): 1 for i in reversed_anomalies})
    S = ensemble.member_scores(X[::-1])
    w = selection_weights(S, reversed_anomalies, [], prior=ensemble.weights_, prior_strength=1.0)
    assert other.weights == pytest.approx(w)
    assert other.scores == pytest.approx(S @ w)


def test_any_detector_works_with_the_frozen_updater(fitted):
    from drama2 import Drama

    _, X, y = fitted
    model = Drama(random_state=0).fit(X)
    session = ActiveSession(model, X, updater="none")  # X re-scored as new data
    assert session.scores == pytest.approx(model.score_samples(X))
    assert session.run(Oracle.from_labels(y), budget=5).n_queries == 5
    assert session.weights is None
    with pytest.raises(InvalidInputError, match="Ensemble"):
        ActiveSession(model, X, updater="aad")


def test_auto_updater_picks_by_detector_and_logs_its_choice(fitted, tmp_path):
    from drama2 import Drama
    from drama2.detect import make_detector

    ensemble, X, y = fitted
    forest = make_detector("iforest", random_state=0).fit(X)
    assert ActiveSession(ensemble, X, fitted_on_X=True).updater.name == "select"
    assert ActiveSession(forest, X, fitted_on_X=True).updater.name == "aad"
    assert ActiveSession(Drama(random_state=0).fit(X), X).updater.name == "none"
    # The log records the updater chosen, so the explicit name resumes an "auto" session and vice versa.
    log = tmp_path / "labels.jsonl"
    first = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    first.run(Oracle.from_labels(y), budget=4)
    resumed = ActiveSession(ensemble, X, fitted_on_X=True, updater="select", store=log)
    assert resumed.labels == first.labels and resumed.scores == pytest.approx(first.scores)
    # A log written with another updater (and settings) resumes under "auto" with that updater.
    other_log = tmp_path / "aad.jsonl"
    aad = ActiveSession(ensemble, X, fitted_on_X=True, updater=AADUpdater(tau=0.05), store=other_log)
    aad.run(Oracle.from_labels(y), budget=4)
    again = ActiveSession(ensemble, X, fitted_on_X=True, store=other_log)
    assert again.updater.name == "aad" and again.updater.tau == 0.05
    assert again.labels == aad.labels and again.scores == pytest.approx(aad.scores)
    # PyOD's IForest behind drama2's pyod:IForest spec is a forest too.
    assert ActiveSession(make_detector("pyod:IForest", random_state=0).fit(X), X,
                         fitted_on_X=True).updater.name == "aad"


def test_auto_updater_reports_logs_it_cannot_resume(fitted, tmp_path):
    import json

    from drama2 import Drama

    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    ActiveSession(ensemble, X, fitted_on_X=True, store=log).run(Oracle.from_labels(y), budget=3)
    with pytest.raises(InvalidInputError, match="written with updater 'select' for detector Ensemble.*new store path"):
        ActiveSession(Drama(random_state=0).fit(X), X, store=log)
    # Damaged settings in the header: the header check names them instead of a crash during replay.
    lines = log.read_text().splitlines()
    header = json.loads(lines[0])
    for damage in ({"updater": ["select"]}, {"updater_params": {**header["updater_params"], "prior_strength": "x"}}):
        log.write_text("\n".join([json.dumps({**header, **damage}), *lines[1:]]) + "\n")
        with pytest.raises(InvalidInputError, match="different session"):
            ActiveSession(ensemble, X, fitted_on_X=True, store=log)


def test_bad_input_gets_clear_errors_and_records_nothing(fitted, tmp_path):
    ensemble, X, _ = fitted
    log = tmp_path / "labels.jsonl"
    session = ActiveSession(ensemble, X, ids=[f"obj{i}" for i in range(len(X))], fitted_on_X=True, store=log)
    query = session.ask()[0]
    size = log.stat().st_size
    with pytest.raises(InvalidInputError, match="unknown id.*'nope'"):
        session.tell({query.id: "anomaly", "nope": "anomaly"})
    with pytest.raises(InvalidInputError, match="bad label.*'maybe'"):
        session.tell({query.id: "maybe"})
    with pytest.raises(InvalidInputError, match="bad label"):
        session.tell({query.id: 2})
    with pytest.raises(InvalidInputError, match="mapping"):
        session.tell([query.id])
    assert log.stat().st_size == size and session.labels == {} and session.pending == (query,)
    with pytest.raises(InvalidInputError, match="unique"):
        ActiveSession(ensemble, X, ids=[0] * len(X), fitted_on_X=True)
    with pytest.raises(InvalidInputError, match="unknown updater"):
        ActiveSession(ensemble, X, updater="magic", fitted_on_X=True)
    with pytest.raises(InvalidInputError, match="fitted on 320 rows"):
        ActiveSession(ensemble, X[:10], fitted_on_X=True)
    with pytest.raises(InvalidInputError, match="not the data the detector was fitted on"):
        ActiveSession(ensemble, X[::-1], fitted_on_X=True)  # as many rows, in another order
    from drama2 import Drama

    drama = Drama(random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="not the data the detector was fitted on"):
        ActiveSession(drama, X + 1.0, updater="none", fitted_on_X=True)
    ActiveSession(drama, X.tolist(), updater="none", fitted_on_X=True)  # the same rows in another container
    with pytest.raises(InvalidInputError, match="positive integer"):
        session.ask(0)
    with pytest.raises(InvalidInputError, match="holds labels for 10 rows but the session has 320"):
        session.run(Oracle.from_labels(np.zeros(10)), budget=5)

    class CountingOracle(Oracle):  # a user's oracle may use the name for something else
        def n_rows(self):
            return 0

        def answer(self, queries):
            return {q.id: "skip" for q in queries}

    assert ActiveSession(ensemble, X, fitted_on_X=True).run(CountingOracle(), budget=1).n_queries == 1
    with pytest.raises(InvalidInputError, match="folder .*missing.* does not exist"):
        ActiveSession(ensemble, X, fitted_on_X=True, store=tmp_path / "missing" / "labels.jsonl")
    with pytest.raises(InvalidInputError, match="is a folder"):
        ActiveSession(ensemble, X, fitted_on_X=True, store=tmp_path)
    assert log.stat().st_size == size and session.labels == {}
    assert [parse_label(v) for v in ("Anomaly", 1, True, np.int64(0), False, None, "skip", "x", 2, 0.5)] == [
        "anomaly", "anomaly", "anomaly", "nominal", "nominal", "skip", "skip", None, None, None]


# ---------------------------------------------------------------------------------------------- label log
def _drive(session, y, steps):
    """A fixed sequence of operations: runs, a partial batch, an asynchronous label and a skip."""
    session.run(Oracle.from_labels(y), budget=steps)
    batch = session.ask(4)
    session.tell({batch[0].id: int(y[batch[0].index]), batch[2].id: "skip"})
    session.tell({7: "nominal"})
    session.ask(5)


def test_resume_from_the_log_equals_continuing(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    straight = ActiveSession(ensemble, X, strategy="diverse", fitted_on_X=True)
    _drive(straight, y, 10)
    first = ActiveSession(ensemble, X, strategy="diverse", fitted_on_X=True, store=log)
    _drive(first, y, 10)
    first.close()
    resumed = ActiveSession(ensemble, X, strategy="diverse", fitted_on_X=True, store=log)
    for other in (first, resumed):
        assert other.pending == straight.pending
        assert np.array_equal(other.weights, straight.weights)
        assert np.array_equal(other.scores, straight.scores)
        assert other.labels == straight.labels
    # and they go on identically
    for session in (straight, resumed):
        session.tell({q.id: int(y[q.index]) for q in session.ask(5)[:3]})
        session.run(Oracle.from_labels(y), budget=25)
    assert resumed.ask(3) == straight.ask(3)
    assert np.array_equal(resumed.weights, straight.weights)
    assert np.array_equal(resumed.record.curve, straight.record.curve)
    # the log: a header, then one line per query and per told label, numbered in order
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["format"] == "drama2-active-label-log" and lines[0]["n_rows"] == len(X)
    assert {"drama2", "updater", "strategy", "ids_sha256"} <= set(lines[0])
    labels = [line for line in lines[1:] if line["event"] == "label"]
    assert {"id", "label", "time", "seq"} <= set(labels[0])
    assert [line["seq"] for line in lines[1:]] == list(range(1, len(lines)))
    assert {line["id"] for line in labels} == set(resumed.labels)
    assert resumed.labels == ActiveSession(ensemble, X, strategy="diverse", fitted_on_X=True, store=log).labels


def test_resumed_run_does_only_the_remaining_budget(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    ActiveSession(ensemble, X, fitted_on_X=True, store=log).run(Oracle.from_labels(y), budget=6)
    calls = []

    def oracle(queries):
        calls.append(len(queries))
        return Oracle.from_labels(y)(queries)

    record = ActiveSession(ensemble, X, fitted_on_X=True, store=log).run(oracle, budget=10)
    assert record.n_queries == 10 and sum(calls) == 4


def test_a_log_of_another_session_is_refused(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    ActiveSession(ensemble, X, fitted_on_X=True, store=log).run(Oracle.from_labels(y), budget=3)
    with pytest.raises(InvalidInputError, match="updater: log has 'select', this session has 'none'"):
        ActiveSession(ensemble, X, fitted_on_X=True, updater="none", store=log)
    with pytest.raises(InvalidInputError, match="ids_sha256"):
        ActiveSession(ensemble, X, ids=[f"r{i}" for i in range(len(X))], fitted_on_X=True, store=log)
    other = tmp_path / "other.txt"
    other.write_text("hello\n")
    with pytest.raises(InvalidInputError, match="not a drama2 label log"):
        ActiveSession(ensemble, X, fitted_on_X=True, store=other)
    # Another kind of detector behind the same rows and settings is another session too.
    from drama2.detect import make_detector

    plain = tmp_path / "none.jsonl"
    ActiveSession(ensemble, X, fitted_on_X=True, updater="none", store=plain).run(Oracle.from_labels(y), budget=2)
    forest = make_detector("iforest", random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="detector: log has 'Ensemble', this session has 'IForest'"):
        ActiveSession(forest, X, fitted_on_X=True, updater="none", store=plain)
    with pytest.raises(InvalidInputError, match="non-negative"):
        ActiveSession(ensemble, X, fitted_on_X=True, random_state=-1)


def test_two_sessions_on_one_log_cannot_mix_their_answers(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    first = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    second = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    asked = first.ask()[0]
    with pytest.raises(InvalidInputError, match="another session is using the same log"):
        second.ask()
    first.tell({asked.id: "anomaly"})
    # Nothing was overwritten: the log replays the first session exactly, and reads as valid JSON lines.
    resumed = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    assert resumed.labels == first.labels == {asked.id: "anomaly"} and second.labels == {}
    first.close()
    resumed.tell({asked.id: "nominal"})  # the resumed session is now the log's one writer
    with pytest.raises(InvalidInputError, match="changed by someone else"):
        first.tell({asked.id: "skip"})


def test_aad_weights_carry_over_to_the_ensemble_with_the_mean(fitted):
    import copy

    ensemble, X, y = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True, updater="aad")
    session.run(Oracle.from_labels(y), budget=15)
    carried = copy.deepcopy(ensemble).reweight(session.weights, combination="mean")
    assert carried.combination_ == "mean"
    np.testing.assert_allclose(carried.decision_scores_, session.scores)
    with pytest.raises(InvalidInputError, match="combination must be one of"):
        copy.deepcopy(ensemble).reweight(session.weights, combination="sum")


def test_a_line_cut_short_by_a_crash_is_dropped_and_nothing_told_is_lost(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    session = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    session.run(Oracle.from_labels(y), budget=4)
    with open(log, "a") as fh:
        fh.write('{"seq": 99, "event": "label", "id": 3')  # the crash
    with pytest.warns(UserWarning, match="cut short"):
        resumed = ActiveSession(ensemble, X, fitted_on_X=True, store=log)
    assert resumed.labels == session.labels
    resumed.tell({3: "nominal"})
    assert ActiveSession(ensemble, X, fitted_on_X=True, store=log).labels[3] == "nominal"


def test_hand_edited_log_lines_missing_what_a_replay_reads_are_named(fitted, tmp_path):
    ensemble, X, y = fitted
    log = tmp_path / "labels.jsonl"
    ActiveSession(ensemble, X, fitted_on_X=True, store=log).run(Oracle.from_labels(y), budget=2)
    lines = log.read_text().splitlines()
    label_line = next(i for i, line in enumerate(lines) if '"event":"label"' in line)
    query_line = next(i for i, line in enumerate(lines) if '"event":"query"' in line)
    for line, change, message in ((label_line, lambda e: e.pop("label"), "lacks label"),
                                  (query_line, lambda e: e.pop("score"), "lacks score"),
                                  (label_line, lambda e: e.update(seq="x"), "has seq 'x', not an integer")):
        event = json.loads(lines[line])
        change(event)
        log.write_text("\n".join([*lines[:line], json.dumps(event), *lines[line + 1:]]) + "\n")
        with pytest.raises(InvalidInputError, match=f"line {line + 1}: this .* event {message}"):
            ActiveSession(ensemble, X, fitted_on_X=True, store=log)


def test_an_id_of_the_other_type_is_named(fitted):
    ensemble, X, _ = fitted
    session = ActiveSession(ensemble, X, ids=[str(10**18 + i) for i in range(len(X))], fitted_on_X=True)
    with pytest.raises(InvalidInputError, match=r"ids are text: did you mean '1000000000000000003'\?"):
        session.tell({10**18 + 3: "anomaly"})
    with pytest.raises(InvalidInputError, match="for row 2 .*NaN"):
        ActiveSession(ensemble, X, ids=[0, 1, float("nan"), *range(3, len(X))], fitted_on_X=True)


def test_nan_is_a_skip_as_for_the_simulated_expert(fitted):
    ensemble, X, _ = fitted
    session = ActiveSession(ensemble, X, fitted_on_X=True)
    session.tell({5: np.nan, 6: float("nan")})
    assert session.labels == {5: "skip", 6: "skip"}


# ---------------------------------------------------------------------------------------------- oracles
def test_oracles():
    queries = [Query(10, 0, 0.9, 1, "r"), Query(11, 1, 0.8, 2, "r"), Query(12, 2, 0.7, 3, "r")]
    assert Oracle.from_labels([1, 0, np.nan])(queries) == {10: "anomaly", 11: "nominal", 12: "skip"}
    assert Oracle.from_labels(["Anomaly", "nominal", None])(queries) == {10: "anomaly", 11: "nominal", 12: "skip"}
    with pytest.raises(InvalidInputError, match="bad label 'maybe'"):
        Oracle.from_labels(["anomaly", "maybe"])
    replies = iter(["x", "a", "n", "q"])
    prompts = []
    oracle = TerminalOracle(input_fn=lambda prompt: prompts.append(prompt) or next(replies),
                            output=open("/dev/null", "w"))
    assert oracle(queries) == {10: "anomaly", 11: "nominal"}
    assert oracle.stopped and oracle(queries) == {} and len(prompts) == 4


def test_terminal_answers_are_whole_words_and_ctrl_c_keeps_the_batch(fitted, tmp_path, capsys):
    queries = [Query(10, 0, 0.9, 1, "r"), Query(11, 1, 0.8, 2, "r"), Query(12, 2, 0.7, 3, "r")]
    # "nope" once counted as nominal and "ambiguous" as anomaly: only a letter or the whole word answers.
    replies = iter(["nope", "Anomaly", "ambiguous", "nominal", "skip"])
    oracle = TerminalOracle(input_fn=lambda prompt: next(replies), output=open(os.devnull, "w"))
    assert oracle(queries) == {10: "anomaly", 11: "nominal", 12: "skip"}

    def interrupted(replies):
        def read(prompt):
            reply = next(replies)
            if reply is KeyboardInterrupt:
                raise KeyboardInterrupt
            return reply
        return read

    oracle = TerminalOracle(input_fn=interrupted(iter(["a", "n", KeyboardInterrupt])), output=open(os.devnull, "w"))
    assert oracle(queries) == {10: "anomaly", 11: "nominal"} and oracle.stopped
    # Through a session with a batch of five: the two answers typed before Ctrl-C reach the log.
    ensemble, X, _ = fitted
    log = tmp_path / "labels.jsonl"
    session = ActiveSession(ensemble, X, store=log)
    oracle = TerminalOracle(input_fn=interrupted(iter(["a", "n", KeyboardInterrupt])), output=open(os.devnull, "w"))
    session.run(oracle, budget=10, batch_size=5)
    logged = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert [e["label"] for e in logged if e["event"] == "label"] == ["anomaly", "nominal"]
    # The default reader writes its prompt where the descriptions go, not on stdout.
    import builtins

    answers = iter(["q"])
    original = builtins.input
    builtins.input = lambda prompt="": next(answers) if not prompt else pytest.fail("prompt sent to stdout")
    try:
        TerminalOracle()(queries)
    finally:
        builtins.input = original
    captured = capsys.readouterr()
    assert "[a]nomaly" in captured.err and captured.out == ""


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_active_simulate_writes_results_report_and_figures(data_dir, tmp_path, torch_one_thread):
    import pandas as pd

    from drama2.cli import cli

    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["active", "simulate", "--datasets", "wine", "--seeds", "0", "--budget", "30",
                                      "--updater", "aad,none", "--members", ",".join(MEMBERS), "--out", str(out),
                                      "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "static" in result.output
    results = pd.read_csv(out / "results.csv")
    assert set(results["method"]) == {"aad/greedy", "none/greedy", "static", "random", "optimal"}
    rows = results.set_index("method")
    assert rows.loc["optimal", "found_at_10"] == 10  # wine has 10 anomalies
    assert rows.loc["random", "found_at_10"] == pytest.approx(10 * 10 / 129)
    assert rows.loc["none/greedy", "found_at_10"] == pytest.approx(rows.loc["static", "found_at_10"], abs=1)
    assert (out / "figures" / "wine.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| wine | 129 | 10 |" in report and "aad/greedy" in report


def test_cli_active_simulate_refuses_bad_seeds_and_members_beside_a_detector(tmp_path, capsys):
    from drama2.cli import main

    for args, message in ((["--seeds", "a,b"], "Invalid value for --seeds: expected comma-separated integers"),
                          (["--detector", "iforest", "--members", "wide"], "applies to the ensemble")):
        with pytest.raises(SystemExit) as info:
            main(["active", "simulate", "--datasets", "wine", "--out", str(tmp_path / "r"), *args])
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err and "Traceback" not in err, err


def test_simulate_resumes_only_runs_of_the_same_data(data_dir, tmp_path, monkeypatch, capsys, torch_one_thread):
    import dataclasses

    import drama2.datasets
    from drama2.active.simulate import simulate

    real = drama2.datasets.load_dataset
    options = dict(seeds=[0, 0], budget=5, updater="none", members=MEMBERS[:2], out_dir=tmp_path / "run",
                   data_dir=data_dir)
    first = simulate(["wine", "wine"], **options)  # names and seeds given twice run once
    assert len(first) == 4 and "[1/1]" in capsys.readouterr().err
    simulate("wine", **options)
    assert "done earlier" in capsys.readouterr().err
    # Other rows under the same name (a user's folder of files, a new release) are computed again.
    def first_rows(name, **kw):
        data = real(name, **kw)
        return dataclasses.replace(data, X=data.X[:100], y=data.y[:100])

    monkeypatch.setattr(drama2.datasets, "load_dataset", first_rows)
    again = simulate("wine", **options)
    assert "done earlier" not in capsys.readouterr().err and set(again["n_rows"]) == {100}
    with pytest.raises(InvalidInputError, match="non-negative integers"):
        simulate("wine", **{**options, "seeds": [-1]})
    (tmp_path / "afile").write_text("")
    with pytest.raises(InvalidInputError, match="is a file"):
        simulate("wine", **{**options, "out_dir": tmp_path / "afile"})


def test_simulate_runs_auto_once_beside_the_updater_it_chose(fitted):
    from drama2.active.simulate import run_one

    ensemble, X, y = fitted
    rows, curves = run_one(ensemble, X, y, updaters=["auto", "select", "none"], strategies=["greedy"], budget=5)
    methods = [row["method"] for row in rows]
    assert sorted(methods) == sorted(["select/greedy", "none/greedy", "static", "random", "optimal"])
    assert set(curves) == set(methods)
