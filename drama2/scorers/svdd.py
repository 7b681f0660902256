"""``mcdsvdd`` and ``deepsvdd``: hypersphere detectors on a learnt encoder (SPEC §3.2).

Deep SVDD (Ruff et al., ICML 2018) trains an encoder φ to pull the normal
data towards one centre ``c`` of a latent space; a sample's anomaly score is
its squared distance ``‖φ(x) − c‖²``. Multi-Class Deep SVDD (Pérez-Carrasco
et al. 2023, arXiv:2308.05011) keeps one centre per known inlier class and
minimises ``mean ‖φ(x_i) − c_{y_i}‖²``; the score is the squared distance to
the *nearest* centre, so a sample that fits none of the known classes scores
high.

Both train in two phases on :class:`~drama2.neural.NeuralEstimator`'s loop:

1. an autoencoder (the encoder and a mirrored decoder, mean squared error)
   is pre-trained on the standardised rows; its decoder is then dropped;
2. the centres are fixed from the pre-trained encoder (the mean code of each
   class's rows, tiny components pushed away from 0) and the encoder alone
   is trained on the hypersphere loss, with early stopping on the held-out
   rows' loss and the best weights restored.

torch is imported only when a model is fitted or used.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import warnings

import numpy as np

from drama2.errors import InvalidInputError
from drama2.neural.training import TRAINING_PARAMS_DOC, NeuralEstimator, standardisation
from drama2.scorers.base import BaseDetector
from drama2.validation import check_array, check_is_fitted, check_n_features

__all__ = ["MCDSVDD", "DeepSVDD", "clip_centres"]

# Rows of latent codes the silhouette search of n_clusters="auto" looks at.
_SILHOUETTE_ROWS = 2000
_AUTO_CLUSTERS = range(2, 9)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def clip_centres(centres: np.ndarray, eps: float) -> np.ndarray:
    """Push every component with ``|c| < eps`` to ``±eps``, keeping its sign (0 goes to ``+eps``).

    A centre component at 0 can be reached by a network that zeroes its last
    layer's input, a trivial solution; Ruff et al. move such components away.
    """
    centres = np.array(centres, dtype=np.float64)
    small = np.abs(centres) < eps
    centres[small] = np.where(centres[small] < 0, -eps, eps)
    return centres


def _encoder_layers(sizes: list[int], *, bias: bool, affine: bool):
    """Linear–BatchNorm–LeakyReLU blocks for each step of ``sizes`` but the last (the caller adds that layer)."""
    from torch import nn

    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b, bias=bias), nn.BatchNorm1d(b, affine=affine), nn.LeakyReLU()]
    return layers


@functools.lru_cache(maxsize=None)
def _svdd_net_class():
    """The encoder-plus-centres module, built on first use so that importing this module stays torch-free.

    It is reachable as ``drama2.scorers.svdd.SVDDNet`` (module ``__getattr__``), so fitted detectors pickle.
    """
    import torch
    from torch import nn

    class SVDDNet(nn.Module):
        """The trained encoder with the fixed centres as a buffer; ``forward`` returns the latent codes."""

        def __init__(self, encoder, centres):
            super().__init__()
            self.encoder = encoder
            self.register_buffer("centres", centres)

        def forward(self, x):
            return self.encoder(x)

        def min_sq_distance(self, x):
            """Squared distance of each row's code to its nearest centre (exact: one centre at a time)."""
            codes = self.encoder(x)
            best = (codes - self.centres[0]).pow(2).sum(dim=1)
            for centre in self.centres[1:]:
                best = torch.minimum(best, (codes - centre).pow(2).sum(dim=1))
            return best

    SVDDNet.__module__ = __name__
    SVDDNet.__qualname__ = "SVDDNet"
    return SVDDNet


def __getattr__(name):
    if name == "SVDDNet":
        return _svdd_net_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _SVDDBase(NeuralEstimator, BaseDetector):
    """Shared machinery: standardise, pre-train an autoencoder, fix centres, train the encoder, score."""

    #: Components of a centre closer to 0 than this are pushed to ±this.
    _centre_eps = 0.01
    #: Bias terms in the linear layers (the last encoder layer never has one).
    _bias = True
    #: Learnable scale and shift in batch norm.
    _affine = True

    # ------------------------------------------------------------------ parameters
    def _hidden(self) -> tuple:
        from drama2.neural.networks import check_hidden_sizes

        return check_hidden_sizes(self.hidden_sizes)

    def _pretrain_epochs(self) -> int:
        return int(self.max_epochs) if self.pretrain_epochs is None else int(self.pretrain_epochs)

    def _check_params(self, X):
        name = self._name
        if not _is_int(self.n_components) or self.n_components < 1:
            raise InvalidInputError(f"{name}: n_components must be an integer >= 1, got {self.n_components!r}.")
        self._hidden()
        p = self.pretrain_epochs
        if p is not None and (not _is_int(p) or p < 0):
            raise InvalidInputError(f"{name}: pretrain_epochs must be None (use max_epochs) or an integer >= 0, "
                                    f"got {p!r}.")
        self._check_training_params()

    # ------------------------------------------------------------------ network
    def _build_network(self, sample_shape):
        """The pre-training autoencoder: encoder ``d → hidden → z`` and its mirror image as decoder."""
        from torch import nn

        from drama2.neural.networks import AutoEncoderNet

        d, z, hidden = sample_shape[0], int(self.n_components), list(self._hidden())
        bias, affine = self._bias, self._affine
        encoder = nn.Sequential(*_encoder_layers([d, *hidden, z], bias=bias, affine=affine),
                                nn.Linear(hidden[-1] if hidden else d, z, bias=False))
        back = list(reversed(hidden))
        decoder = nn.Sequential(*_encoder_layers([z, *back, d], bias=bias, affine=affine),
                                nn.Linear(back[-1] if back else z, d, bias=bias))
        return AutoEncoderNet(encoder, decoder)

    def _loss(self, network, batch, generator, target):
        from drama2.neural.networks import AutoEncoderNet

        if isinstance(network, AutoEncoderNet):  # phase 1: reconstruction
            return (network(batch) - batch).pow(2).mean()
        # phase 2: squared distance of each code to its class's centre
        return (network(batch) - network.centres[target]).pow(2).sum(dim=1).mean()

    def _epoch_order(self, n, targets, generator):
        """Class-balanced draws (with replacement) when training on the centres of several classes.

        Each of the ``n`` draws picks a class uniformly among those present in
        the training rows, then a row of that class uniformly, so every class
        weighs the same in an epoch however rare it is. Otherwise (pre-training,
        one centre, or ``class_balanced=False``) a plain permutation.
        """
        import torch

        if targets is None or not getattr(self, "class_balanced", False):
            return torch.randperm(n, generator=generator)
        _, inverse, counts = torch.unique(targets.long(), return_inverse=True, return_counts=True)
        if counts.numel() < 2:
            return torch.randperm(n, generator=generator)
        by_class = torch.argsort(inverse, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        pick = torch.randint(counts.numel(), (n,), generator=generator)
        size = counts[pick]
        offset = (torch.rand(n, generator=generator, dtype=torch.float64) * size).long()
        offset = torch.minimum(offset, size - 1)
        return by_class[starts[pick] + offset]

    # ------------------------------------------------------------------ fitting
    @contextlib.contextmanager
    def _overriding(self, **params):
        """Set parameters for a block and restore them after (``fit`` copies this object's attributes back)."""
        saved = {name: getattr(self, name) for name in params}
        try:
            for name, value in params.items():
                setattr(self, name, value)
            yield
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def _standardise(self, X):
        return (X - self.mean_) / self.scale_

    def _class_index(self, X, codes, labels, seed):
        """Centre index (0 … K−1) of each training row; sets ``classes_``. Subclasses decide."""
        raise NotImplementedError

    def _fit(self, X, rng_seed):
        labels = self.__dict__.pop("_y_classes", None)
        if labels is not None:
            labels = self._check_labels(labels, X.shape[0])
        self.mean_, self.scale_ = standardisation(X)
        Xs = self._standardise(X)
        seed = self._seed_from(rng_seed)

        # Phase 1: pre-train the autoencoder (or only build it, with pretrain_epochs=0).
        pretrain_epochs = self._pretrain_epochs()
        with self._overriding(random_state=seed, max_epochs=max(1, pretrain_epochs)):
            if pretrain_epochs == 0:
                self._untrained_network(Xs)
            else:
                self._train(Xs)
        self.pretrain_history_ = {k: list(v) for k, v in self.history_.items()}
        self.pretrain_n_epochs_ = self.n_epochs_
        self.pretrain_stop_reason_ = self.stop_reason_
        codes = self._infer(lambda net, x: net.encode(x), Xs)

        # Centres: the mean code of each class (or cluster), tiny components pushed away from 0.
        index = self._class_index(Xs, codes, labels, seed)
        n_centres = int(index.max()) + 1
        centres = np.stack([codes[index == k].mean(axis=0) for k in range(n_centres)])
        self.centres_ = clip_centres(centres, self._centre_eps)

        # Phase 2: train the encoder on the hypersphere loss.
        import torch

        encoder = self.network_.encoder
        centres_t = torch.as_tensor(self.centres_, dtype=torch.float32,
                                    device=next(encoder.parameters()).device)
        network = _svdd_net_class()(encoder, centres_t)
        with self._overriding(random_state=seed):
            self._train(Xs, targets=index, network=network, seed_offset=1)

    def _seed_from(self, rng_seed) -> int:
        # BaseDetector hands over an int (the random_state itself when it is one); both phases use it.
        return int(rng_seed) & 0x7FFF_FFFF_FFFF_FFFF

    def _untrained_network(self, Xs):
        """pretrain_epochs=0: the freshly initialised autoencoder, with the attributes ``_train`` would set."""
        import torch

        from drama2.device import resolve_device

        generator = torch.Generator().manual_seed(self._seed())
        device = torch.device(resolve_device(self.device))
        network = self._fresh_network(tuple(Xs.shape[1:]), generator).to(device)
        network.eval()
        self.network_, self.device_ = network, str(device)
        self.history_ = {"train_loss": [], "val_loss": []}
        self.n_epochs_, self.best_epoch_, self.stop_reason_ = 0, 0, "no_pretraining"

    def _check_labels(self, labels, n: int):
        raise NotImplementedError

    # ------------------------------------------------------------------ scoring
    def _score(self, X):
        return self._infer(lambda net, x: net.min_sq_distance(x), self._standardise(X))

    def _validated(self, X):
        check_is_fitted(self, "decision_scores_")
        X = check_array(X, estimator=self._name)
        check_n_features(X, self.n_features_in_, estimator=self._name)
        return X

    def embed(self, X) -> np.ndarray:
        """Latent codes φ(x) of the trained encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            float64 codes; ``score_samples`` is their squared distance to the nearest row of ``centres_``.
        """
        X = self._validated(X)
        return self._infer(lambda net, x: net(x), self._standardise(X)).reshape(X.shape[0], -1)


# ====================================================================== MCDSVDD
_COMMON_PARAMS_DOC = """\
    n_components : int, default 32
        Size of the latent space (the last, bias-free encoder layer).
    hidden_sizes : sequence of int, default (512, 256, 128)
        Hidden layers of the encoder, each Linear–BatchNorm–LeakyReLU; the
        pre-training decoder mirrors them.
    pretrain_epochs : int or None, default None
        Most epochs of autoencoder pre-training (with the same early stopping,
        learning rate and batch size as the main phase); None uses
        ``max_epochs``, 0 skips pre-training (centres from the random encoder).
"""

_COMMON_ATTRS_DOC = """\
    network_ : torch.nn.Module
        The trained encoder (``network_.encoder``) with the centres as a
        buffer (``network_.centres``), eval mode, on ``device_``.
    centres_ : ndarray of shape (n_centres, n_components)
        The fixed centres in latent space.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation of the training rows (constant columns get scale 1).
    history_ : dict
        ``train_loss`` and ``val_loss`` per epoch of the hypersphere phase.
    pretrain_history_ : dict
        The same for the autoencoder pre-training (empty lists when skipped).
    n_epochs_, best_epoch_, stop_reason_
        Epochs run, the epoch whose weights were kept, and why training
        stopped ("max_epochs", "early_stopping" or "time_budget"), for the
        hypersphere phase; ``pretrain_n_epochs_`` and ``pretrain_stop_reason_``
        for the pre-training ("no_pretraining" with ``pretrain_epochs=0``).
    cuda_graph_steps_ : int
        Hypersphere-phase steps replayed from a CUDA graph (0 on the CPU).
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.
"""

# The shared training-parameter docs, with this module's learning rate and two-phase epochs (a test checks
# that both replacements still apply).
_TRAINING_DOC = TRAINING_PARAMS_DOC.replace("learning_rate : float, default 1e-3",
                                            "learning_rate : float, default 5e-4")
_TRAINING_DOC = _TRAINING_DOC.replace(
    "max_epochs : int, default 100\n        Most passes over the training rows.",
    "max_epochs : int, default 100\n        Most passes over the training rows in the hypersphere phase (and "
    "in\n        pre-training, unless ``pretrain_epochs`` is set). ``time_budget``\n        applies to each "
    "phase separately.")


class MCDSVDD(_SVDDBase):
    _centre_eps = 0.01
    _bias = True
    _affine = True

    def __init__(self, n_components=32, hidden_sizes=(512, 256, 128), n_clusters="auto", class_balanced=True,
                 pretrain_epochs=None, contamination=0.1, max_epochs=100, batch_size="auto", learning_rate=5e-4,
                 weight_decay=0.0, validation_fraction=0.1, patience=10, time_budget=None, device="auto",
                 random_state=None):
        self.n_components = n_components
        self.hidden_sizes = hidden_sizes
        self.n_clusters = n_clusters
        self.class_balanced = class_balanced
        self.pretrain_epochs = pretrain_epochs
        self.contamination = contamination
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.time_budget = time_budget
        self.device = device
        self.random_state = random_state

    def fit(self, X, y_classes=None):
        """Fit on the inliers ``X``, with their class labels when known.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inlier training rows; NaN or infinite values are an error.
        y_classes : array-like of shape (n_samples,), optional
            Class label of each row (any hashable values; at least two classes
            of at least two rows each). Without labels the classes are found
            by k-means on the pre-trained latent codes (see ``n_clusters``).
            These are *class* labels, not 0/1 anomaly labels.

        Returns
        -------
        self
        """
        self._y_classes = y_classes
        try:
            return super().fit(X)
        finally:
            self.__dict__.pop("_y_classes", None)

    def _check_params(self, X):
        super()._check_params(X)
        k = self.n_clusters
        if not ((isinstance(k, str) and k == "auto") or (_is_int(k) and k >= 2)):
            raise InvalidInputError(f"MCDSVDD: n_clusters must be 'auto' or an integer >= 2, got {k!r} (for a "
                                    "single centre use deepsvdd).")
        if _is_int(k) and k > X.shape[0]:
            raise InvalidInputError(f"MCDSVDD: n_clusters={k} needs at least {k} rows to place its centres, but X has "
                                    f"{X.shape[0]}; use fewer clusters or n_clusters='auto'.")
        if not isinstance(self.class_balanced, (bool, np.bool_)):
            raise InvalidInputError(f"MCDSVDD: class_balanced must be True or False, got {self.class_balanced!r}.")

    def _check_labels(self, labels, n):
        if hasattr(labels, "detach") and hasattr(labels, "cpu"):
            labels = labels.detach().cpu().numpy()
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise InvalidInputError(f"MCDSVDD: y_classes must be one label per row (1-D), got shape {labels.shape}.")
        if labels.shape[0] != n:
            raise InvalidInputError(f"MCDSVDD: y_classes has {labels.shape[0]} labels but X has {n} rows; give one "
                                    "class label per training row.")
        try:
            classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
        except TypeError:  # labels of mixed types that do not sort: keep the order of first appearance
            mapping: dict = {}
            index = np.array([mapping.setdefault(v, len(mapping)) for v in labels.tolist()], dtype=np.int64)
            classes = np.empty(len(mapping), dtype=object)
            classes[:] = list(mapping)
            counts = np.bincount(index, minlength=len(mapping))
        if len(classes) < 2:
            raise InvalidInputError(
                f"MCDSVDD needs at least 2 inlier classes, but y_classes holds a single class "
                f"({classes.tolist()[0]!r}). Use deepsvdd (one centre) for one class, or omit y_classes to let MCDSVDD "
                "find classes by clustering.")
        rare = [c for c, count in zip(classes.tolist(), counts.tolist()) if count < 2]
        if rare:
            raise InvalidInputError(f"MCDSVDD: classes {rare} have fewer than 2 rows; a centre needs at least 2 "
                                    "rows of its class. Drop those rows or merge them into another class.")
        return classes, np.asarray(index, dtype=np.int64).reshape(-1)

    def _class_index(self, Xs, codes, labels, seed):
        if labels is not None:
            classes, index = labels
            self.classes_ = classes
            self.clustered_ = False
            return index
        index = self._cluster(codes, seed)
        self.classes_ = np.arange(int(index.max()) + 1)
        self.clustered_ = True
        return index

    def _cluster(self, codes, seed):
        """k-means on the latent codes; ``n_clusters="auto"`` picks k in 2 … 8 by silhouette on a subsample."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rng = np.random.default_rng(seed)
        n = codes.shape[0]
        sub = codes if n <= _SILHOUETTE_ROWS else codes[np.sort(rng.choice(n, _SILHOUETTE_ROWS, replace=False))]
        n_distinct = np.unique(sub, axis=0).shape[0]
        km_seed = int(seed % (2**32 - 1))
        if isinstance(self.n_clusters, str):
            candidates = [k for k in _AUTO_CLUSTERS if k <= min(n_distinct, sub.shape[0] - 1)]
            self.silhouette_ = {}
            best, best_model = -np.inf, None
            for k in candidates:
                model = KMeans(n_clusters=k, n_init=4, random_state=km_seed).fit(sub)
                if np.unique(model.labels_).size < 2:
                    continue
                score = float(silhouette_score(sub, model.labels_))
                self.silhouette_[k] = score
                if score > best:
                    best, best_model = score, model
            if best_model is None:
                warnings.warn(f"MCDSVDD: the latent codes have only {n_distinct} distinct values, too few to "
                              "cluster; using a single centre.", UserWarning, stacklevel=6)
                self.n_clusters_ = 1
                return np.zeros(n, dtype=np.int64)
            model = best_model
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # fewer distinct codes than clusters: empty clusters are dropped
                model = KMeans(n_clusters=int(self.n_clusters), n_init=4, random_state=km_seed).fit(sub)
        labels = model.predict(codes)
        _, index = np.unique(labels, return_inverse=True)  # drop clusters that received no row
        self.n_clusters_ = int(index.max()) + 1
        return index.astype(np.int64).reshape(-1)


MCDSVDD.__doc__ = f"""Multi-Class Deep SVDD (``"mcdsvdd"``): one hypersphere centre per known inlier class.

    Pérez-Carrasco et al. (2023), arXiv:2308.05011. An encoder maps the
    standardised rows to a latent space holding one centre per inlier class
    and is trained to minimise ``mean ‖φ(x_i) − c_{{y_i}}‖²``. The anomaly score
    is ``min_k ‖φ(x) − c_k‖²``: a sample close to no known class scores high.

    Training: (1) an autoencoder (encoder
    ``Linear–BN–LeakyReLU`` × len(hidden_sizes), then a bias-free linear
    layer to ``n_components``; mirrored decoder; mean squared error) is
    pre-trained; (2) each centre is the mean pre-trained code of its class's
    rows, components with ``|c| < 0.01`` pushed to ``±0.01`` (sign kept, 0 to
    +0.01); (3) the encoder is trained on the loss above with class-balanced
    draws and early stopping on the held-out rows' loss (their plain mean, not
    class-weighted), keeping the best epoch's weights.

    ``fit(X, y_classes)`` takes the class labels of the inliers. Without them
    the classes are the k-means clusters of the pre-trained codes. The paper
    trained with Adam at 5e-4 in batches of 1024 rows; the default here keeps
    the learning rate and uses drama2's ``batch_size="auto"`` rule (at most
    256), which gives small data sets enough steps per epoch; pass
    ``batch_size=1024`` for the original setting on large data.

    Parameters
    ----------
{_COMMON_PARAMS_DOC}    n_clusters : "auto" or int >= 2, default "auto"
        Classes to find by k-means on the pre-trained codes when ``fit`` gets
        no labels. "auto" picks k in 2 … 8 with the best silhouette on at most
        2000 codes (seeded). Ignored when labels are given.
    class_balanced : bool, default True
        Draw every class equally often in the hypersphere phase (rows sampled
        with replacement, ``n_train`` draws per epoch), so rare classes keep
        tight spheres; False shuffles the rows as they are.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags.
{_TRAINING_DOC}

    Attributes
    ----------
    classes_ : ndarray of shape (n_centres,)
        The class of each centre: the sorted labels given to ``fit`` (order of
        first appearance for labels that do not sort), or the cluster numbers
        0 … K−1 when clustered.
    clustered_ : bool
        Whether the classes were found by clustering.
    n_clusters_ : int
        Clusters used (only when clustered); ``silhouette_`` holds the
        silhouette of each k tried by ``n_clusters="auto"``.
{_COMMON_ATTRS_DOC}
    Notes
    -----
    A class of fewer than two rows is an error (its centre would be one row's
    code). The paper's data had no constant columns; here they are kept with
    scale 1.
    """


# ====================================================================== Deep SVDD
class DeepSVDD(_SVDDBase):
    _centre_eps = 0.1
    _bias = False
    _affine = False

    def __init__(self, n_components=32, hidden_sizes=(512, 256, 128), pretrain_epochs=None, contamination=0.1,
                 max_epochs=100, batch_size="auto", learning_rate=5e-4, weight_decay=0.0, validation_fraction=0.1,
                 patience=10, time_budget=None, device="auto", random_state=None):
        self.n_components = n_components
        self.hidden_sizes = hidden_sizes
        self.pretrain_epochs = pretrain_epochs
        self.contamination = contamination
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.time_budget = time_budget
        self.device = device
        self.random_state = random_state

    def _class_index(self, Xs, codes, labels, seed):
        return np.zeros(codes.shape[0], dtype=np.int64)


DeepSVDD.__doc__ = f"""One-class Deep SVDD (``"deepsvdd"``): one hypersphere centre for all the normal data.

    Ruff et al. (ICML 2018), one-class objective. The encoder is trained to
    minimise ``mean ‖φ(x_i) − c‖²``; the anomaly score is ``‖φ(x) − c‖²``.
    The centre is fixed after pre-training an autoencoder: the mean code of
    the training rows, components with ``|c| < 0.1`` pushed to ``±0.1``.

    To rule out the trivial solution (every input mapped onto ``c``), the
    network has no bias terms anywhere, its batch norm has no learnable scale
    or shift (``affine=False``) and its activations are unbounded
    (LeakyReLU), as the paper prescribes. Same architecture, two-phase
    training and defaults as :class:`MCDSVDD` otherwise; labels are ignored.

    Parameters
    ----------
{_COMMON_PARAMS_DOC}    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags.
{_TRAINING_DOC}

    Attributes
    ----------
{_COMMON_ATTRS_DOC}"""
