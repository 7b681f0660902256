"""The training loop every drama2 neural model shares.

:class:`NeuralEstimator` owns what is the same for all of them: parameter
checks, device resolution, seeding without global state, the held-out
validation share, mini-batch Adam, early stopping with the best weights
restored, the epoch and time budgets, divergence detection and chunked
inference. A model supplies two template methods: :meth:`_build_network`
and :meth:`_loss`.

Determinism: the network is built on the ``meta`` device and initialised
from a local CPU ``torch.Generator`` seeded from ``random_state``, so the
initial weights are the same on every device and the global torch RNG is
neither seeded nor consumed. Shuffling uses the same CPU generator; noise
inside a loss (the VAE's reparameterisation) uses a generator on the
training device.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from drama2.device import check_random_state, resolve_device, seed_from
from drama2.errors import InvalidInputError, TrainingDivergedError
from drama2.neural.steps import CudaGraphStep, EagerStep, adam, cuda_graphs_enabled

__all__ = ["NeuralEstimator", "TRAINING_PARAMS_DOC", "standardisation"]

#: Rows per forward pass at inference; bounds memory for any number of rows.
INFERENCE_CHUNK = 65536

TRAINING_PARAMS_DOC = """\
    max_epochs : int, default 100
        Most passes over the training rows.
    batch_size : int or "auto", default "auto"
        Rows per Adam step. "auto" is ``n_train // 32`` clipped to [16, 256]:
        small data sets still get about 32 steps per epoch, so they train.
    learning_rate : float, default 1e-3
        Adam's step size.
    weight_decay : float, default 0.0
        Adam's L2 penalty.
    validation_fraction : float in [0, 0.5), default 0.1
        Share of rows held out to decide early stopping and which epoch's
        weights to keep. 0 trains on every row and monitors the training loss.
    patience : int, default 10
        Epochs without improvement of the monitored loss before stopping.
    time_budget : float or None, default None
        Seconds of training after which no new epoch starts; None for no limit.
    device : str, default "auto"
        Torch device: "auto" (CUDA when available; ``$DRAMA2_DEVICE`` overrides), "cpu", "cuda", ...
    random_state : int, numpy Generator or None, default None
        Seeds initialisation, the validation split, shuffling and sampling; an
        int makes training repeatable on a given device."""


#: A best loss this many times the untrained network's means training blew up (short runs that merely have
#: not improved yet stay well below it); such a fit warns.
BLOW_UP_FACTOR = 2.0

#: Standard deviations below this mark a constant column, which is scaled by 1 instead of blown up.
MIN_SCALE = 1e-12


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of ``X``, with constant columns given a scale of 1."""
    scale = X.std(axis=0)
    scale[scale < MIN_SCALE] = 1.0
    return X.mean(axis=0), scale


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class NeuralEstimator:
    """Mixin with the training loop of drama2's torch models.

    Subclasses store the parameters named in :data:`TRAINING_PARAMS_DOC` in
    ``__init__`` (scikit-learn style) and implement:

    - ``_build_network(sample_shape)`` returning a ``torch.nn.Module`` for
      inputs of shape ``(batch, *sample_shape)``; it is built on the ``meta``
      device, so it must not create tensors with data.
    - ``_loss(network, batch, generator, target)`` returning the mean loss of
      a batch as a scalar tensor; ``generator`` is a device generator for any
      noise and ``target`` the batch's rows of the ``targets`` given to
      :meth:`_train` (None without).

    A model may also override ``_epoch_order(n, targets, generator)`` (which
    training rows an epoch visits, in order; a fresh permutation by default),
    e.g. for class-balanced sampling.

    After :meth:`_train` the estimator has ``network_`` (in eval mode),
    ``device_``, ``history_`` (``train_loss`` and ``val_loss`` per epoch),
    ``initial_loss_`` (the monitored loss before the first epoch when
    ``warns_on_blow_up``, else None),
    ``n_epochs_``, ``best_epoch_``, ``stop_reason_``, ``validation_rows_``
    (indices of the rows held out for early stopping) and
    ``cuda_graph_steps_`` (training steps replayed from a CUDA graph; 0 on
    the CPU, with ``$DRAMA2_CUDA_GRAPHS=0`` or after a failed capture).
    """

    #: Whether the untrained network's loss is a yardstick for this model (an autoencoder's is: a trained one
    #: reconstructs better than a random one); when True, a fit whose best loss is above BLOW_UP_FACTOR times
    #: it warns. Deep SVDD's is not: its loss starts near zero by construction.
    warns_on_blow_up = False

    # -- template methods ---------------------------------------------------------------
    def _build_network(self, sample_shape: tuple):
        raise NotImplementedError

    def _loss(self, network, batch, generator, target):
        raise NotImplementedError

    def _warm_start(self, network, X: np.ndarray) -> None:
        """Adjust a freshly initialised network from the training data before training (default: nothing)."""

    def _epoch_order(self, n: int, targets, generator):
        import torch

        return torch.randperm(n, generator=generator)

    # -- parameters ------------------------------------------------------------------------
    def _check_training_params(self) -> None:
        name = type(self).__name__
        params = ("max_epochs", "patience") + (() if self.batch_size == "auto" else ("batch_size",))
        for param in params:
            value = getattr(self, param)
            if not _is_int(value) or value < 1:
                raise InvalidInputError(f"{name}: {param} must be an integer >= 1, got {value!r}.")
        for param in ("learning_rate",):
            value = getattr(self, param)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
                raise InvalidInputError(f"{name}: {param} must be a positive number, got {value!r}.")
        wd = self.weight_decay
        if not isinstance(wd, numbers.Real) or isinstance(wd, bool) or not wd >= 0:
            raise InvalidInputError(f"{name}: weight_decay must be a number >= 0, got {wd!r}.")
        vf = self.validation_fraction
        if not isinstance(vf, numbers.Real) or isinstance(vf, bool) or not 0 <= vf < 0.5:
            raise InvalidInputError(f"{name}: validation_fraction must be in [0, 0.5), got {vf!r}.")
        tb = self.time_budget
        if tb is not None and (not isinstance(tb, numbers.Real) or isinstance(tb, bool) or not tb > 0):
            raise InvalidInputError(f"{name}: time_budget must be None or a positive number of seconds, got {tb!r}.")

    def _seed(self) -> int:
        if _is_int(self.random_state):
            return int(self.random_state) & 0x7FFF_FFFF_FFFF_FFFF
        return seed_from(check_random_state(self.random_state))

    def _split_sizes(self, n: int) -> tuple[int, int]:
        n_val = math.ceil(self.validation_fraction * n) if self.validation_fraction > 0 else 0
        if n - n_val < 2:
            need = 2 + (1 if n_val else 0)
            raise InvalidInputError(
                f"{type(self).__name__}: X has {n} rows, too few to train"
                + (f" with validation_fraction={self.validation_fraction} ({n_val} held out)" if n_val else "")
                + f"; provide at least {need} rows"
                + (" or set validation_fraction=0 (no early stopping)." if n_val else ".")
            )
        return n - n_val, n_val

    # -- training --------------------------------------------------------------------------
    def _train(self, X: np.ndarray, targets: np.ndarray | None = None, network=None, seed_offset: int = 0) -> None:
        """Train on ``X`` of shape (n, *sample_shape); sets the fitted attributes.

        Parameters
        ----------
        X : ndarray
            Training rows (already standardised or otherwise prepared).
        targets : ndarray of shape (n,), optional
            Per-row values handed to :meth:`_loss` with each batch (e.g. class indices).
        network : torch.nn.Module, optional
            Continue training this network (on its device) instead of building a fresh one.
        seed_offset : int
            Added to the seed, so a second training phase draws different batches.
        """
        import torch

        self._check_training_params()
        n_train, n_val = self._split_sizes(X.shape[0])
        seed = self._seed() + seed_offset
        cpu_generator = torch.Generator().manual_seed(seed)
        if network is None:
            device = torch.device(resolve_device(self.device))
            network = self._fresh_network(tuple(X.shape[1:]), cpu_generator)
            self._warm_start(network, X)
            network = network.to(device)
        else:
            device = next(network.parameters()).device

        # Move the rows once, then split on the device: a gather there is cheaper than on the host.
        data = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(device)
        order = torch.randperm(data.shape[0], generator=cpu_generator)
        on_device = order.to(device)
        train = data[on_device[:n_train]]
        val = data[on_device[n_train:]] if n_val else None
        del data
        if targets is not None:
            targets = torch.as_tensor(np.asarray(targets))[order]
            train_targets, val_targets = targets[:n_train].to(device), targets[n_train:].to(device)
        else:
            train_targets = val_targets = None
        noise = torch.Generator(device=device).manual_seed(seed + 1)
        val_noise = torch.Generator(device=device)

        optimizer = adam(network, float(self.learning_rate), float(self.weight_decay), device)
        history = {"train_loss": [], "val_loss": []}
        best_loss, best_epoch, best_state = math.inf, 0, None
        stop_reason, started, epoch = "max_epochs", time.perf_counter(), 0
        batch = min(256, max(16, n_train // 32)) if self.batch_size == "auto" else int(self.batch_size)
        step = (CudaGraphStep(self, network, optimizer, noise, batch) if device.type == "cuda" and cuda_graphs_enabled()
                else EagerStep(self, network, optimizer, noise))
        # The monitored loss of the network as it starts, the yardstick of a blow-up.
        initial_loss = None
        if self.warns_on_blow_up:
            val_noise.manual_seed(seed + 2)
            initial_loss = (self._mean_loss(network, val, val_noise, val_targets) if val is not None
                            else self._mean_loss(network, train, val_noise, train_targets))
        for epoch in range(1, int(self.max_epochs) + 1):
            network.train()
            shuffled = self._epoch_order(n_train, None if train_targets is None else train_targets.cpu(),
                                         cpu_generator).to(device)
            # One gather per epoch, then contiguous slices: cheaper than a small gather per step.
            epoch_rows = train[shuffled]
            epoch_targets = None if train_targets is None else train_targets[shuffled]
            total, seen = torch.zeros((), device=device), 0
            for start in range(0, len(shuffled), batch):
                rows = epoch_rows[start:start + batch]
                if rows.shape[0] < 2 and seen:
                    continue  # a lone trailing row would break batch norm and add only noise
                loss = step(rows, None if epoch_targets is None else epoch_targets[start:start + batch])
                total += loss * rows.shape[0]
                seen += rows.shape[0]
            train_loss = float(total) / seen  # one device sync per epoch
            self._check_finite(train_loss, epoch, "training")
            history["train_loss"].append(train_loss)
            if val is not None:
                val_noise.manual_seed(seed + 2)  # the same noise every epoch, so losses compare
                val_loss = self._mean_loss(network, val, val_noise, val_targets)
                self._check_finite(val_loss, epoch, "validation")
                history["val_loss"].append(val_loss)
            monitored = history["val_loss"][-1] if val is not None else train_loss
            if best_state is None or monitored < best_loss - 1e-7 * abs(best_loss):
                best_loss, best_epoch = monitored, epoch
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
            elif epoch - best_epoch >= int(self.patience):
                stop_reason = "early_stopping"
                break
            if self.time_budget is not None and time.perf_counter() - started >= float(self.time_budget):
                stop_reason = "time_budget"
                break
        network.load_state_dict(best_state)
        if initial_loss is not None and math.isfinite(initial_loss) and best_loss > BLOW_UP_FACTOR * initial_loss > 0:
            warnings.warn(
                f"{type(self).__name__}: the best {'validation' if val is not None else 'training'} loss "
                f"({best_loss:.4g}, epoch {best_epoch}) is more than {BLOW_UP_FACTOR:g}x that of the untrained "
                f"network ({initial_loss:.4g}): training blew up, and the model is worse than its random start. "
                f"Lower learning_rate (now {self.learning_rate}) or look at history_.", RuntimeWarning, stacklevel=3)
        optimizer.zero_grad(set_to_none=True)  # the last gradients are of no further use; free them
        network.eval()
        self.network_ = network
        self.device_ = str(device)
        self.history_ = history
        self.initial_loss_ = initial_loss
        self.n_epochs_ = epoch
        self.best_epoch_ = best_epoch
        self.stop_reason_ = stop_reason
        self.validation_rows_ = order[n_train:].numpy()
        self.training_seconds_ = time.perf_counter() - started
        self.cuda_graph_steps_ = getattr(step, "replays", 0)

    def _fresh_network(self, sample_shape: tuple, generator):
        """Build the network without touching the global RNG and initialise it from ``generator``."""
        import torch

        with torch.device("meta"):
            network = self._build_network(sample_shape)
        network = network.to_empty(device="cpu")
        with torch.no_grad():
            for module in network.modules():
                _initialise(module, generator)
        return network

    def _mean_loss(self, network, data, generator, targets=None) -> float:
        import torch

        network.eval()
        total = torch.zeros((), device=data.device)
        with torch.no_grad():
            for start in range(0, data.shape[0], INFERENCE_CHUNK):
                chunk = data[start:start + INFERENCE_CHUNK]
                target = None if targets is None else targets[start:start + INFERENCE_CHUNK]
                total += self._loss(network, chunk, generator, target) * chunk.shape[0]
        return float(total) / data.shape[0]

    def _check_finite(self, loss: float, epoch: int, which: str) -> None:
        if not math.isfinite(loss):
            raise TrainingDivergedError(
                f"{type(self).__name__}: the {which} loss became {loss} in epoch {epoch}, so training diverged "
                f"and no model was kept. Lower learning_rate (now {self.learning_rate}), or look for extreme "
                "values or outliers many orders of magnitude away in the data."
            )

    # -- inference -------------------------------------------------------------------------
    def _infer(self, fn, X: np.ndarray) -> np.ndarray:
        """Apply ``fn(network, batch)`` to ``X`` in chunks without gradients; float64 numpy out."""
        import torch

        outputs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], INFERENCE_CHUNK):
                chunk = torch.as_tensor(np.ascontiguousarray(X[start:start + INFERENCE_CHUNK], dtype=np.float32),
                                        device=self.device_)
                outputs.append(fn(self.network_, chunk).double().cpu().numpy())
        return np.concatenate(outputs) if outputs else np.empty((0,))


def _initialise(module, generator) -> None:
    """Initialise one module's own parameters as torch's defaults do, but from ``generator``."""
    from torch import nn

    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
        if module.bias is not None:
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            module.bias.uniform_(-bound, bound, generator=generator)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
        module.reset_parameters()  # constants only: ones, zeros and fresh running statistics
    elif any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
        raise TypeError(f"drama2 cannot initialise {type(module).__name__} from a generator; extend _initialise.")
