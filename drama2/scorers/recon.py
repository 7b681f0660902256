"""``ae-recon``: the reconstruction error of a neural reducer as an anomaly score."""

from __future__ import annotations

import inspect

import numpy as np

from drama2.errors import InvalidInputError
from drama2.scorers.base import BaseDetector
from drama2.validation import check_component_params

__all__ = ["AERecon"]

_MODELS = ("ae", "vae", "conv1d-ae", "conv1d-vae", "conv2d-ae", "conv2d-vae")
# What AERecon passes to its model itself, with what to do instead of putting it in model_params.
_SET_BY_AERECON = {"n_components": "set AERecon(n_components=...) instead",
                   "device": "set AERecon(device=...) instead",
                   "random_state": "set AERecon(random_state=...) instead"}


class AERecon(BaseDetector):
    """Autoencoder reconstruction error: the distance of a sample to its own reconstruction.

    The distance is Euclidean in the standardised space the model trains in,
    so no feature dominates by its units. It sits next to DRAMA's prototype
    distance: both measure how far a sample is from what the model learnt to
    be normal, one per sample, one per group.

    Parameters
    ----------
    model : str, default "ae"
        Registered neural reducer to train: ae, vae, conv1d-ae, conv1d-vae,
        conv2d-ae or conv2d-vae (a VAE reconstructs through its posterior mean).
    n_components : int or "auto", default "auto"
        Latent size; "auto" is ``max(2, min(16, n_features // 4))``.
    model_params : dict, optional
        Any other parameter of the model (hidden_sizes, max_epochs, ...); an
        unknown name is an error that lists the model's parameters. The
        autoencoders' ``prior_weight`` is 0 here unless given: that penalty
        shapes the latent space for DRAMA's clusters, which a reconstruction
        error does not use.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags.
    device : str, default "auto"
        Torch device for training and scoring.
    random_state : int, numpy Generator or None, default None
        Seeds the model's training.

    Attributes
    ----------
    model_ : drama2 neural reducer
        The trained model.
    sample_shape_ : tuple or None
        Shape of one sample when the convolutional models were fitted on
        shaped samples ((n, H, W), (n, C, H, W) or (n, C, length)), else None.
        Shaped samples are scored as given or as flat rows.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.
    """

    def __init__(self, model="ae", n_components="auto", model_params=None, contamination=0.1, device="auto",
                 random_state=None):
        self.model = model
        self.n_components = n_components
        self.model_params = model_params
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _model_class(self):
        from drama2.registry import get_registry

        if self.model not in _MODELS:
            raise InvalidInputError(f"AERecon: model must be one of {list(_MODELS)}, got {self.model!r}.")
        return get_registry().load("reducers", self.model)

    def _check_params(self, X):
        check_component_params(self._model_class(), self.model_params, "AERecon: model_params",
                               f"model {self.model!r}", owner="AERecon", set_by_owner=_SET_BY_AERECON)

    # Convolutional models take shaped samples; BaseDetector validates rows, so shaped input travels flat
    # and is given its shape back on the way into the model.
    def _shape_of(self, X):
        """(flat rows, sample shape) of ``X``: its shape when a convolutional model gets shaped samples."""
        if not self.model.startswith("conv") or hasattr(X, "columns"):
            return X, None
        if hasattr(X, "detach") and hasattr(X, "cpu"):
            X = X.detach().cpu().numpy()
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            return X, None  # check_array names the problem
        if arr.ndim <= 2:
            return X, None
        return arr.reshape(arr.shape[0], -1), tuple(arr.shape[1:])

    def fit(self, X, y=None):
        rows, self._fit_shape = self._shape_of(X)  # read by _fit on BaseDetector's working copy
        try:
            return super().fit(rows, y)
        finally:
            self.__dict__.pop("_fit_shape", None)

    fit.__doc__ = BaseDetector.fit.__doc__

    @property
    def sample_shape_(self):
        shape = getattr(self.model_, "input_shape_", ())  # the model keeps the shape it was fitted on
        return shape if len(shape) > 1 else None

    def _scores(self, X):
        rows, shape = self._shape_of(X)
        if shape is not None and "model_" in self.__dict__ and shape != self.sample_shape_:
            raise InvalidInputError(f"AERecon: samples of shape {shape} given to a model fitted on samples of shape "
                                    f"{self.sample_shape_}.")
        return super()._scores(rows)

    def _latent_size(self, n_features: int):
        if isinstance(self.n_components, str) and self.n_components == "auto":
            return min(n_features, max(2, min(16, n_features // 4)))
        return self.n_components

    def _fit(self, X, rng_seed):
        model_cls = self._model_class()
        params = dict(self.model_params or {})
        if "prior_weight" in inspect.signature(model_cls).parameters:
            params.setdefault("prior_weight", 0.0)
        model = model_cls(n_components=self._latent_size(X.shape[1]), device=self.device, random_state=rng_seed,
                          **params)
        shape = self.__dict__.get("_fit_shape")
        self.model_ = model.fit(X if shape is None else X.reshape(X.shape[0], *shape))

    def _score(self, X):
        # Flat rows suit every model here: the networks give rows their sample shape themselves.
        return self.model_._reconstruction_error(X)
