"""Extended Isolation Forest (drama2.scorers.eif): the algorithm, its layout, its contract and its peers."""

import pickle

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from drama2.errors import InvalidInputError
from drama2.scorers.eif import EIF, _sample_rows, average_path_length

N_OUT = 5


def blob_with_outliers(rng, n=300, d=4):
    """A standard Gaussian blob with N_OUT points appended at the end, 8 away from it in random directions."""
    directions = rng.normal(size=(N_OUT, d))
    X = np.r_[rng.normal(0, 1, (n, d)), 8.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)]
    y = np.r_[np.zeros(n, int), np.ones(N_OUT, int)]
    return X, y


def mixture(rng, n=1500, d=6, n_out=40):
    """Two correlated Gaussian clusters plus uniform scattered anomalies: a case where iForests rank well."""
    cov = 0.6 * np.ones((d, d)) + 0.4 * np.eye(d)
    inliers = np.r_[rng.multivariate_normal(np.zeros(d), cov, n // 2),
                    rng.multivariate_normal(np.full(d, 4.0), cov, n - n // 2)]
    X = np.r_[inliers, rng.uniform(-4, 8, (n_out, d))]
    return X, np.r_[np.zeros(n, int), np.ones(n_out, int)]


# ---------------------------------------------------------------------------- the formulas
def test_average_path_length_uses_exact_harmonic_numbers():
    c = average_path_length([0, 1, 2, 3, 4, 256])
    harmonic = lambda i: sum(1.0 / j for j in range(1, i + 1))  # noqa: E731
    expected = [0.0, 0.0, 1.0, 5.0 / 3.0, 2 * harmonic(3) - 1.5, 2 * harmonic(255) - 2 * 255 / 256]
    np.testing.assert_allclose(c, expected, rtol=1e-12)
    # The paper's ln(i) + 0.5772156649 approximation agrees for large m.
    assert average_path_length(10**6) == pytest.approx(2 * (np.log(10**6 - 1) + 0.5772156649) - 2, rel=1e-6)


def test_two_points_give_the_hand_computed_scores():
    # Two distinct points, psi = 2, height 1: an axis-parallel cut between them always separates them, so each
    # lands in a size-1 leaf at depth 1: h = 1 + c(1) = 1, c(2) = 1 and s = 2 ** -1.
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    model = EIF(n_estimators=20, extension_level=0, random_state=0).fit(X)
    assert model.max_samples_ == 2 and model.max_depth_ == 1
    np.testing.assert_array_equal(model.decision_scores_, [0.5, 0.5])
    assert model.split_mask_.all()
    # Two copies of one point: the root's box is that point, both copies go right into one size-2 leaf at
    # depth 1: h = 1 + c(2) = 2 and s = 2 ** -2. A new point goes left (an empty leaf, h = 1) exactly in the
    # trees whose normal points away from it.
    twins = EIF(n_estimators=30, extension_level=1, random_state=0).fit(np.ones((2, 2)))
    np.testing.assert_array_equal(twins.decision_scores_, [0.25, 0.25])
    assert np.all(twins.leaf_path_lengths_[:, 1] == 2.0)
    x_new = np.array([[2.0, 1.5]])
    root = twins.normals_[:, 0]
    depth = np.where((x_new[0] - 1.0) @ root.T >= 0, 2.0, 1.0)
    assert 0 < (depth == 1).sum() < 30
    np.testing.assert_allclose(twins.score_samples(x_new), 2.0 ** -depth.mean(), rtol=1e-12)


def test_leaves_carry_depth_plus_c_of_their_size(rng):
    X = rng.normal(size=(64, 3))
    model = EIF(n_estimators=5, max_samples=64, max_depth=3, extension_level=2, random_state=1).fit(X)
    lengths = model.leaf_path_lengths_
    assert lengths.shape == (5, 8)
    # Every value is depth + c(size) with depth <= 3 and a leaf size the samples add up to.
    for tree in range(5):
        reached = lengths[tree][lengths[tree] > 0]
        assert np.all(reached <= 3 + average_path_length(64) + 1e-9)
    # Walking the stored arrays by hand gives the same path lengths as the vectorised scorer.
    normals, offsets = model.normals_, model.offsets_
    x = X[:10].astype(np.float32).astype(np.float64)
    manual = np.zeros(10)
    for i in range(10):
        for tree in range(5):
            slot = 0
            for _ in range(3):
                slot = 2 * slot + 1 + int(x[i] @ normals[tree, slot] >= offsets[tree, slot])
            manual[i] += lengths[tree, slot - 7]
    np.testing.assert_allclose(model.score_samples(X[:10]), 2.0 ** -(manual / 5 / average_path_length(64)), rtol=1e-6)


# ---------------------------------------------------------------------------- the splits
@pytest.mark.parametrize("extension_level", [0, 1, 3, 6, 7])
def test_each_normal_has_extension_level_plus_one_nonzeros(rng, extension_level):
    X = rng.normal(size=(300, 8))
    model = EIF(n_estimators=20, extension_level=extension_level, random_state=2).fit(X)
    nonzero = (model.normals_ != 0).sum(axis=2)
    split = model.split_mask_
    assert split.sum() > 20 * 50
    assert np.all(nonzero[split] == extension_level + 1)
    assert np.all(nonzero[~split] == 0) and np.all(model.offsets_[~split] == -1)
    # The components are used evenly: each feature is nonzero in about (ext + 1) / d of the splits.
    share = (model.normals_[split] != 0).mean(axis=0)
    np.testing.assert_allclose(share, (extension_level + 1) / 8, atol=0.05)


def test_default_is_fully_extended(rng):
    X = rng.normal(size=(200, 5))
    model = EIF(n_estimators=10, random_state=0).fit(X)
    assert model.extension_level_ == 4
    assert np.all((model.normals_ != 0).sum(axis=2)[model.split_mask_] == 5)


def children_reached(model, X):
    """For each tree and internal slot (heap order), how many rows of X reach its left and right child."""
    normals, offsets = model.normals_, model.offsets_
    T, n_internal, _ = normals.shape
    reached = np.zeros((T, n_internal, 2), int)
    x = X.astype(np.float32).astype(np.float64)
    slot = np.zeros((T, len(X)), int)
    for _ in range(model.max_depth_):
        right = np.einsum("tnd,nd->tn", normals[np.arange(T)[:, None], slot], x) >= np.take_along_axis(offsets, slot, 1)
        np.add.at(reached, (np.arange(T)[:, None], slot, right.astype(int)), 1)
        slot = 2 * slot + 1 + right
    return reached


def test_range_threshold_never_leaves_a_child_empty(rng):
    X = rng.normal(size=(256, 4))  # every tree is grown on all 256 rows
    for threshold, expect_empty in (("range", False), ("box", True)):
        model = EIF(n_estimators=20, threshold=threshold, random_state=0).fit(X)
        reached = children_reached(model, X)[model.split_mask_]
        assert np.all(reached.sum(axis=1) >= 2)  # a split node holds at least 2 samples
        assert np.any(reached == 0) == expect_empty



@pytest.mark.parametrize("extension_level", [1, None])
def test_range_gives_node_constant_columns_no_weight(rng, extension_level):
    # Column 2 is constant everywhere; column 0 takes two values, so it is constant in many deeper nodes.
    X = np.c_[np.repeat([0.0, 10.0], 128), rng.normal(size=256), np.full(256, 3.0), rng.normal(size=256)]
    box = EIF(n_estimators=20, extension_level=extension_level, random_state=0).fit(X)
    ranged = EIF(n_estimators=20, extension_level=extension_level, threshold="range", random_state=0).fit(X)
    assert np.any(box.normals_[box.split_mask_][:, 2] != 0)  # the paper draws every component
    # Walk the training rows (each tree holds all 256) down every tree: a split node's normal is nonzero
    # only on columns that vary among the rows reaching it, and on all of them when fully extended.
    normals, offsets, split = ranged.normals_, ranged.offsets_, ranged.split_mask_
    x = X.astype(np.float32).astype(np.float64)
    checked = 0
    for tree in range(20):
        slot = np.zeros(len(X), int)
        for _ in range(ranged.max_depth_):
            for node in np.unique(slot):
                if split[tree, node]:
                    rows = x[slot == node]
                    varies = np.ptp(rows, axis=0) > 0
                    used = normals[tree, node] != 0
                    assert not np.any(used & ~varies)
                    assert used.any() and (extension_level == 1 or np.array_equal(used, varies))
                    checked += 1
            slot = 2 * slot + 1 + (np.einsum("nd,nd->n", normals[tree, slot], x) >= offsets[tree, slot])
    assert checked > 20 * 30


def test_range_makes_a_node_of_equal_samples_a_leaf(rng):
    # 200 copies of one point and 5 distinct points. A range split always leaves at least one distinct point
    # on the side without the copies, so the copies are alone after at most 5 splits; the node is then a leaf
    # (isotree's rule) at depth <= 5, below the height limit of 8, credited c(200).
    X = np.r_[np.zeros((200, 3)), rng.normal(3.0, 1.0, size=(5, 3))]
    ranged = EIF(n_estimators=20, threshold="range", random_state=0).fit(X)
    lengths = ranged.leaf_path_lengths_
    c200 = average_path_length(200)
    copies_leaf = np.isclose(lengths - np.round(lengths - c200), c200)
    assert np.all(copies_leaf.sum(axis=1) == 1)  # exactly one leaf per tree holds the copies
    assert np.all(np.round(lengths[copies_leaf] - c200) <= 5)
    # Scored as new data, a copy takes that leaf in every tree.
    np.testing.assert_allclose(ranged.score_samples(X[:1]),
                               2.0 ** -(lengths[copies_leaf].mean() / average_path_length(205)), rtol=1e-6)
    # The paper's rule keeps splitting the copies (they all go one way) down to the height limit.
    box = EIF(n_estimators=20, random_state=0).fit(X)
    assert np.all(np.isclose(box.leaf_path_lengths_, ranged.max_depth_ + c200).sum(axis=1) == 1)
    # All-equal rows: every root is a leaf.
    flat = EIF(n_estimators=5, threshold="range", random_state=0).fit(np.ones((50, 4)))
    assert not flat.split_mask_.any()
    np.testing.assert_allclose(flat.decision_scores_, 2.0 ** -1.0, rtol=1e-6)

# ---------------------------------------------------------------------------- quality
@pytest.mark.parametrize("threshold", ["box", "range"])
@pytest.mark.parametrize("extension_level", [0, 1, None])
def test_planted_anomalies_score_highest(rng, threshold, extension_level):
    X, y = blob_with_outliers(rng)
    model = EIF(extension_level=extension_level, threshold=threshold, random_state=0).fit(X)
    scores = model.decision_scores_
    assert scores.shape == (len(X),) and scores.dtype == np.float64
    assert set(np.argsort(scores)[-N_OUT:]) == set(np.flatnonzero(y))
    assert np.all((scores > 0) & (scores <= 1)) and np.median(scores) < 0.5
    X_new = np.r_[rng.normal(0, 1, (20, 4)), X[-N_OUT:] * 1.2]
    new = model.score_samples(X_new)
    assert new[-N_OUT:].min() > new[:-N_OUT].max()
    np.testing.assert_array_equal(model.score_samples(X), scores)  # training rows rescored: same scores


def test_extension_level_zero_is_an_isolation_forest(rng):
    X, y = mixture(rng)
    ours = EIF(n_estimators=300, extension_level=0, random_state=0).fit(X).decision_scores_
    sklearn = -IsolationForest(n_estimators=300, random_state=0).fit(X).score_samples(X)
    assert abs(roc_auc_score(y, ours) - roc_auc_score(y, sklearn)) < 0.01
    assert spearmanr(ours, sklearn).statistic > 0.97
    # Same scale: the score of the paper, 2 ** (-E[h] / c(256)).
    np.testing.assert_allclose(np.mean(ours), np.mean(sklearn), atol=0.01)


def test_extension_level_zero_agrees_with_isotree_ndim_1(rng):
    isotree = pytest.importorskip("isotree")
    X, y = mixture(rng)
    ours = EIF(n_estimators=300, extension_level=0, random_state=0).fit(X).decision_scores_
    theirs = isotree.IsolationForest(ndim=1, sample_size=256, ntrees=300, missing_action="fail", random_seed=0,
                                     nthreads=1).fit(X).predict(X)
    assert abs(roc_auc_score(y, ours) - roc_auc_score(y, theirs)) < 0.01
    assert spearmanr(ours, theirs).statistic > 0.97


@pytest.mark.parametrize("name", ["cardio", "wbc"])
def test_fully_extended_auc_matches_isotree_on_odds(data_dir, name):
    isotree = pytest.importorskip("isotree")
    from drama2 import load_dataset

    data = load_dataset(name, data_dir=data_dir)
    X, y = (data.X - data.X.min(0)) / np.maximum(np.ptp(data.X, axis=0), 1e-12), data.y
    d = X.shape[1]
    ours = {t: [] for t in ("box", "range")}
    theirs = []
    for seed in range(3):
        for t in ours:
            ours[t].append(roc_auc_score(y, EIF(threshold=t, random_state=seed).fit(X).decision_scores_))
        model = isotree.IsolationForest(ndim=d, sample_size=256, ntrees=100, missing_action="fail", coefs="normal",
                                        standardize_data=False, penalize_range=False, random_seed=seed, nthreads=1)
        theirs.append(roc_auc_score(y, model.fit(X).predict(X)))
    assert abs(np.mean(ours["range"]) - np.mean(theirs)) < 0.02
    assert abs(np.mean(ours["box"]) - np.mean(theirs)) < 0.03


# ---------------------------------------------------------------------------- determinism and layout
def test_same_seed_same_scores_other_seed_differs(rng):
    X, _ = blob_with_outliers(rng)
    a = EIF(n_estimators=30, random_state=7).fit(X)
    b = EIF(n_estimators=30, random_state=7).fit(X)
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    np.testing.assert_array_equal(a.normals_, b.normals_)
    c = EIF(n_estimators=30, random_state=8).fit(X)
    assert not np.array_equal(a.decision_scores_, c.decision_scores_)
    g1 = EIF(n_estimators=30, random_state=np.random.default_rng(3)).fit(X)
    g2 = EIF(n_estimators=30, random_state=np.random.default_rng(3)).fit(X)
    np.testing.assert_array_equal(g1.decision_scores_, g2.decision_scores_)


def test_global_random_states_are_left_alone(rng):
    X, _ = blob_with_outliers(rng)
    np.random.seed(0)
    torch.manual_seed(0)
    before = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    EIF(n_estimators=10).fit(X).score_samples(X)  # random_state=None
    np.testing.assert_array_equal(np.random.get_state()[1], before[0])
    assert torch.equal(torch.get_rng_state(), before[1])


@pytest.mark.parametrize("extension_level", [0, 2, None])
def test_scores_do_not_depend_on_the_chunk_size(rng, extension_level):
    X = rng.normal(size=(1500, 12)) * rng.uniform(0.1, 10, 12)
    model = EIF(n_estimators=50, extension_level=extension_level, random_state=0).fit(X)
    reference = model.decision_scores_
    for batch_size in (64, 1499, 5000):
        np.testing.assert_array_equal(model.set_params(batch_size=batch_size).score_samples(X), reference)
    for batch_size in (1, 3):  # one row at a time takes other matmul kernels: the decisions must not change
        np.testing.assert_array_equal(model.set_params(batch_size=batch_size).score_samples(X[:120]), reference[:120])


def test_float64_builds_the_same_kind_of_forest(rng):
    X, y = mixture(rng, n=600)
    s32 = EIF(n_estimators=200, random_state=0).fit(X).decision_scores_
    s64 = EIF(n_estimators=200, random_state=0, dtype="float64").fit(X).decision_scores_
    assert abs(roc_auc_score(y, s32) - roc_auc_score(y, s64)) < 0.01


def test_many_rows_are_sampled_without_replacement():
    gen = torch.Generator().manual_seed(0)
    rows = _sample_rows(100_000, 256, 200, gen)
    assert rows.shape == (200, 256) and rows.min() >= 0 and rows.max() < 100_000
    assert all(len(torch.unique(r)) == 256 for r in rows)
    # Roughly uniform over the index range (each decile gets about a tenth of the draws).
    share = np.bincount(rows.numpy().ravel() // 10_000, minlength=10) / rows.numel()
    np.testing.assert_allclose(share, 0.1, atol=0.01)
    small = _sample_rows(300, 256, 50, gen)
    assert all(len(torch.unique(r)) == 256 for r in small)


def test_duplicate_heavy_data_gives_finite_consistent_scores(rng):
    X = np.r_[np.zeros((1000, 3)), np.full((300, 3), 0.25), rng.normal(size=(6, 3))]
    for threshold in ("box", "range"):
        for extension_level in (0, 1, 2):
            model = EIF(threshold=threshold, extension_level=extension_level, random_state=0).fit(X)
            scores = model.decision_scores_
            assert np.all(np.isfinite(scores))
            assert np.unique(scores[:1000]).size == 1 and np.unique(scores[1000:1300]).size == 1
            assert scores[-6:].min() > scores[:1300].max()
            # The copies take the same path when scored as new data, one at a time or all together.
            np.testing.assert_array_equal(model.score_samples(X[[0, 1000]]), scores[[0, 1000]])
            np.testing.assert_array_equal(model.set_params(batch_size=1).score_samples(X[:3]), scores[:3])


def test_constant_data_is_finite():
    model = EIF(n_estimators=10, random_state=0).fit(np.ones((50, 4)))
    assert np.all(np.isfinite(model.decision_scores_))
    assert np.unique(model.decision_scores_).size == 1


# ---------------------------------------------------------------------------- the contract
def test_detector_contract(rng):
    X, _ = blob_with_outliers(rng)
    model = EIF(n_estimators=50, random_state=0)
    assert model.fit(X) is model
    assert model.n_features_in_ == 4 and model.device_.split(":")[0] in ("cpu", "cuda")
    assert model.threshold_ == pytest.approx(np.percentile(model.decision_scores_, 90))
    np.testing.assert_array_equal(model.labels_, (model.decision_scores_ > model.threshold_).astype(np.int64))
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert clone(model).get_params() == model.get_params()
    tensor_scores = model.score_samples(torch.from_numpy(X))
    assert torch.is_tensor(tensor_scores)
    np.testing.assert_array_equal(tensor_scores.numpy(), model.decision_scores_)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.score_samples(X), model.decision_scores_)
    with pytest.raises(InvalidInputError, match="features"):
        model.score_samples(X[:, :3])


def test_one_feature_and_small_samples(rng):
    X = rng.normal(size=(40, 1))
    model = EIF(n_estimators=20, random_state=0).fit(X)
    assert model.extension_level_ == 0 and model.max_samples_ == 40 and model.max_depth_ == 6
    model = EIF(n_estimators=20, max_samples=0.5, random_state=0).fit(X)
    assert model.max_samples_ == 20 and model.max_depth_ == 5


@pytest.mark.parametrize("params, match", [
    ({"extension_level": 4}, r"extension_level must be None or an integer in \[0, n_features - 1\] = \[0, 3\]"),
    ({"extension_level": -1}, "extension_level"),
    ({"extension_level": 1.0}, "extension_level"),
    ({"n_estimators": 0}, "n_estimators must be an integer >= 1"),
    ({"n_estimators": 2.5}, "n_estimators"),
    ({"max_samples": 0}, "max_samples must be 'auto'"),
    ({"max_samples": 1.5}, "max_samples"),
    ({"max_samples": "all"}, "max_samples"),
    ({"max_samples": 1}, "at least 2 rows"),
    ({"threshold": "median"}, "threshold must be 'box'"),
    ({"max_depth": 0}, "max_depth must be 'auto' or an integer >= 1"),
    ({"max_depth": 40}, "GiB of node tables"),
    ({"dtype": "float16"}, "dtype must be 'float32' or 'float64'"),
    ({"batch_size": 0}, "batch_size must be None or an integer >= 1"),
    ({"device": "tpu:7"}, "device"),
    ({"contamination": 0.7}, "contamination"),
])
def test_parameter_errors(rng, params, match):
    X = rng.normal(size=(30, 4))
    with pytest.raises(InvalidInputError, match=match):
        EIF(**params).fit(X)


def test_a_single_row_is_refused():
    with pytest.raises(InvalidInputError, match="at least 2 rows"):
        EIF().fit(np.zeros((1, 3)))


def test_values_beyond_float32_need_float64():
    X = np.r_[np.zeros((10, 2)), [[1e39, 0.0]]]
    with pytest.raises(InvalidInputError, match="float64"):
        EIF(n_estimators=5).fit(X)
    assert np.all(np.isfinite(EIF(n_estimators=5, dtype="float64", random_state=0).fit(X).decision_scores_))


# ---------------------------------------------------------------------------- devices
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng):
    X, y = mixture(rng, n=3000)
    cpu = EIF(n_estimators=200, random_state=0, device="cpu").fit(X)
    gpu = EIF(n_estimators=200, random_state=0, device="cuda").fit(X)
    assert gpu.device_.startswith("cuda")
    # Same random draws on both; only the rounding of min/max-free projections may differ, so the forests
    # and their scores agree almost everywhere and the ranking quality is the same. The path lengths are
    # summed over the trees in another order on the GPU, so equal forests give scores equal to rounding.
    assert abs(roc_auc_score(y, cpu.decision_scores_) - roc_auc_score(y, gpu.decision_scores_)) < 0.005
    same = np.isclose(cpu.decision_scores_, gpu.decision_scores_, rtol=1e-12, atol=0)
    worst = np.max(np.abs(cpu.decision_scores_ - gpu.decision_scores_))
    assert same.mean() > 0.99, f"{same.mean():.4f} of the scores agree to 1e-12; largest difference {worst:.3g}"
    np.testing.assert_allclose(gpu.score_samples(X[:100]), gpu.decision_scores_[:100])
