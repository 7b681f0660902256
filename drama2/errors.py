"""Exceptions raised by drama2.

Every error a user can trigger with bad input or a bad name is a subclass of
:class:`Drama2Error` *and* of the builtin exception a Python user would expect
(``ValueError`` for bad data, ``KeyError`` for bad names), so both
``except drama2.Drama2Error`` and ``except ValueError`` work.
"""

from __future__ import annotations

__all__ = [
    "Drama2Error",
    "InvalidInputError",
    "NotFittedError",
    "UnknownComponentError",
    "AmbiguousComponentError",
    "ComponentLoadError",
    "PluginLoadError",
    "TrainingDivergedError",
]


class Drama2Error(Exception):
    """Base class of every exception drama2 raises on purpose."""


class InvalidInputError(Drama2Error, ValueError):
    """The data or a parameter value cannot be used; the message says what to change."""


class NotFittedError(Drama2Error, ValueError, AttributeError):
    """An estimator was used before ``fit`` was called."""


class _KeyMessage(Drama2Error, KeyError):
    # KeyError.__str__ wraps the message in quotes; show it as written instead.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownComponentError(_KeyMessage):
    """No registered component of that kind has that name."""


class AmbiguousComponentError(_KeyMessage):
    """Two or more plugins registered the same name; the message lists the qualified names."""


class ComponentLoadError(Drama2Error, ImportError):
    """A registered component's lazy ``"module:attr"`` target could not be imported."""


class PluginLoadError(Drama2Error, RuntimeError):
    """A plugin failed to load or register while the registry runs in strict mode."""


class TrainingDivergedError(Drama2Error, FloatingPointError):
    """Training a neural model produced a non-finite loss; the message names the epoch and what to try."""
