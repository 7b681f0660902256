"""One optimisation step of drama2's training loop, run op by op or replayed from a CUDA graph.

:class:`~drama2.neural.training.NeuralEstimator` calls a step object once per
batch. :class:`EagerStep` runs the model's loss, backward pass and Adam op by
op; :class:`CudaGraphStep` (CUDA only) captures that step once as a CUDA graph
and replays it, because a small network on a GPU is bound by the launches of
its many tiny kernels rather than by arithmetic.
"""

from __future__ import annotations

import os
import threading
import warnings

__all__ = ["EagerStep", "CudaGraphStep", "adam", "cuda_graphs_enabled"]


def adam(network, learning_rate: float, weight_decay: float, device=None):
    """Adam, fused into one kernel per step where torch offers it (about 1.6x faster steps on small CPU nets).

    On CUDA it is also ``capturable`` (its step count lives on the device), so a CUDA graph can replay it.
    """
    import torch

    capturable = {"capturable": True} if device is not None and torch.device(device).type == "cuda" else {}
    try:
        return torch.optim.Adam(network.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True,
                                **capturable)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(network.parameters(), lr=learning_rate, weight_decay=weight_decay, **capturable)


def cuda_graphs_enabled() -> bool:
    """CUDA-graph training steps, unless ``$DRAMA2_CUDA_GRAPHS`` is 0 (to compare, or to rule them out)."""
    return os.environ.get("DRAMA2_CUDA_GRAPHS", "1") != "0"


class EagerStep:
    """One optimiser step on a batch, run op by op; returns the batch's loss (detached)."""

    def __init__(self, estimator, network, optimizer, noise):
        self.estimator, self.network, self.optimizer, self.noise = estimator, network, optimizer, noise

    def __call__(self, rows, target):
        loss = self.estimator._loss(self.network, rows, self.noise, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


class CudaGraphStep(EagerStep):
    """Training steps on CUDA replayed from one captured CUDA graph.

    A small network on a GPU is bound by kernel launches, not arithmetic: an
    eager step issues dozens of them from Python, one after the other. A CUDA
    graph of the whole step (forward, backward, Adam) is issued at once. The
    first ``WARMUP`` full batches run eagerly on a side stream (torch's
    recipe: it initialises the optimiser state and the libraries' workspaces
    before capture), the next one is captured, and every later full batch is
    copied into the graph's input and replayed. Batches of another size (an
    epoch's tail) run eagerly. If capture fails, training goes on eagerly
    with a warning and a fresh noise generator (the old one stays tied to the
    failed graph).
    """

    WARMUP = 3

    def __init__(self, estimator, network, optimizer, noise, batch):
        super().__init__(estimator, network, optimizer, noise)
        self.batch, self.warm, self.replays = batch, 0, 0
        self.graph = self.static_rows = self.static_target = self.static_loss = None
        self.failed = False

    def __call__(self, rows, target):
        import torch

        if self.failed or rows.shape[0] != self.batch:
            return super().__call__(rows, target)
        if self.warm < self.WARMUP:
            self.warm += 1
            side, current = _side_stream(rows.device), torch.cuda.current_stream(rows.device)
            side.wait_stream(current)
            with torch.cuda.stream(side):
                loss = super().__call__(rows, target)
            current.wait_stream(side)
            return loss
        if self.graph is None and not self._capture(rows, target):
            return super().__call__(rows, target)
        self.static_rows.copy_(rows)
        if target is not None:
            self.static_target.copy_(target)
        self.graph.replay()
        self.replays += 1
        return self.static_loss

    def _capture(self, rows, target) -> bool:
        import torch

        device = rows.device
        self.static_rows = rows.clone()
        self.static_target = None if target is None else target.clone()
        graph = torch.cuda.CUDAGraph()
        if hasattr(graph, "register_generator_state"):
            graph.register_generator_state(self.noise)  # the VAE's noise comes from this generator
        self.optimizer.zero_grad(set_to_none=True)  # gradients are then allocated in the graph's own memory
        side, current = _side_stream(device), torch.cuda.current_stream(device)
        torch.cuda.synchronize(device)
        try:
            # Begin and end the capture by hand, on a stream of the model's device (torch.cuda.graph's own
            # stream belongs to whichever device was current first), so that the previous stream is restored
            # even when the capture is invalidated; "thread_local" leaves other threads' work alone.
            with torch.cuda.device(device), torch.cuda.stream(side):
                graph.capture_begin(capture_error_mode="thread_local")
                try:
                    loss = self.estimator._loss(self.network, self.static_rows, self.noise, self.static_target)
                    loss.backward()
                    self.optimizer.step()
                finally:
                    graph.capture_end()
        except RuntimeError as exc:
            warnings.warn(f"{type(self.estimator).__name__}: could not capture the training step as a CUDA graph "
                          f"({exc}); training goes on step by step, which is slower on a GPU.", RuntimeWarning,
                          stacklevel=4)
            self.failed = True
            self.optimizer.zero_grad(set_to_none=True)
            self.noise = _fresh_generator_like(self.noise)
            return False
        current.wait_stream(side)
        self.graph, self.static_loss = graph, loss.detach()
        return True


_STREAMS = threading.local()


def _side_stream(device):
    """This thread's side stream on ``device``, made once and reused.

    torch keeps a cuBLAS workspace for every stream that ran a matmul (64 MiB each on an H200) and never
    frees it, so a new stream per fit would hold on to more device memory with every fit.
    """
    import torch

    streams = getattr(_STREAMS, "by_device", None)
    if streams is None:
        streams = _STREAMS.by_device = {}
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in streams:
        streams[index] = torch.cuda.Stream(device=index)
    return streams[index]


def _fresh_generator_like(generator):
    """A new generator with ``generator``'s seed and, where torch tells it, its offset."""
    import torch

    fresh = torch.Generator(device=generator.device).manual_seed(generator.initial_seed())
    try:
        fresh.set_offset(generator.get_offset())
    except (AttributeError, RuntimeError):
        pass
    return fresh
