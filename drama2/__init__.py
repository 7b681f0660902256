"""drama2: a plugin-based anomaly-detection meta-algorithm toolkit.

Importing drama2 is cheap: torch is imported only when a model is fitted or
scored, and plugins are loaded on first use of the registry.
"""

from drama2 import evaluation
from drama2._version import __version__
from drama2.datasets import Dataset, load_dataset
from drama2.engine import Drama
from drama2.ensemble import Ensemble
from drama2.explanations import explain
from drama2.errors import (
    AmbiguousComponentError,
    ComponentLoadError,
    Drama2Error,
    InvalidInputError,
    NotFittedError,
    PluginLoadError,
    UnknownComponentError,
)
from drama2.hookspecs import hookimpl
from drama2.persistence import load, save
from drama2.registry import get_registry

__all__ = [
    "__version__",
    "Drama",
    "Ensemble",
    "evaluation",
    "explain",
    "Dataset",
    "load_dataset",
    "save",
    "load",
    "get_registry",
    "hookimpl",
    "Drama2Error",
    "InvalidInputError",
    "NotFittedError",
    "UnknownComponentError",
    "AmbiguousComponentError",
    "ComponentLoadError",
    "PluginLoadError",
]
