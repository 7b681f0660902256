"""Dimensionality reducers: the first stage of a DRAMA pipeline."""

from drama2.reducers.base import Reducer
from drama2.reducers.linear import ICAReducer, IdentityReducer, NMFReducer, PCAReducer

__all__ = ["Reducer", "IdentityReducer", "PCAReducer", "ICAReducer", "NMFReducer"]
