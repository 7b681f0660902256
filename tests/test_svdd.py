"""MCDSVDD and Deep SVDD: scores, centres, class-balanced sampling, labels, determinism."""

import pickle

import numpy as np
import pytest

from drama2.errors import InvalidInputError
from drama2.evaluation import auc
from drama2.scorers.svdd import DeepSVDD, MCDSVDD, clip_centres

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = dict(hidden_sizes=(64, 32), n_components=8, max_epochs=15, patience=5, device="cpu")


def _blobs(seed=0, n=150, d=10):
    """Three Gaussian inlier classes in d dimensions and a fourth class as the anomalies (the seed draws rows)."""
    means = np.random.default_rng(0).normal(0.0, 4.0, (4, d))
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(m, 1.0, (n, d)) for m in means])
    classes = np.repeat(np.arange(4), n)
    return X[classes < 3], classes[classes < 3], X[classes == 3]


@pytest.fixture(scope="module")
def blobs():
    return _blobs()


@pytest.fixture(scope="module")
def fitted(blobs):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    X, classes, _ = blobs
    mc = MCDSVDD(random_state=0, **SMALL).fit(X, classes)
    deep = DeepSVDD(random_state=0, **SMALL).fit(X)
    torch.set_num_threads(previous)
    return mc, deep


def test_held_out_class_scores_higher(blobs, fitted):
    X, _, _ = blobs
    inliers, _, anomalies = _blobs(seed=1, n=50)  # fresh rows of the same classes
    far = np.random.default_rng(1).normal(0.0, 1.0, (20, X.shape[1])) + 25.0
    y = np.r_[np.zeros(len(inliers)), np.ones(len(anomalies))]
    for model in fitted:
        scores = model.score_samples(np.vstack([inliers, anomalies]))
        assert auc(y, scores) > 0.9, type(model).__name__
        assert model.score_samples(far).min() > model.decision_scores_.max()


def test_score_is_squared_distance_to_nearest_centre(blobs, fitted):
    import torch

    X, _, anomalies = blobs
    data = np.vstack([X[:50], anomalies[:50]])
    for model in fitted:
        with torch.no_grad():
            codes = model.network_.encoder(torch.as_tensor((data - model.mean_) / model.scale_,
                                                           dtype=torch.float32)).double().numpy()
        expected = ((codes[:, None, :] - model.centres_[None]) ** 2).sum(axis=2).min(axis=1)
        np.testing.assert_allclose(model.score_samples(data), expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(model.embed(data), codes, rtol=1e-6, atol=1e-7)
        assert np.allclose(model.network_.centres.double().numpy(), model.centres_, atol=1e-6)


def test_mcdsvdd_fitted_attributes(blobs, fitted):
    X, classes, _ = blobs
    mc, _ = fitted
    assert mc.centres_.shape == (3, 8)
    assert mc.classes_.tolist() == [0, 1, 2] and mc.clustered_ is False
    assert mc.decision_scores_.shape == (len(X),) and mc.labels_.mean() == pytest.approx(0.1, abs=0.02)
    assert len(mc.pretrain_history_["train_loss"]) == mc.pretrain_n_epochs_ >= 1
    assert len(mc.history_["val_loss"]) == mc.n_epochs_ >= 1
    assert not hasattr(mc, "_y_classes")
    # each training row is closest to its own class's centre
    codes = mc.embed(X)
    nearest = ((codes[:, None, :] - mc.centres_[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (nearest == classes).mean() > 0.95


def test_centre_clipping_rule(fitted):
    c = clip_centres(np.array([[0.0, 0.005, -0.005, 0.02, -0.3, -0.0]]), 0.01)
    np.testing.assert_array_equal(c, [[0.01, 0.01, -0.01, 0.02, -0.3, 0.01]])
    mc, deep = fitted
    assert np.abs(mc.centres_).min() >= 0.01
    assert np.abs(deep.centres_).min() >= 0.1 and deep.centres_.shape == (1, 8)


def test_centres_are_clipped_class_means_of_the_pretrained_codes(blobs, monkeypatch):
    """Spy on the second training phase: the centres it gets are the clipped means of the codes it starts from."""
    from drama2.scorers import svdd

    X, classes, _ = blobs
    seen = {}
    original = svdd._SVDDBase._train

    def spy(self, Xs, targets=None, network=None, seed_offset=0):
        if network is not None:
            codes = self._infer(lambda net, x: net.encode(x), Xs)  # network_: the pre-trained autoencoder
            seen["expected"] = clip_centres(np.stack([codes[targets == k].mean(axis=0) for k in range(3)]), 0.01)
            seen["centres"] = network.centres.double().numpy().copy()
        return original(self, Xs, targets=targets, network=network, seed_offset=seed_offset)

    monkeypatch.setattr(svdd._SVDDBase, "_train", spy)
    params = dict(SMALL, max_epochs=2)
    MCDSVDD(random_state=3, **params).fit(X, classes)
    np.testing.assert_allclose(seen["centres"], seen["expected"], rtol=1e-5, atol=1e-6)


def test_class_balanced_sampling():
    import torch

    targets = torch.as_tensor(np.r_[np.zeros(950, dtype=np.int64), np.ones(50, dtype=np.int64)])
    generator = torch.Generator().manual_seed(0)
    order = MCDSVDD()._epoch_order(1000, targets, generator)
    assert order.shape == (1000,)
    share = targets[order].float().mean().item()
    assert 0.45 < share < 0.55
    # every row of the small class is visited, rows of the big class are drawn about 0.5 times each
    assert np.unique(order[targets[order] == 1].numpy()).size == 50
    # without balancing, or with a single centre, an epoch is a permutation
    plain = MCDSVDD(class_balanced=False)._epoch_order(1000, targets, generator)
    assert sorted(plain.tolist()) == list(range(1000))
    single = DeepSVDD()._epoch_order(1000, torch.zeros(1000, dtype=torch.int64), generator)
    assert sorted(single.tolist()) == list(range(1000))


def test_deterministic_for_a_seed(blobs):
    X, classes, anomalies = blobs
    params = dict(SMALL, max_epochs=3)
    a = MCDSVDD(random_state=7, **params).fit(X, classes).score_samples(anomalies)
    b = MCDSVDD(random_state=7, **params).fit(X, classes).score_samples(anomalies)
    np.testing.assert_array_equal(a, b)
    c = DeepSVDD(random_state=7, **params).fit(X).score_samples(anomalies)
    d = DeepSVDD(random_state=7, **params).fit(X).score_samples(anomalies)
    np.testing.assert_array_equal(c, d)
    e = DeepSVDD(random_state=8, **params).fit(X).score_samples(anomalies)
    assert not np.array_equal(c, e)


def test_label_errors(blobs):
    X, classes, _ = blobs
    model = MCDSVDD(random_state=0, **SMALL)
    with pytest.raises(InvalidInputError, match="at least 2 inlier classes.*deepsvdd.*omit y_classes"):
        model.fit(X, np.zeros(len(X)))
    with pytest.raises(InvalidInputError, match="449 labels but X has 450 rows"):
        model.fit(X, classes[:-1])
    lonely = classes.copy()
    lonely[0] = 9
    with pytest.raises(InvalidInputError, match=r"classes \[9\] have fewer than 2 rows"):
        model.fit(X, lonely)
    assert not hasattr(model, "decision_scores_") and not hasattr(model, "_y_classes")
    with pytest.raises(InvalidInputError, match="n_clusters"):
        MCDSVDD(n_clusters=1).fit(X)
    with pytest.raises(InvalidInputError, match=f"n_clusters={len(X) + 1} needs at least {len(X) + 1} rows"):
        MCDSVDD(n_clusters=len(X) + 1).fit(X)
    with pytest.raises(InvalidInputError, match="pretrain_epochs"):
        DeepSVDD(pretrain_epochs=-1).fit(X)


def test_failed_fit_keeps_the_previous_fit(blobs):
    X, classes, anomalies = blobs
    model = MCDSVDD(random_state=0, **dict(SMALL, max_epochs=2)).fit(X, classes)
    before = model.score_samples(anomalies)
    with pytest.raises(InvalidInputError):
        model.fit(X, np.zeros(len(X)))
    np.testing.assert_array_equal(model.score_samples(anomalies), before)
    assert model.classes_.tolist() == [0, 1, 2]


def test_string_labels_and_pickle(blobs):
    X, classes, anomalies = blobs
    names = np.array(["cat", "dog", "emu"])[classes]
    model = MCDSVDD(random_state=0, **dict(SMALL, max_epochs=2, pretrain_epochs=0)).fit(X, names.tolist())
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    assert model.pretrain_history_ == {"train_loss": [], "val_loss": []}
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.score_samples(anomalies), model.score_samples(anomalies))


def test_without_labels_clusters_the_latent_codes(blobs):
    X, _, anomalies = blobs
    model = MCDSVDD(random_state=0, **SMALL).fit(X)
    assert model.clustered_ and model.n_clusters_ == 3 and max(model.silhouette_, key=model.silhouette_.get) == 3
    assert model.centres_.shape == (3, 8) and model.classes_.tolist() == [0, 1, 2]
    y = np.r_[np.zeros(len(X)), np.ones(len(anomalies))]
    assert auc(y, model.score_samples(np.vstack([X, anomalies]))) > 0.9
    fixed = MCDSVDD(n_clusters=4, random_state=0, **dict(SMALL, max_epochs=2)).fit(X)
    assert fixed.n_clusters_ == 4 and not hasattr(fixed, "silhouette_")


def test_deepsvdd_has_no_bias_and_non_affine_batch_norm(fitted):
    from torch import nn

    _, deep = fitted
    modules = list(deep.network_.modules())
    assert any(isinstance(m, nn.BatchNorm1d) for m in modules)
    for m in modules:
        if isinstance(m, nn.Linear):
            assert m.bias is None
        if isinstance(m, nn.BatchNorm1d):
            assert not m.affine
    assert not any("bias" in name for name, _ in deep.network_.named_parameters())
    # MCDSVDD keeps biases in the hidden layers but not in the last one
    mc, _ = fitted
    linears = [m for m in mc.network_.modules() if isinstance(m, nn.Linear)]
    assert all(m.bias is not None for m in linears[:-1]) and linears[-1].bias is None


def test_duplicate_heavy_data_does_not_crash():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 6))
    X = np.vstack([base[rng.integers(0, 3, 120)], rng.normal(size=(2, 6))])
    X[:, 0] = 5.0  # a constant column too
    params = dict(SMALL, max_epochs=3)
    for model in (MCDSVDD(random_state=0, **params), DeepSVDD(random_state=0, **params)):
        model.fit(X)
        assert np.isfinite(model.score_samples(X)).all()
    same = np.ones((50, 4))
    with pytest.warns(UserWarning, match="distinct"):
        model = MCDSVDD(random_state=0, **params).fit(same)
    assert model.n_clusters_ == 1 and np.isfinite(model.decision_scores_).all()
    classes = np.repeat([0, 1], 25)
    assert np.isfinite(MCDSVDD(random_state=0, **params).fit(same, classes).decision_scores_).all()


def test_sklearn_parameters():
    from sklearn.base import clone

    model = MCDSVDD(n_components=4, hidden_sizes=(8,), random_state=3)
    params = clone(model).get_params()
    assert params["n_components"] == 4 and params["hidden_sizes"] == (8,) and params["learning_rate"] == 5e-4
    assert set(DeepSVDD().get_params()) == set(MCDSVDD().get_params()) - {"n_clusters", "class_balanced"}
    for doc in (MCDSVDD.__doc__, DeepSVDD.__doc__):
        assert "Parameters\n    ----------" in doc and "Attributes\n    ----------" in doc
        assert "learning_rate : float, default 5e-4" in doc and "in the hypersphere phase" in doc


@pytest.mark.gpu
def test_quick_cuda_fit(blobs):
    X, classes, anomalies = blobs
    model = MCDSVDD(random_state=0, **dict(SMALL, max_epochs=3, device="cuda")).fit(X, classes)
    assert model.device_.startswith("cuda") and model.network_.centres.is_cuda and model.cuda_graph_steps_ > 0
    scores = model.score_samples(anomalies)
    assert scores.shape == (len(anomalies),) and np.isfinite(scores).all()
    deep = DeepSVDD(random_state=0, **dict(SMALL, max_epochs=3, device="cuda")).fit(X)
    assert np.isfinite(deep.score_samples(anomalies)).all()
