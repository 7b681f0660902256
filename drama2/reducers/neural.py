"""Neural reducers on torch: ae, vae, conv1d-ae, conv1d-vae, conv2d-ae and conv2d-vae.

Each reducer standardises its input (mean and standard deviation of the
training rows), trains with :class:`~drama2.neural.NeuralEstimator`'s loop
and maps back to data space with ``inverse_transform``, so DRAMA's
prototypes are decoded latent centroids in the original units.

The convolutional reducers also take shaped samples: ``(n, length)`` or
``(n, channels, length)`` in 1-D, ``(n, H, W)`` or ``(n, channels, H, W)`` in
2-D, and flat rows ``(n, H * W)`` with ``image_shape`` (square images are
recognised by themselves). ``inverse_transform`` returns the shape they were
fitted on.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from drama2.errors import InvalidInputError
from drama2.neural.priors import sliced_wasserstein_to_normal
from drama2.neural.training import INFERENCE_CHUNK, TRAINING_PARAMS_DOC, NeuralEstimator, standardisation
from drama2.reducers.base import Reducer
from drama2.validation import check_is_fitted

__all__ = ["AutoEncoder", "VariationalAutoEncoder", "Conv1dAutoEncoder", "Conv1dVariationalAutoEncoder",
           "Conv2dAutoEncoder", "Conv2dVariationalAutoEncoder"]

# Rows of a random subsample that the PCA warm start is computed from (enough for a stable subspace).
_PCA_ROWS = 20000


def _store(estimator, params: dict) -> None:
    """scikit-learn style ``__init__``: keep every argument as an attribute, unchanged."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


# ------------------------------------------------------------------------- losses
class _ReconstructionLoss:
    """Mean squared reconstruction error of standardised rows, plus ``prior_weight`` times the sliced
    2-Wasserstein distance of the batch's codes to N(0, I) (see :mod:`drama2.neural.priors`)."""

    def _loss(self, network, batch, generator, target=None):
        codes = network.encode(batch)
        loss = (network.decode(codes) - batch).pow(2).mean()
        if self.prior_weight > 0:
            loss = loss + float(self.prior_weight) * sliced_wasserstein_to_normal(codes, generator)
        return loss


class _VariationalLoss:
    """Negative ELBO per feature: Gaussian reconstruction error plus ``beta`` times the KL to N(0, I)."""

    def _loss(self, network, batch, generator, target=None):
        import torch

        mean, log_var = network.posterior(batch)
        z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator, device=mean.device)
        reconstruction = (network.decode(z) - batch).pow(2).sum(dim=1)
        kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(dim=1)
        return (reconstruction + float(self.beta) * kl).mean() / batch.shape[1]


# ------------------------------------------------------------------------- shared reducer
class _NeuralReducer(NeuralEstimator, Reducer):
    """Standardise, train, and encode / decode in chunks; subclasses build the network."""

    variational = False
    warns_on_blow_up = True

    def _check_model_params(self, n_features: int) -> None:
        name = "beta" if self.variational else "prior_weight"
        value = getattr(self, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise InvalidInputError(f"{type(self).__name__}: {name} must be a number >= 0, got {value!r}.")

    def fit(self, X, y=None):
        """Fit on ``X``; returns self. A fit that fails (e.g. diverges) leaves the previous fit untouched."""
        work = copy.copy(self)  # fitted attributes land on self only when every step succeeded
        work._fit_validated(X)
        self.__dict__.update(work.__dict__)
        return self

    def _fit_validated(self, X):
        Reducer.fit(self, X)

    def _fit(self, X):
        self._check_model_params(X.shape[1])
        self.mean_, self.scale_ = standardisation(X)
        self._train(self._standardise(X))

    def _standardise(self, X):
        return (X - self.mean_) / self.scale_

    def _transform(self, X):
        return self._infer(lambda net, x: net.encode(x), self._standardise(X))

    def _inverse_transform(self, Z):
        if Z.shape[1] != self.n_components:
            raise InvalidInputError(f"{type(self).__name__}: Z has {Z.shape[1]} columns but the latent size is "
                                    f"{self.n_components}.")
        return self._infer(lambda net, z: net.decode(z), Z) * self.scale_ + self.mean_

    def reconstruct(self, X) -> np.ndarray:
        """Decode(encode(X)) in data units (the posterior mean path for a VAE)."""
        return self.inverse_transform(self.transform(X))

    def _reconstruction_error(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance of each (validated, flat) row to its reconstruction, in standardised units.

        The numbers are those of ``reconstruct`` followed by the distance in float64, computed one chunk
        at a time, so no standardised copy, code array or reconstruction of the whole of ``X`` is held. On
        the CPU the float64 arithmetic is numpy's; on a GPU it runs on the device too, so only the rows go
        over and one distance per row comes back (host passes over a million rows cost more than the
        network there).
        """
        import torch

        errors = np.empty(X.shape[0])
        network, device = self.network_, torch.device(self.device_)
        if device.type != "cpu":
            mean, scale = (torch.as_tensor(v, device=device) for v in (self.mean_, self.scale_))
        with torch.no_grad():
            for start in range(0, X.shape[0], INFERENCE_CHUNK):
                rows = X[start:start + INFERENCE_CHUNK]
                if device.type == "cpu":
                    x = torch.as_tensor(np.ascontiguousarray(self._standardise(rows), dtype=np.float32))
                    decoded = network.decode(network.encode(x)).double().numpy()
                    residual = (rows - (decoded * self.scale_ + self.mean_)) / self.scale_
                    errors[start:start + len(rows)] = np.sqrt((residual ** 2).sum(axis=1))
                else:
                    r = torch.as_tensor(np.ascontiguousarray(rows, dtype=np.float64), device=device)
                    decoded = network.decode(network.encode(((r - mean) / scale).float())).double()
                    residual = (r - (decoded * scale + mean)) / scale
                    errors[start:start + len(rows)] = residual.pow(2).sum(dim=1).sqrt().cpu().numpy()
        return errors


# ------------------------------------------------------------------------- dense models
_DENSE_DOC = """
    Parameters
    ----------
    n_components : int, default 2
        Latent size; at most the number of features.
    hidden_sizes : "auto" or sequence of int, default "auto"
        Encoder hidden layers (the decoder mirrors them). "auto" is one layer
        of ``min(128, max(n_features // 2, 4 * n_components))`` units, the
        original DRAMA's ``[d, d/2, z]`` shape with a floor and a cap.
    activation : str, default "elu"
        Hidden-layer activation: elu, silu, gelu, tanh, relu or leaky_relu.
        The latent and output layers are always linear.
    init : {{"pca", "random"}}, default {init}
        "pca" adds a linear path beside the non-linear one in the encoder
        (to the posterior mean for a VAE) and in the decoder, set to PCA's
        projection and reconstruction, with the non-linear paths' last
        layers at zero: training starts at the PCA solution. "random" is
        the usual random initialisation without the linear paths.
{extra}{training}

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network (eval mode) on ``device_``.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation of the training data.
    history_ : dict
        ``train_loss`` and ``val_loss`` per epoch.
    n_epochs_, best_epoch_ : int
        Epochs run and the epoch whose weights were kept.
    stop_reason_ : str
        "max_epochs", "early_stopping" or "time_budget".
    cuda_graph_steps_ : int
        Training steps replayed from a captured CUDA graph (on CUDA, every
        full batch after the first few); 0 on the CPU, with
        ``$DRAMA2_CUDA_GRAPHS=0``, or when capture failed (with a warning).
    """

_BETA_DOC = """    beta : float, default 1.0
        Weight of the KL term (beta-VAE); 0 makes it a noisy autoencoder.
"""

_PRIOR_DOC = """    prior_weight : float, default 0.1
        Weight of a penalty that pulls the codes towards N(0, I): the sliced
        2-Wasserstein distance of each batch's codes to that distribution
        (Kolouri et al. 2019, the SWAE). It keeps a compact group of
        anomalies from being pushed into a latent cluster of its own, which
        would give it its own DRAMA prototype. 0 trains on the
        reconstruction error alone.
"""


class _DenseReducer(_NeuralReducer):
    def _hidden(self, n_features: int) -> tuple:
        from drama2.neural.networks import check_hidden_sizes

        if isinstance(self.hidden_sizes, str) and self.hidden_sizes == "auto":
            return (min(128, max(n_features // 2, 4 * self.n_components)),)
        return check_hidden_sizes(self.hidden_sizes)

    def _check_model_params(self, n_features):
        super()._check_model_params(n_features)
        self._hidden(n_features)
        if self.init not in ("pca", "random"):
            raise InvalidInputError(f"{type(self).__name__}: init must be 'pca' or 'random', got {self.init!r}.")
        from drama2.neural.networks import activation

        activation(self.activation)

    def _build_network(self, sample_shape):
        from torch import nn

        from drama2.neural.networks import AutoEncoderNet, LinearPlusResidual, VariationalNet, mlp

        d, z, hidden = sample_shape[0], self.n_components, self._hidden(sample_shape[0])
        decoder = mlp([z, *reversed(hidden), d], self.activation)
        if self.init == "pca":
            decoder = LinearPlusResidual(nn.Linear(z, d), decoder)
        if self.variational:
            body = mlp([d, *hidden], self.activation, last_activation=True)
            skip = nn.Linear(d, z) if self.init == "pca" else None
            return VariationalNet(body, hidden[-1] if hidden else d, z, decoder, skip=skip)
        encoder = mlp([d, *hidden, z], self.activation)
        if self.init == "pca":
            encoder = LinearPlusResidual(nn.Linear(d, z), encoder)
        return AutoEncoderNet(encoder, decoder)

    def _warm_start(self, network, X):
        """With ``init="pca"``, start from PCA: the linear paths project and reconstruct, the residuals add 0."""
        if self.init != "pca":
            return
        import torch

        rows = X if len(X) <= _PCA_ROWS else X[np.random.default_rng(self._seed()).choice(len(X), _PCA_ROWS,
                                                                                            replace=False)]
        mean = rows.mean(axis=0)
        _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
        components = torch.as_tensor(vt[: self.n_components], dtype=torch.float32)
        mean = torch.as_tensor(mean, dtype=torch.float32)
        encode_linear = network.skip if self.variational else network.encoder.linear
        with torch.no_grad():
            encode_linear.weight.copy_(components)
            encode_linear.bias.copy_(-components @ mean)
            network.decoder.linear.weight.copy_(components.T)
            network.decoder.linear.bias.copy_(mean)
            residual_outputs = [network.decoder.residual[-1]]
            residual_outputs.append(network.mean if self.variational else network.encoder.residual[-1])
            for layer in residual_outputs:
                layer.weight.zero_()
                layer.bias.zero_()


class AutoEncoder(_ReconstructionLoss, _DenseReducer):
    def __init__(self, n_components=2, hidden_sizes="auto", activation="elu", init="random", prior_weight=0.1,
                 max_epochs=100, batch_size="auto", learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.1, patience=10, time_budget=None,
                 device="auto", random_state=None):
        _store(self, locals())


class VariationalAutoEncoder(_VariationalLoss, _DenseReducer):
    variational = True

    def __init__(self, n_components=2, hidden_sizes="auto", activation="elu", init="random", beta=1.0, max_epochs=100,
                 batch_size="auto", learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.1, patience=10,
                 time_budget=None, device="auto", random_state=None):
        _store(self, locals())


AutoEncoder.__doc__ = ("Dense autoencoder (``\"ae\"``): standardised rows -> hidden layers -> linear latent "
                       "-> mirrored decoder.\n"
                       + _DENSE_DOC.format(init='"random"', extra=_PRIOR_DOC, training=TRAINING_PARAMS_DOC))
VariationalAutoEncoder.__doc__ = (
    "Dense variational autoencoder (``\"vae\"``); ``transform`` returns the posterior mean.\n"
    + _DENSE_DOC.format(init='"random"', extra=_BETA_DOC, training=TRAINING_PARAMS_DOC))


# ------------------------------------------------------------------------- convolutional models
def _as_shape(value) -> tuple:
    """``value`` as a tuple of ints, or () when it is not a sequence of integers."""
    try:
        return tuple(int(s) for s in value)
    except (TypeError, ValueError):
        return ()


class _ConvReducer(_NeuralReducer):
    """Shaped input handling for the convolutional reducers; ``spatial_dims`` is 1 or 2."""

    spatial_dims = 1

    def _sample_shape(self, arr: np.ndarray) -> tuple:
        """(channels, *spatial) of the network for input ``arr``; also checks the input's rank."""
        name, dims = type(self).__name__, self.spatial_dims
        if arr.ndim in (dims + 1, dims + 2) and arr.ndim > 2:
            shape = tuple(arr.shape[1:]) if arr.ndim == dims + 2 else (1, *arr.shape[1:])
            given = getattr(self, "image_shape", None)
            if given is not None and _as_shape(given) != shape[1:]:
                # image_shape is for flat rows; on shaped samples a different value is a mistake, not a request.
                raise InvalidInputError(f"{name}: image_shape={given!r} but the samples have shape "
                                        f"{tuple(arr.shape[1:])}; drop image_shape (shaped samples carry their own) "
                                        "or pass flat (n, H * W) rows.")
            return shape
        if arr.ndim == 2:
            if dims == 1:
                return (1, arr.shape[1])
            return (1, *self._image_shape(arr.shape[1]))
        expected = ("(n, length) or (n, channels, length)" if dims == 1
                    else "(n, H, W), (n, channels, H, W) or flat (n, H * W) rows")
        raise InvalidInputError(f"{name} expects {expected} input, got an array of shape {arr.shape}.")

    def _image_shape(self, n_features: int) -> tuple:
        name = type(self).__name__
        if self.image_shape is not None:
            shape = _as_shape(self.image_shape)
            if len(shape) != 2 or min(shape) < 1:
                raise InvalidInputError(f"{name}: image_shape must be (H, W), got {self.image_shape!r}.")
            if shape[0] * shape[1] != n_features:
                raise InvalidInputError(f"{name}: image_shape={shape} holds {shape[0] * shape[1]} pixels but the "
                                        f"rows have {n_features} features.")
            return shape
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise InvalidInputError(f"{name}: flat rows of {n_features} features are not square images; pass "
                                    "image_shape=(H, W) or shaped (n, H, W) input.")
        return (side, side)

    def _as_array(self, X, name="X") -> np.ndarray:
        if hasattr(X, "detach") and hasattr(X, "cpu"):
            X = X.detach().cpu().numpy()
        try:
            return np.asarray(X, dtype=np.float64)
        except ValueError as exc:
            raise InvalidInputError(f"{type(self).__name__}: the samples in {name} do not all have the same shape "
                                    f"({exc}); resize or crop them to one size first.") from None

    def _rows(self, X, *, fitting: bool) -> np.ndarray:
        arr = self._as_array(X)
        if fitting:
            self.sample_shape_ = self._sample_shape(arr)
            self.input_shape_ = tuple(arr.shape[1:])
        else:
            check_is_fitted(self, "n_features_in_")
            shape = tuple(arr.shape[1:])
            if shape != self.input_shape_ and not (arr.ndim == 2 and arr.shape[1] == self.n_features_in_):
                raise InvalidInputError(f"{type(self).__name__} was fitted on samples of shape {self.input_shape_}, "
                                        f"got {shape}.")
        return arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr

    def _fit_validated(self, X):
        # Shaped input (see the class docstring) becomes flat rows; the sample shape is kept for decoding.
        Reducer.fit(self, self._rows(X, fitting=True))

    def transform(self, X):
        """Posterior mean / code of each sample, shape (n_samples, n_components)."""
        return super().transform(self._rows(X, fitting=False))

    def inverse_transform(self, Z):
        """Decode latent points into samples of the shape ``fit`` saw."""
        flat = super().inverse_transform(Z)
        return flat.reshape(flat.shape[0], *self.input_shape_)

    def _check_model_params(self, n_features):
        super()._check_model_params(n_features)
        from drama2.neural.networks import activation, check_hidden_sizes

        check_hidden_sizes(self.channels, "channels")
        k = self.kernel_size
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0:
            raise InvalidInputError(f"{type(self).__name__}: kernel_size must be an odd integer >= 1, got {k!r}.")
        if not self.channels:
            raise InvalidInputError(f"{type(self).__name__}: channels needs at least one convolution stage.")
        activation(self.activation)

    def _build_network(self, sample_shape):
        from drama2.neural.networks import AutoEncoderNet, ConvDecoder, ConvEncoderBody, VariationalNet

        from torch import nn

        shape, channels, k = self.sample_shape_, tuple(int(c) for c in self.channels), int(self.kernel_size)
        body = ConvEncoderBody(shape, channels, k, self.activation)
        decoder = ConvDecoder(self.n_components, shape, channels, k, self.activation)
        if self.variational:
            return VariationalNet(body, body.out_features, self.n_components, decoder)
        return AutoEncoderNet(nn.Sequential(body, nn.Linear(body.out_features, self.n_components)), decoder)


_CONV_DOC = """
    Parameters
    ----------
    n_components : int, default 2
        Latent size; at most the number of values per sample.
    channels : sequence of int, default (16, 32)
        Output channels of each stride-2 convolution stage (each halves the
        {what}); the decoder mirrors them with transposed convolutions.
    kernel_size : int, default {kernel}
        Odd convolution kernel size.
{image}    activation : str, default "elu"
        Activation between layers; the latent and output layers are linear.
{extra}{training}

    Attributes
    ----------
    network_, mean_, scale_, history_, n_epochs_, best_epoch_, stop_reason_, cuda_graph_steps_
        As for :class:`AutoEncoder`.
    input_shape_ : tuple
        Shape of one sample as given to ``fit``; ``inverse_transform`` returns it.
    sample_shape_ : tuple
        (channels, *spatial) shape the network works on.
    """

_IMAGE_DOC = """    image_shape : (int, int) or None, default None
        (H, W) of flat rows; None recognises square images (e.g. 64 -> 8 x 8).
"""


class Conv1dAutoEncoder(_ReconstructionLoss, _ConvReducer):
    spatial_dims = 1

    def __init__(self, n_components=2, channels=(16, 32), kernel_size=5, activation="elu", prior_weight=0.1,
                 max_epochs=100, batch_size="auto", learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.1,
                 patience=10, time_budget=None, device="auto", random_state=None):
        _store(self, locals())


class Conv1dVariationalAutoEncoder(_VariationalLoss, _ConvReducer):
    spatial_dims = 1
    variational = True

    def __init__(self, n_components=2, channels=(16, 32), kernel_size=5, activation="elu", beta=1.0,
                 max_epochs=100, batch_size="auto", learning_rate=1e-3, weight_decay=0.0, validation_fraction=0.1,
                 patience=10, time_budget=None, device="auto", random_state=None):
        _store(self, locals())


class Conv2dAutoEncoder(_ReconstructionLoss, _ConvReducer):
    spatial_dims = 2

    def __init__(self, n_components=2, channels=(16, 32), kernel_size=3, image_shape=None, activation="elu",
                 prior_weight=0.1, max_epochs=100, batch_size="auto", learning_rate=1e-3, weight_decay=0.0,
                 validation_fraction=0.1, patience=10, time_budget=None, device="auto", random_state=None):
        _store(self, locals())


class Conv2dVariationalAutoEncoder(_VariationalLoss, _ConvReducer):
    spatial_dims = 2
    variational = True

    def __init__(self, n_components=2, channels=(16, 32), kernel_size=3, image_shape=None, activation="elu",
                 beta=1.0, max_epochs=100, batch_size="auto", learning_rate=1e-3, weight_decay=0.0,
                 validation_fraction=0.1, patience=10, time_budget=None, device="auto", random_state=None):
        _store(self, locals())


_1D = dict(what="length", kernel=5, image="")
_2D = dict(what="height and width", kernel=3, image=_IMAGE_DOC)
Conv1dAutoEncoder.__doc__ = ("1-D convolutional autoencoder (``\"conv1d-ae\"``) for spectra and light curves.\n"
                             + _CONV_DOC.format(**_1D, extra=_PRIOR_DOC, training=TRAINING_PARAMS_DOC))
Conv1dVariationalAutoEncoder.__doc__ = ("1-D convolutional VAE (``\"conv1d-vae\"``); ``transform`` returns the "
                                        "posterior mean.\n"
                                        + _CONV_DOC.format(**_1D, extra=_BETA_DOC, training=TRAINING_PARAMS_DOC))
Conv2dAutoEncoder.__doc__ = ("2-D convolutional autoencoder (``\"conv2d-ae\"``) for images and cutouts.\n"
                             + _CONV_DOC.format(**_2D, extra=_PRIOR_DOC, training=TRAINING_PARAMS_DOC))
Conv2dVariationalAutoEncoder.__doc__ = ("2-D convolutional VAE (``\"conv2d-vae\"``); ``transform`` returns the "
                                        "posterior mean.\n"
                                        + _CONV_DOC.format(**_2D, extra=_BETA_DOC, training=TRAINING_PARAMS_DOC))
