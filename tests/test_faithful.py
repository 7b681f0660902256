"""Faithful mode reproduces the original DRAMA's per-sample scores (reference fixtures)."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from drama2 import Drama
from drama2.datasets.odds import load_odds

METRICS = {"cityblock": "l1", "L2": "l2", "L4": "l4", "braycurtis": "braycurtis", "canberra": "canberra",
           "chebyshev": "chebyshev", "correlation": "correlation", "mahalanobis": "mahalanobis",
           "wL2": "wl2", "wL4": "wl4"}
REDUCERS = {"PCA": "pca", "NMF": "nmf", "none": "none"}

# Fixtures below rho 0.999, each with its known numerical cause (see the issue note):
# the pseudo-inverse of (near-)singular leaf covariances for mahalanobis on arrhythmia (274 features,
# 452 rows) and cardio/PCA, and the sigma floor of the w-metrics on glass.
KNOWN_BELOW_0999 = {
    ("arrhythmia", "PCA", "mahalanobis"), ("arrhythmia", "NMF", "mahalanobis"),
    ("arrhythmia", "none", "mahalanobis"), ("cardio", "PCA", "mahalanobis"),
    ("glass", "PCA", "wL2"), ("glass", "PCA", "wL4"), ("glass", "none", "wL2"), ("glass", "none", "wL4"),
}


@pytest.fixture(scope="module")
def reproduction(data_dir):
    ref = np.load(data_dir / "drama" / "reference" / "drama_v1_scores_nsplit1_PCA_NMF_none.npz")
    datasets = sorted({key.split("__")[0] for key in ref.files})
    rho, proto_error = {}, {}
    for name in datasets:
        X = load_odds(name, data_dir=data_dir).X
        for drt, reducer in REDUCERS.items():
            model = Drama.original(reducer=reducer).fit(X)
            ours = model.prototypes_ / X.max()  # the reference stores prototypes in X / max(X) units
            theirs = ref[f"{name}__{drt}__prototypes"]
            proto_error[name, drt] = min(np.abs(ours - theirs).max(), np.abs(ours[::-1] - theirs).max())
            for key, metric in METRICS.items():
                rho[name, drt, key] = spearmanr(model.score_samples(X, metric=metric),
                                                ref[f"{name}__{drt}__{key}"]).statistic
    return rho, proto_error


def test_covers_every_fixture(reproduction):
    rho, _ = reproduction
    assert len(rho) == 11 * 3 * 10


def test_spearman_targets(reproduction):
    rho, _ = reproduction
    values = np.array(list(rho.values()))
    assert (values >= 0.999).mean() >= 0.90
    assert values.min() >= 0.90
    below = {key for key, value in rho.items() if value < 0.999}
    assert below <= KNOWN_BELOW_0999, f"new fixtures below 0.999: {sorted(below - KNOWN_BELOW_0999)}"


def test_prototypes_match(reproduction):
    _, proto_error = reproduction
    assert max(proto_error.values()) < 1e-8
