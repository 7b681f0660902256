"""Shared torch machinery of drama2's neural components: the training loop and network builders.

Importing this package imports torch; the registry names the neural
components as lazy ``"module:attr"`` strings, so listing them does not.
"""

from drama2.errors import TrainingDivergedError
from drama2.neural.training import NeuralEstimator

__all__ = ["NeuralEstimator", "TrainingDivergedError"]
