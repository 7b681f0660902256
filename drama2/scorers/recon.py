"""``ae-recon``: the reconstruction error of a neural reducer as an anomaly score."""

from __future__ import annotations

import inspect

from drama2.errors import InvalidInputError
from drama2.scorers.base import BaseDetector

__all__ = ["AERecon"]

_MODELS = ("ae", "vae", "conv1d-ae", "conv1d-vae", "conv2d-ae", "conv2d-vae")


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
        Any other parameter of the model (hidden_sizes, max_epochs, ...). The
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

    def _check_params(self, X):
        if self.model not in _MODELS:
            raise InvalidInputError(f"AERecon: model must be one of {list(_MODELS)}, got {self.model!r}.")
        if self.model_params is not None and not isinstance(self.model_params, dict):
            raise InvalidInputError(f"AERecon: model_params must be a dict, got {type(self.model_params).__name__}.")

    def _latent_size(self, n_features: int):
        if isinstance(self.n_components, str) and self.n_components == "auto":
            return min(n_features, max(2, min(16, n_features // 4)))
        return self.n_components

    def _fit(self, X, rng_seed):
        from drama2.registry import get_registry

        model_cls = get_registry().load("reducers", self.model)
        params = dict(self.model_params or {})
        if "prior_weight" in inspect.signature(model_cls).parameters:
            params.setdefault("prior_weight", 0.0)
        model = model_cls(n_components=self._latent_size(X.shape[1]), device=self.device, random_state=rng_seed,
                          **params)
        self.model_ = model.fit(X)

    def _score(self, X):
        return self.model_._reconstruction_error(X)
