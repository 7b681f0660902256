"""A drama2 plugin registering a Gaussian random-projection reducer (``"random-projection"``)."""

from __future__ import annotations

import drama2

__version__ = "0.1.0"


@drama2.hookimpl
def register_reducers(register):
    # A lazy "module:attr" string: scikit-learn is imported only when the reducer is used.
    register(
        "random-projection",
        "drama2_random_projection.reducer:RandomProjectionReducer",
        description="Gaussian random projection (Johnson–Lindenstrauss), inverse by pseudo-inverse",
    )
