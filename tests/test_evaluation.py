"""Evaluation metrics against scikit-learn and hand-computed cases."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, matthews_corrcoef, roc_auc_score

from drama2 import evaluation as ev
from drama2.errors import InvalidInputError


def test_auc_and_ap_match_sklearn_with_ties(rng):
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 10, 300).astype(float)  # many ties
    assert ev.auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert ev.ap(y, s) == pytest.approx(average_precision_score(y, s))


def test_mcc_matches_sklearn_when_top_n_is_flagged(rng):
    y = (rng.random(200) < 0.1).astype(int)
    s = rng.normal(size=200) + 2 * y
    n = y.sum()
    flagged = np.zeros_like(y)
    flagged[np.argsort(-s)[:n]] = 1
    assert ev.mcc(y, s) == pytest.approx(matthews_corrcoef(y, flagged))
    t = (flagged & y).sum()
    N = y.size
    assert ev.mcc(y, s) == pytest.approx((t / n - n / N) / (1 - n / N))
    flagged30 = np.zeros_like(y)
    flagged30[np.argsort(-s)[:30]] = 1
    assert ev.mcc(y, s, n=30) == pytest.approx(matthews_corrcoef(y, flagged30))


def test_rank_weighted_scores_by_hand():
    # Three anomalies; ranking puts anomaly, normal, anomaly, anomaly, normal.
    y = np.array([1, 0, 1, 1, 0])
    s = np.array([5, 4, 3, 2, 1])
    # Top n = 3 positions hold labels 1, 0, 1; weights n+1-k = 3, 2, 1 over 6.
    assert ev.rws(y, s) == pytest.approx((3 + 0 + 1) / 6)
    # Original DRAMA weights k = 1, 2, 3.
    assert ev.rws_drama(y, s) == pytest.approx((1 + 0 + 3) / 6)
    assert ev.precision_at_n(y, s) == pytest.approx(2 / 3)
    perfect = np.array([3, 0, 2, 1, -1])
    assert ev.rws(y, perfect) == 1.0 and ev.rws_drama(y, perfect) == 1.0


def test_top_hit_counts_most_in_rws_but_least_in_rws_drama():
    y = np.array([1, 1, 0, 0, 0, 0])
    hit_first = np.array([6, 1, 5, 4, 3, 2])  # ranks: anomaly, normal
    hit_second = np.array([5, 1, 6, 4, 3, 2])  # ranks: normal, anomaly
    assert ev.rws(y, hit_first) > ev.rws(y, hit_second)
    assert ev.rws_drama(y, hit_first) < ev.rws_drama(y, hit_second)


def test_ties_give_the_expectation_over_orders():
    # All scores tied: every top-n metric is its expected value, whatever the input order.
    y = np.array([1, 0, 0, 0])
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0]):
        yy, s = y[perm], np.zeros(4)
        assert ev.precision_at_n(yy, s) == pytest.approx(0.25)
        assert ev.rws(yy, s) == pytest.approx(0.25)
        assert ev.mcc(yy, s) == pytest.approx(0.0)
    # A tie at the cut-off between one anomaly and one normal: half a hit.
    y = np.array([1, 1, 0, 0])
    s = np.array([3, 2, 2, 0])
    assert ev.precision_at_n(y, s) == pytest.approx(0.75)
    assert ev.precision_at_n(y[::-1], s[::-1]) == pytest.approx(0.75)


def test_bad_labels_and_scores_are_rejected():
    with pytest.raises(InvalidInputError, match="both"):
        ev.auc([0, 0, 0], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="0 .normal. and 1"):
        ev.rws([0, 2, 1], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="NaN"):
        ev.mcc([0, 1, 1], [1, np.nan, 3])
    with pytest.raises(InvalidInputError, match="must match"):
        ev.ap([0, 1], [1, 2, 3])
