"""Neural reducers (ae, vae, conv1d/conv2d ae/vae): training, determinism, shapes, DRAMA integration, errors."""

import warnings

import numpy as np
import pytest
import torch

from drama2 import Drama
from drama2.errors import InvalidInputError, TrainingDivergedError
from drama2.reducers.neural import (AutoEncoder, Conv1dAutoEncoder, Conv1dVariationalAutoEncoder, Conv2dAutoEncoder,
                                    Conv2dVariationalAutoEncoder, VariationalAutoEncoder)
from drama2.registry import get_registry

FAST = dict(max_epochs=15, random_state=0)
DENSE = [AutoEncoder, VariationalAutoEncoder]
CONV1D = [Conv1dAutoEncoder, Conv1dVariationalAutoEncoder]
CONV2D = [Conv2dAutoEncoder, Conv2dVariationalAutoEncoder]
NEURAL_NAMES = ["ae", "vae", "conv1d-ae", "conv1d-vae", "conv2d-ae", "conv2d-vae"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def low_rank(rng, n=600, d=12, rank=2):
    """Rows on a curved rank-``rank`` manifold plus a little noise."""
    t = 2 * rng.normal(size=(n, rank))
    basis = rng.normal(size=(rank, d))
    return np.tanh(t @ basis) + 0.01 * rng.normal(size=(n, d))


def signals(rng, n=200, length=48):
    x = np.linspace(0, 1, length)
    phase = rng.uniform(0, 1, (n, 1))
    return np.sin(2 * np.pi * (3 * x + phase)) + 0.05 * rng.normal(size=(n, length))


def images(rng, n=160, h=9, w=7):
    yy, xx = np.mgrid[:h, :w]
    centres = rng.uniform(2, 5, (n, 2))
    return np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 3.0)


@pytest.mark.parametrize("name", NEURAL_NAMES + ["umap"])
def test_registered_by_name(name):
    assert get_registry().get("reducers", name).name == name


@pytest.mark.parametrize("cls,params,bound", [(AutoEncoder, {"prior_weight": 0}, 0.6), (AutoEncoder, {}, 0.9),
                                              (VariationalAutoEncoder, {}, 1.5)])
def test_dense_models_learn_the_manifold(cls, params, bound, rng):
    X = low_rank(rng)
    model = cls(n_components=2, max_epochs=150, random_state=0, **params).fit(X)
    relative_error = np.mean((model.reconstruct(X) - X) ** 2) / X.var()
    # PCA with 2 components leaves this much of the variance of the curved data unexplained:
    centred = X - X.mean(0)
    s = np.linalg.svd(centred, compute_uv=False)
    pca_error = (s[2:] ** 2).sum() / (s ** 2).sum()
    # The AE must beat PCA on curved data; its latent prior and the VAE's KL term cost some reconstruction.
    assert relative_error < bound * pca_error, (relative_error, pca_error)
    assert model.transform(X).shape == (len(X), 2)


@pytest.mark.parametrize("cls", DENSE + CONV1D)
def test_same_seed_same_output_and_global_rng_untouched(cls, rng):
    X = signals(rng, n=120, length=16)
    state = torch.get_rng_state()
    a = cls(**FAST).fit(X)
    b = cls(**FAST).fit(X)
    assert torch.equal(state, torch.get_rng_state()), "training must not consume the global torch RNG"
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.inverse_transform(a.transform(X[:3])), b.inverse_transform(b.transform(X[:3])))
    c = cls(**{**FAST, "random_state": 1}).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("cls", [VariationalAutoEncoder, Conv1dVariationalAutoEncoder])
def test_vae_transform_is_the_posterior_mean(cls, rng):
    X = signals(rng, n=100, length=16)
    model = cls(**FAST).fit(X)
    np.testing.assert_array_equal(model.transform(X), model.transform(X))
    with torch.no_grad():
        mean, _ = model.network_.posterior(torch.as_tensor(model._standardise(X), dtype=torch.float32,
                                                           device=model.device_))
    np.testing.assert_allclose(model.transform(X), mean.double().cpu().numpy(), rtol=1e-6)


def test_early_stopping_keeps_the_best_epoch(rng):
    X = low_rank(rng, n=300)
    # No latent prior: its random projections would make the recomputed loss below differ.
    model = AutoEncoder(prior_weight=0, max_epochs=400, patience=3, learning_rate=3e-2, random_state=0).fit(X)
    assert model.stop_reason_ == "early_stopping"
    assert model.n_epochs_ == model.best_epoch_ + 3
    best = model.history_["val_loss"][model.best_epoch_ - 1]
    assert best == min(model.history_["val_loss"])
    # The kept weights are the best epoch's: recomputing the validation loss gives that value back.
    assert len(model.validation_rows_) == int(np.ceil(0.1 * len(X)))
    val = torch.as_tensor(model._standardise(X[model.validation_rows_]).astype(np.float32), device=model.device_)
    assert model._mean_loss(model.network_, val, None) == pytest.approx(best, rel=1e-5)


def test_time_budget_and_max_epochs(rng):
    X = low_rank(rng, n=200)
    assert AutoEncoder(max_epochs=3, patience=50, random_state=0).fit(X).n_epochs_ == 3
    model = AutoEncoder(max_epochs=1000, patience=1000, time_budget=1e-6, random_state=0).fit(X)
    assert (model.stop_reason_, model.n_epochs_) == ("time_budget", 1)


def test_no_validation_monitors_training_loss(rng):
    X = low_rank(rng, n=50)
    model = AutoEncoder(validation_fraction=0, **FAST).fit(X)
    assert model.history_["val_loss"] == [] and len(model.history_["train_loss"]) == model.n_epochs_


@pytest.mark.parametrize("cls", CONV1D)
@pytest.mark.parametrize("shaped", [False, True])
def test_conv1d_shapes_round_trip(cls, shaped, rng):
    X = signals(rng, n=80, length=37)  # odd length: decoding must crop back exactly
    data = X[:, None, :] if shaped else X
    model = cls(**FAST).fit(data)
    Z = model.transform(data)
    assert Z.shape == (80, 2)
    assert model.inverse_transform(Z).shape == data.shape
    if shaped:  # flat rows of the right length are accepted too
        np.testing.assert_allclose(model.transform(X), Z)


@pytest.mark.parametrize("cls", CONV2D)
@pytest.mark.parametrize("layout", ["hw", "chw", "flat"])
def test_conv2d_shapes_round_trip(cls, layout, rng):
    imgs = images(rng)  # 9 x 7: not square, not a power of two
    data = {"hw": imgs, "chw": imgs[:, None], "flat": imgs.reshape(len(imgs), -1)}[layout]
    model = cls(image_shape=(9, 7) if layout == "flat" else None, **FAST).fit(data)
    assert model.sample_shape_ == (1, 9, 7)
    assert model.inverse_transform(model.transform(data)).shape == data.shape


def test_conv2d_recognises_square_flat_rows(rng):
    flat = rng.normal(size=(60, 64))
    assert Conv2dAutoEncoder(max_epochs=1, random_state=0).fit(flat).sample_shape_ == (1, 8, 8)
    with pytest.raises(InvalidInputError, match="image_shape"):
        Conv2dAutoEncoder(max_epochs=1).fit(rng.normal(size=(60, 63)))


def test_image_shape_must_agree_with_shaped_samples(rng):
    imgs = images(rng)
    assert Conv2dAutoEncoder(image_shape=(9, 7), **FAST).fit(imgs).sample_shape_ == (1, 9, 7)
    # image_shape is for flat rows; silently ignoring a different one would hide a mix-up of inputs.
    with pytest.raises(InvalidInputError, match=r"image_shape=\(7, 9\) but the samples have shape \(9, 7\)"):
        Conv2dAutoEncoder(image_shape=(7, 9), **FAST).fit(imgs)


@pytest.mark.parametrize("name", NEURAL_NAMES + ["umap"])
def test_through_drama(name, rng):
    X = np.r_[rng.normal(0, 1, (150, 16)), rng.normal(0, 1, (150, 16)) + 3, rng.normal(0, 1, (6, 16)) + 12]
    params = {"n_neighbors": 10} if name == "umap" else {"max_epochs": 20}
    model = Drama(reducer=name, metric="l2", reducer_params=params, random_state=0).fit(X)
    scores = model.decision_scores_
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    assert set(np.argsort(scores)[-6:]) == set(range(300, 306)), "the far cluster must score highest"


def test_drama_passes_its_device_to_neural_reducers(rng, monkeypatch):
    seen = {}
    original = AutoEncoder._train

    def spy(self, X):
        seen["device"] = self.device
        return original(self, X)

    monkeypatch.setattr(AutoEncoder, "_train", spy)
    Drama(reducer="ae", device="cpu", reducer_params={"max_epochs": 2}, random_state=0).fit(rng.normal(size=(60, 4)))
    assert seen["device"] == "cpu"


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls,bad", [(Conv1dAutoEncoder, np.zeros((4, 2, 3, 5))),
                                     (Conv2dAutoEncoder, np.zeros((10, 4, 4, 4, 1))),
                                     (Conv2dAutoEncoder, np.zeros(10))])
def test_wrong_rank_for_conv_models(cls, bad):
    with pytest.raises(InvalidInputError, match="expects"):
        cls().fit(bad)


def test_images_of_inconsistent_size():
    with pytest.raises(InvalidInputError, match="same shape"):
        Conv2dAutoEncoder().fit([np.zeros((8, 8)), np.zeros((8, 9))])


def test_transform_with_other_sample_shape(rng):
    model = Conv2dAutoEncoder(max_epochs=1, random_state=0).fit(rng.normal(size=(40, 6, 6)))
    with pytest.raises(InvalidInputError, match="fitted on samples of shape"):
        model.transform(rng.normal(size=(5, 4, 9)))


@pytest.mark.parametrize("cls", DENSE + CONV1D)
def test_nan_is_rejected(cls, rng):
    X = rng.normal(size=(50, 16))
    X[3, 4] = np.nan
    with pytest.raises(InvalidInputError, match="NaN|finite"):
        cls().fit(X)


@pytest.mark.parametrize("cls", DENSE + CONV1D + CONV2D)
def test_latent_larger_than_input(cls, rng):
    with pytest.raises(InvalidInputError, match="n_components"):
        cls(n_components=20).fit(rng.normal(size=(50, 16)))


def test_too_few_rows_for_a_validation_split(rng):
    with pytest.raises(InvalidInputError, match="validation_fraction=0"):
        AutoEncoder(n_components=1).fit(rng.normal(size=(2, 3)))
    AutoEncoder(n_components=1, validation_fraction=0, max_epochs=2).fit(rng.normal(size=(2, 3)))


def test_a_run_that_blows_up_without_nan_warns(rng):
    X = rng.normal(size=(300, 6))
    # A learning rate far too high blows the loss up without making it NaN: the model is no better than random.
    with pytest.warns(RuntimeWarning, match="training blew up") as caught:
        model = AutoEncoder(learning_rate=1.0, max_epochs=5, random_state=0).fit(X)
    assert min(model.history_["val_loss"]) > 2 * model.initial_loss_
    assert "learning_rate (now 1.0)" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = AutoEncoder(max_epochs=5, random_state=0).fit(X)
    assert min(model.history_["val_loss"]) < model.initial_loss_


@pytest.mark.parametrize("cls", DENSE)
def test_divergence_names_the_epoch(cls, rng):
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        cls(learning_rate=1e30, random_state=0).fit(rng.normal(size=(100, 5)))


@pytest.mark.parametrize("params,match", [({"max_epochs": 0}, "max_epochs"), ({"batch_size": 2.5}, "batch_size"),
                                          ({"learning_rate": -1}, "learning_rate"),
                                          ({"validation_fraction": 0.7}, "validation_fraction"),
                                          ({"time_budget": 0}, "time_budget"), ({"activation": "swish"}, "activation"),
                                          ({"hidden_sizes": (8, -1)}, "hidden_sizes"), ({"beta": -1}, "beta"),
                                          ({"init": "zeros"}, "init")])
def test_bad_parameters(params, match, rng):
    with pytest.raises(InvalidInputError, match=match):
        VariationalAutoEncoder(**params).fit(rng.normal(size=(30, 4)))


@pytest.mark.parametrize("cls", [AutoEncoder, Conv1dAutoEncoder, Conv2dAutoEncoder])
@pytest.mark.parametrize("weight", [-1, "0.1", True])
def test_bad_prior_weight(cls, weight, rng):
    with pytest.raises(InvalidInputError, match="prior_weight must be a number >= 0"):
        cls(prior_weight=weight).fit(rng.normal(size=(30, 16)))


def test_sliced_wasserstein_matches_the_closed_form_for_a_normal():
    from drama2.neural.priors import sliced_wasserstein_to_normal

    # Along a unit direction θ, N(μ, s² I) projects to N(θ·μ, s²), whose squared 2-Wasserstein distance to
    # N(0, 1) is (θ·μ)² + (s - 1)²; over uniform directions in k dimensions the mean is |μ|²/k + (s - 1)².
    generator = torch.Generator().manual_seed(0)
    mu, s = torch.tensor([1.0, -2.0], dtype=torch.float64), 1.5
    codes = mu + s * torch.randn(40_000, 2, generator=generator, dtype=torch.float64)
    value = sliced_wasserstein_to_normal(codes, generator, n_projections=4000)
    assert float(value) == pytest.approx(5.0 / 2 + 0.25, rel=0.03)
    standard = torch.randn(40_000, 3, generator=generator, dtype=torch.float64)
    assert float(sliced_wasserstein_to_normal(standard, generator)) < 1e-3


def _sliced_distance_to_normal(codes: np.ndarray) -> float:
    """The same distance, computed independently: fixed directions on the circle, scipy's normal quantiles."""
    from scipy.stats import norm

    angles = np.linspace(0, np.pi, 90, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    projected = np.sort(codes @ directions.T, axis=0)
    quantiles = norm.ppf((np.arange(len(codes)) + 0.5) / len(codes))
    return float(np.mean((projected - quantiles[:, None]) ** 2))


def test_the_latent_prior_pulls_the_codes_towards_a_standard_normal(rng):
    X = low_rank(rng)
    X[:60] += 3.0  # a compact group away from the rest, which a free autoencoder may set apart
    free = AutoEncoder(prior_weight=0, max_epochs=60, random_state=0).fit(X).transform(X)
    pulled = AutoEncoder(prior_weight=1.0, max_epochs=60, random_state=0).fit(X).transform(X)
    assert _sliced_distance_to_normal(pulled) < 0.2
    assert _sliced_distance_to_normal(pulled) < 0.5 * _sliced_distance_to_normal(free)


@pytest.mark.parametrize("cls", [AutoEncoder, Conv2dAutoEncoder])
def test_failed_fit_keeps_the_previous_model(cls, rng):
    X = rng.normal(size=(80, 16))
    model = cls(**FAST).fit(X)
    before = model.transform(X)
    model.set_params(learning_rate=1e30)
    with pytest.raises(TrainingDivergedError):
        # Other data (and, for the conv model, another sample shape) must not leak into the kept model.
        model.fit(10 * rng.normal(size=(80, 16) if cls is AutoEncoder else (80, 4, 4)) + 5)
    np.testing.assert_array_equal(model.transform(X), before)


# ------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("cls", DENSE + CONV1D)
def test_cuda_is_deterministic_and_as_good_as_cpu(cls, rng):
    X = signals(rng, n=300, length=24)
    a = cls(device="cuda", **FAST).fit(X)
    b = cls(device="cuda", **FAST).fit(X)
    assert a.device_.startswith("cuda")
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-5, atol=1e-6)
    cpu = cls(device="cpu", **FAST).fit(X)
    err = lambda m: np.mean((m.reconstruct(X) - X) ** 2)  # noqa: E731
    assert err(a) < 1.5 * err(cpu) + 1e-3
    assert a.cuda_graph_steps_ > 0 and cpu.cuda_graph_steps_ == 0  # full batches replayed from a CUDA graph


class _CaptureBreakingVAE(VariationalAutoEncoder):
    """A VAE whose loss reads a value back to the host, which no CUDA graph capture allows."""

    def _loss(self, network, batch, generator, target=None):
        loss = super()._loss(network, batch, generator, target)
        if torch.cuda.is_current_stream_capturing():
            loss.item()
        return loss


@pytest.mark.gpu
def test_a_failed_cuda_graph_capture_trains_on_step_by_step(rng):
    X = signals(rng, n=300, length=24)
    with pytest.warns(RuntimeWarning, match="could not capture the training step"):
        broken = _CaptureBreakingVAE(device="cuda", **FAST).fit(X)
    assert broken.cuda_graph_steps_ == 0 and np.isfinite(broken.history_["train_loss"]).all()
    assert np.isfinite(broken.transform(X)).all()
    # The process is left as it was: the default stream is current again and the next fit captures.
    assert torch.cuda.current_stream() == torch.cuda.default_stream()
    assert VariationalAutoEncoder(device="cuda", **FAST).fit(X).cuda_graph_steps_ > 0


@pytest.mark.gpu
def test_repeated_cuda_fits_do_not_hold_on_to_device_memory(rng):
    import gc

    X = signals(rng, n=300, length=24)
    AutoEncoder(device="cuda", **FAST).fit(X)  # the first fit makes the side stream and its workspace
    gc.collect()
    before = torch.cuda.memory_allocated()
    for _ in range(4):
        AutoEncoder(device="cuda", **FAST).fit(X)
    gc.collect()
    assert torch.cuda.memory_allocated() - before < 2**20


@pytest.mark.gpu
@pytest.mark.parametrize("cls", [AutoEncoder, Conv1dAutoEncoder])
def test_cuda_graph_steps_train_like_step_by_step(cls, rng, monkeypatch):
    X = signals(rng, n=300, length=24)
    graphed = cls(device="cuda", **FAST).fit(X)
    monkeypatch.setenv("DRAMA2_CUDA_GRAPHS", "0")
    eager = cls(device="cuda", **FAST).fit(X)
    assert graphed.cuda_graph_steps_ > 0 and eager.cuda_graph_steps_ == 0
    # The same kernels on the same batches: the two trainings follow each other to float32 rounding.
    np.testing.assert_allclose(graphed.history_["train_loss"], eager.history_["train_loss"], rtol=1e-3)
    np.testing.assert_allclose(graphed.transform(X), eager.transform(X), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("cls", DENSE)
def test_pca_init_starts_at_the_pca_solution(cls, rng):
    from sklearn.decomposition import PCA

    X = low_rank(rng, n=300)
    model = cls(n_components=2, init="pca", max_epochs=1, learning_rate=1e-12, random_state=0).fit(X)
    Xs = model._standardise(X)
    pca = PCA(2).fit(Xs)
    Z = model.transform(X)
    # Codes span PCA's projection (up to the sign of each component) and decode to PCA's reconstruction.
    np.testing.assert_allclose(np.abs(Z), np.abs(pca.transform(Xs)), atol=1e-3)
    np.testing.assert_allclose(model._standardise(model.inverse_transform(Z)),
                               pca.inverse_transform(pca.transform(Xs)), atol=1e-3)


def test_pca_init_reconstructs_at_least_as_well_as_pca(rng):
    X = low_rank(rng)
    model = AutoEncoder(n_components=2, init="pca", max_epochs=30, random_state=0).fit(X)
    Xs = model._standardise(X)
    centred = Xs - Xs.mean(0)
    s = np.linalg.svd(centred, compute_uv=False)
    pca_error = (s[2:] ** 2).sum() / Xs.size
    assert np.mean((model._standardise(model.reconstruct(X)) - Xs) ** 2) <= pca_error
