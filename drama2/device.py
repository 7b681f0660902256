"""Device resolution and random-state helpers (torch is imported lazily)."""

from __future__ import annotations

import os

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["resolve_device", "check_random_state", "like_input"]


#: Device types drama2's models run on (mps: Apple GPUs).
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | None = "auto") -> str:
    """Return a concrete torch device string for ``device``.

    ``"auto"`` (or None) picks ``$DRAMA2_DEVICE`` when set, else CUDA when
    available, else the CPU. An explicit ``"cuda"`` on a machine without CUDA
    is an error rather than a silent fallback.
    """
    import torch

    if device is None or str(device) == "auto":
        device = os.environ.get("DRAMA2_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    device = str(device)
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in _DEVICE_TYPES:  # torch also parses "meta" and others no model runs on
        raise InvalidInputError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device {device!r} was requested but CUDA is not available on this machine; use device='auto' "
            "or 'cpu' (or unset DRAMA2_DEVICE)."
        )
    return str(parsed)


def check_random_state(random_state) -> np.random.Generator:
    """Turn None, an int or a numpy Generator into a Generator without touching global state."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise InvalidInputError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}.")


def seed_from(rng: np.random.Generator) -> int:
    """Draw a 31-bit integer seed for libraries that only accept ints (scikit-learn)."""
    return int(rng.integers(0, 2**31 - 1))


def like_input(values: np.ndarray, X):
    """``values`` as a tensor on ``X``'s device, of ``X``'s floating dtype, when ``X`` is a tensor; else as they are.

    Torch in, torch out: scores of tensor rows come back where the rows were.
    """
    if not (hasattr(X, "detach") and hasattr(X, "device")):
        return values
    import torch

    dtype = X.dtype if X.dtype.is_floating_point else None
    return torch.as_tensor(values, device=X.device, dtype=dtype)
