"""Hook specifications of drama2's plugin system (pluggy project ``"drama2"``).

A plugin is a module listed under the ``drama2`` entry-point group that
implements any of these hooks with :data:`drama2.hookimpl`. Each registration
hook receives a ``register`` callback::

    register(name, factory, *, description="", **metadata)

``factory`` is the component itself (a class or function) or a lazy
``"module:attr"`` string that drama2 imports only when the component is
first used, so listing plugins never imports heavy libraries such as torch.
Built-in components are registered through these same hooks.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT_NAME = "drama2"
ENTRY_POINT_GROUP = "drama2"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

RegisterCallback = Callable[..., None]

HOOK_KINDS = {
    "register_reducers": "reducers",
    "register_metrics": "metrics",
    "register_clusterers": "clusterers",
    "register_scorers": "scorers",
    "register_datasets": "datasets",
}


@hookspec
def register_reducers(register: RegisterCallback) -> None:
    """Register dimensionality reducers.

    The factory is a class whose constructor takes ``n_components`` and
    ``random_state`` keywords (plus its own parameters) and whose instances
    implement ``fit(X)``, ``transform(X)`` and, when the method has one,
    ``inverse_transform(Z)``. A reducer without an inverse sets the class
    attribute ``has_inverse = False``; DRAMA then uses member means as prototypes.
    """


@hookspec
def register_metrics(register: RegisterCallback) -> None:
    """Register distance metrics between samples and prototypes.

    The factory is a function ``kernel(X, prototypes, stats) -> D`` on torch
    tensors: ``X`` (m, d), ``prototypes`` (K, d) and ``stats`` a
    :class:`drama2.metrics.LeafStats` with the leaves' member means,
    covariances and standard deviations, returning (m, K) distances on the
    same device. drama2 calls it on row chunks; it must not modify its inputs.
    """


@hookspec
def register_clusterers(register: RegisterCallback) -> None:
    """Register clusterers used to split a leaf in latent space.

    The factory is a class taking ``n_clusters`` and ``random_state`` keywords
    whose instances implement ``fit_predict(Z) -> labels`` with labels in
    ``0 .. n_clusters - 1``.
    """


@hookspec
def register_scorers(register: RegisterCallback) -> None:
    """Register whole anomaly detectors (scorers).

    The factory is a class following the detector contract: ``fit(X, y=None)``,
    ``score_samples(X)`` returning higher values for more anomalous samples,
    ``decision_function``, ``predict`` and ``decision_scores_``.
    """


@hookspec
def register_datasets(register: RegisterCallback) -> None:
    """Register named datasets.

    The factory is a function ``load(**options) -> Dataset`` returning an
    object with ``X`` (float64 array), ``y`` (0/1 array or None), ``name`` and
    metadata.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``drama2`` command line.

    ``cli`` is the top-level :class:`click.Group`; decorate new commands with
    ``@cli.command()``. Commands should call public Python API, not reimplement it.
    """
