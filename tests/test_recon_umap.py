"""The ae-recon scorer and the umap reducer."""

import numpy as np
import pytest

from drama2.errors import InvalidInputError
from drama2.evaluation import auc
from drama2.registry import get_registry
from drama2.scorers.recon import AERecon


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def plane_with_outliers(rng, n=400, d=10):
    """Inliers on a 2-D plane in 10-D; outliers off the plane but inside the inliers' range."""
    basis = rng.normal(size=(2, d))
    inliers = rng.normal(size=(n, 2)) @ basis + 0.01 * rng.normal(size=(n, d))
    outliers = rng.normal(size=(8, d)) * inliers.std(0)
    return np.r_[inliers, outliers], np.r_[np.zeros(n, int), np.ones(8, int)]


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_reconstruction_error_finds_off_manifold_points(model, rng):
    X, y = plane_with_outliers(rng)
    detector = AERecon(model=model, n_components=2, model_params={"max_epochs": 60}, random_state=0).fit(X)
    assert auc(y, detector.decision_scores_) > 0.95
    # The score is the standardised reconstruction distance.
    expected = np.sqrt((((X - detector.model_.reconstruct(X)) / detector.model_.scale_) ** 2).sum(1))
    np.testing.assert_allclose(detector.score_samples(X), expected, rtol=1e-10)
    assert detector.predict(X).sum() == pytest.approx(0.1 * len(X), abs=2)


def test_registered_and_built_like_other_scorers(rng):
    cls = get_registry().load("scorers", "ae-recon")
    X, _ = plane_with_outliers(rng, n=100)
    a = cls(model_params={"max_epochs": 5}, random_state=3).fit(X)
    b = cls(model_params={"max_epochs": 5}, random_state=3).fit(X)
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    assert a.model_.n_components == 2  # auto: max(2, min(16, 10 // 4))


def test_conv_model_on_signals(rng):
    x = np.linspace(0, 1, 32)
    X = np.sin(2 * np.pi * (2 * x + rng.uniform(0, 1, (200, 1)))) + 0.05 * rng.normal(size=(200, 32))
    X[-4:] = rng.normal(size=(4, 32))
    y = np.r_[np.zeros(196, int), np.ones(4, int)]
    detector = AERecon(model="conv1d-ae", n_components=2, model_params={"max_epochs": 40}, random_state=0).fit(X)
    assert auc(y, detector.decision_scores_) > 0.95


@pytest.mark.parametrize("params,match", [
    ({"model": "pca"}, "model must be"), ({"model_params": [1]}, "dict"),
    ({"model_params": {"max_epoch": 3}}, r"no parameter 'max_epoch' \(did you mean 'max_epochs'\?\)"),
    ({"model_params": {"n_components": 3}}, r"set AERecon\(n_components=\.\.\.\) instead"),
])
def test_bad_parameters(params, match, rng):
    with pytest.raises(InvalidInputError, match=match):
        AERecon(**params).fit(rng.normal(size=(30, 4)))


def test_umap_reducer(rng):
    pytest.importorskip("umap")
    from drama2.reducers.umap import UMAPReducer

    X = np.r_[rng.normal(0, 1, (100, 5)), rng.normal(8, 1, (100, 5))]
    reducer = UMAPReducer(n_neighbors=10, random_state=0).fit(X)
    Z = reducer.transform(X)
    assert Z.shape == (200, 2) and not reducer.has_inverse
    # Two well-separated blobs stay separated in the embedding.
    from sklearn.cluster import KMeans

    labels = KMeans(2, n_init=3, random_state=0).fit_predict(Z)
    assert {tuple(np.bincount(labels[:100], minlength=2)), tuple(np.bincount(labels[100:], minlength=2))} == \
        {(100, 0), (0, 100)}
    with pytest.raises(InvalidInputError, match="no inverse_transform"):
        reducer.inverse_transform(Z)
    with pytest.raises(InvalidInputError, match="n_neighbors"):
        UMAPReducer(n_neighbors=500).fit(X)


def test_ae_recon_trains_without_the_latent_prior_unless_asked(rng):
    X = rng.normal(size=(120, 6))
    fast = {"max_epochs": 2}
    assert AERecon(model="ae", model_params=fast, random_state=0).fit(X).model_.prior_weight == 0
    asked = AERecon(model="conv1d-ae", model_params={**fast, "prior_weight": 0.5}, random_state=0).fit(X)
    assert asked.model_.prior_weight == 0.5
    assert not hasattr(AERecon(model="vae", model_params=fast, random_state=0).fit(X).model_, "prior_weight")


@pytest.mark.parametrize("model,shape", [("conv2d-ae", (3, 8, 8)), ("conv2d-vae", (8, 8)), ("conv1d-ae", (2, 16))])
def test_convolutional_models_score_shaped_samples(model, shape, rng):
    X = rng.normal(size=(120, *shape))
    detector = AERecon(model=model, model_params={"max_epochs": 2}, random_state=0).fit(X)
    assert detector.sample_shape_ == shape and detector.model_.input_shape_ == shape
    # Shaped and flat rows are the same samples, so they get the same scores as the training scores.
    assert np.allclose(detector.score_samples(X), detector.decision_scores_)
    assert np.allclose(detector.score_samples(X.reshape(len(X), -1)), detector.decision_scores_)
    with pytest.raises(InvalidInputError, match="fitted on samples of shape"):
        detector.score_samples(X[:, :1] if len(shape) == 3 else X[..., :4])
