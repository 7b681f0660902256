"""Saving fitted models to one file and loading them back, without pickle.

``drama2.save(model, path)`` (or ``model.save(path)``) writes a zip container
with three members:

``manifest.json``
    The format name (``"drama2-model"``), the format version, the drama2 and
    library versions that wrote it, the model's class, and the sha256 of the
    two other members.
``model.json``
    The model's object graph as JSON: plain values inline, every other object
    as ``{"$": kind, ...}`` (an instance of an allowed class with its
    attributes, a torch module with its parameters and sub-modules, an array
    by the key of its data in ``tensors.safetensors``, ...). Shared objects
    are written once and referenced by id after that.
``tensors.safetensors``
    Every numpy array and torch tensor (safetensors holds data only, never code).

``drama2.load(path)`` checks the format name and version, verifies both
hashes, and rebuilds the graph. Nothing in the file can run code: the loader
never unpickles; it creates instances only of classes from an allow-list of
packages (drama2, scikit-learn, PyOD, ``torch.nn``/``torch.optim``, and only
through dedicated handlers numpy and torch types), with ``cls.__new__`` plus
their attribute dictionary, and refers to functions only by import path
within the same packages. scikit-learn's compiled tree tables are checked
before use (every child index inside the table); k-d and ball trees are
rebuilt from their training data instead of being restored. See
``docs/saving.md``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import secrets
import sys
import zipfile
from pathlib import Path
from typing import Any

from drama2._version import __version__
from drama2.errors import InvalidInputError, NotFittedError

__all__ = ["save", "load", "Saveable", "FORMAT_NAME", "FORMAT_VERSION", "TRUSTED_PACKAGES"]

#: The ``format`` field of every drama2 model file's manifest.
FORMAT_NAME = "drama2-model"
#: The format version this drama2 writes; it reads this version and every older one it lists.
FORMAT_VERSION = 1
_READABLE_VERSIONS = (1,)

#: Packages whose classes and functions a model file may name.
TRUSTED_PACKAGES = ("drama2", "sklearn", "pyod", "torch", "numpy")

_MANIFEST, _GRAPH, _TENSORS = "manifest.json", "model.json", "tensors.safetensors"
_MEMBERS = (_MANIFEST, _GRAPH, _TENSORS)
_MAX_MANIFEST_BYTES = 1 << 20
_MAX_GRAPH_BYTES = 1 << 30
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model always gives the same bytes

# Builtin classes that may appear as values (e.g. dtype=float).
_BUILTIN_TYPES = {"float": float, "int": int, "bool": bool, "str": str, "complex": complex, "bytes": bytes,
                  "list": list, "dict": dict, "tuple": tuple, "object": object}
# Defence in depth: never resolve a function that reads files or runs code, even inside a trusted package.
_FORBIDDEN_NAME_PARTS = ("load", "save", "open", "exec", "eval", "system", "compile", "import", "pickle", "hub",
                         "popen", "spawn", "subprocess", "serializ", "remove", "unlink", "rmtree", "write")
# Attributes that are caches: not written, and reset to a fresh value on load (by class, MRO-wide).
_TRANSIENT = {
    "drama2.metrics.LeafStats": {"_cache": dict},
    "drama2.ensemble.Ensemble": {"_cache": lambda: None},
}
# Types of the functions a model may refer to by import path (numpy's dispatchers wrap e.g. np.mean).
_FUNCTION_TYPES = ("function", "builtin_function_or_method", "_ArrayFunctionDispatcher")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# safetensors stores these numpy dtypes natively (little-endian); any other dtype is stored as raw bytes.
_NATIVE_DTYPES = ("|b1", "|u1", "|i1", "<i2", "<u2", "<f2", "<i4", "<u4", "<f4", "<f8", "<i8", "<u8")
# Binary-tree metrics that can be rebuilt by name, with the parameters taken from the fitted metric.
_TREE_METRICS = {"EuclideanDistance64": "euclidean", "ManhattanDistance64": "manhattan",
                 "ChebyshevDistance64": "chebyshev", "MinkowskiDistance64": "minkowski"}


class _MissingPathError(InvalidInputError, FileNotFoundError):
    """A file or directory that is not there (both ``InvalidInputError`` and ``FileNotFoundError``)."""


class Saveable:
    """Mixin that gives an estimator :meth:`save`; :func:`drama2.load` reads the file back."""

    def save(self, path, *, trusted=()) -> Path:
        """Write this fitted model to ``path`` (one file; ``.drama2`` is a good suffix).

        Parameters
        ----------
        path : str or Path
            The file to write; its directory must exist. An existing file is
            replaced only once the new one is complete.
        trusted : sequence of str, optional
            More top-level packages whose classes the model may contain (for
            plugin components), besides :data:`TRUSTED_PACKAGES`.

        Returns
        -------
        Path
            ``path``, so that ``drama2.load(model.save(path))`` works.
        """
        return save(self, path, trusted=trusted)


# ====================================================================== helpers
def _qualified(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _owner(cls, name: str):
    """The class in ``cls``'s MRO that defines ``name`` (None when none does)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def _overrides(cls, name: str) -> bool:
    owner = _owner(cls, name)
    return owner is not None and owner is not object


def _slot_names(cls) -> list[str]:
    names = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        names += [s for s in ([slots] if isinstance(slots, str) else slots) if s not in ("__dict__", "__weakref__")]
    return names


def _root_package(module_name: str) -> str:
    return module_name.split(".")[0]


def _transient(cls) -> dict:
    out = {}
    for klass in reversed(cls.__mro__):
        out.update(_TRANSIENT.get(_dotted(klass), {}))
    return out


def _torch():
    return sys.modules.get("torch")


def _dtype_spec(dtype, where: str):
    """A JSON description of a numpy dtype (structured and sub-array dtypes included)."""
    if dtype.hasobject:
        raise _unsupported_error(where, "an array of Python objects inside a structured dtype")
    if dtype.fields is not None:
        return {"names": list(dtype.names),
                "formats": [_dtype_spec(dtype.fields[n][0], where) for n in dtype.names],
                "offsets": [int(dtype.fields[n][1]) for n in dtype.names], "itemsize": int(dtype.itemsize)}
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return {"base": _dtype_spec(base, where), "shape": [int(s) for s in shape]}
    return dtype.str


def _dtype_from(spec):
    import numpy as np

    if isinstance(spec, str):
        dtype = np.dtype(spec)
    elif isinstance(spec, dict) and "names" in spec:
        dtype = np.dtype({"names": [str(n) for n in spec["names"]],
                          "formats": [_dtype_from(f) for f in spec["formats"]],
                          "offsets": [int(o) for o in spec["offsets"]], "itemsize": int(spec["itemsize"])})
    elif isinstance(spec, dict) and "base" in spec:
        dtype = np.dtype((_dtype_from(spec["base"]), tuple(int(s) for s in spec["shape"])))
    else:
        raise ValueError(f"bad dtype description {spec!r}")
    if dtype.hasobject:
        raise ValueError("a dtype holding Python objects")
    return dtype


_UNSUPPORTED_HINT = ("A model file holds plain Python values, numpy arrays, torch tensors and objects of drama2, "
                     "scikit-learn, PyOD, torch.nn and torch.optim; remove or replace that attribute (or pass "
                     "trusted=[...] for a plugin package's classes).")


def _unsupported_error(where: str, what: str) -> InvalidInputError:
    return InvalidInputError(f"cannot save this model: {where} is {what}, which drama2's model format cannot "
                             f"represent. {_UNSUPPORTED_HINT}")


class _Refused(Exception):
    """A name the model file may not refer to; the message says why."""


def _lookup(module_name: str, qualname: str, roots: tuple, *, classes_only: bool = False):
    """The function or class ``module_name.qualname``, if a model file may refer to it; else :class:`_Refused`.

    The name must be the object's own (``obj.__module__`` and ``obj.__qualname__``), in a package of
    ``roots``, outside test and ``__main__`` modules; a function whose name suggests file access or code
    execution is refused even there. Raises ImportError or AttributeError when the name does not exist.
    """
    if module_name == "builtins":
        if qualname not in _BUILTIN_TYPES:
            raise _Refused("builtins other than plain types are not allowed")
        return _BUILTIN_TYPES[qualname]
    parts = module_name.split(".")
    if parts[0] not in roots:
        raise _Refused(f"package {parts[0]!r} is not allowed here (allowed: {', '.join(roots) or 'none'})")
    if not all(p.isidentifier() for p in parts) or any(p in ("__main__", "tests", "testing", "conftest")
                                                         for p in parts):
        raise _Refused("test, __main__ and malformed module names are never imported")
    if not qualname or not all(p.isidentifier() for p in qualname.split(".")):
        raise _Refused("a local function, lambda or nested class cannot be referred to by import path")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if getattr(obj, "__module__", None) != module_name or getattr(obj, "__qualname__", None) != qualname:
        raise _Refused("that is not the name of a function or class defined there")
    if isinstance(obj, type):
        return obj
    if classes_only:
        raise _Refused("not a class")
    if type(obj).__name__ not in _FUNCTION_TYPES:
        raise _Refused("neither a function nor a class")
    lowered = f"{module_name}.{qualname}".lower()
    bad = [part for part in _FORBIDDEN_NAME_PARTS if part in lowered]
    if bad:
        raise _Refused(f"its name contains {bad[0]!r}, and functions that read files or run code are never used")
    return obj


def _instance_roots(trusted: tuple) -> tuple:
    return tuple(p for p in trusted if p not in ("torch", "numpy"))


# ====================================================================== saving
class _Encoder:
    """Walks an object graph into JSON, with arrays and tensors collected for safetensors."""

    def __init__(self, trusted: tuple):
        self.trusted = trusted
        self.arrays: dict[str, Any] = {}
        self.ids: dict[int, int] = {}
        self.keep: list = []  # keeps every memoised object alive, so no id() is reused during the walk

    # -- memo -----------------------------------------------------------------------------
    def _remember(self, value) -> int:
        n = len(self.ids)
        self.ids[id(value)] = n
        self.keep.append(value)
        return n

    def _store_array(self, arr, where: str) -> dict:
        """Put ``arr``'s data in the safetensors payload; returns how to find and read it back."""
        import numpy as np

        key = f"a{len(self.arrays)}"
        spec = _dtype_spec(arr.dtype, where)
        if arr.dtype.str in _NATIVE_DTYPES and arr.dtype.fields is None:
            self.arrays[key] = arr if arr.flags.c_contiguous else arr.copy(order="C")
            return {"key": key, "dtype": spec, "shape": list(arr.shape)}
        # Anything else (structured, big-endian, strings, complex, ...): the exact bytes, dtype described in JSON.
        raw = np.frombuffer(arr.tobytes(order="C"), dtype=np.uint8)
        self.arrays[key] = raw
        return {"key": key, "dtype": spec, "shape": list(arr.shape), "raw": True}

    # -- the walk -------------------------------------------------------------------------
    def encode(self, value, where: str):
        t = type(value)
        if value is None or t is bool or t is str or t is int:
            return value
        if t is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if t is tuple:
            return {"$": "tuple", "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if id(value) in self.ids:
            return {"$": "ref", "id": self.ids[id(value)]}
        np = sys.modules.get("numpy")
        torch = _torch()
        if np is not None:
            out = self._numpy(value, where, np)
            if out is not None:
                return out
        if torch is not None:
            out = self._torch(value, where, torch)
            if out is not None:
                return out
        if t is list:
            n = self._remember(value)
            return {"$": "list", "id": n, "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if t is dict:
            n = self._remember(value)
            return {"$": "dict", "id": n, **self._mapping(value, where)}
        if t is set or t is frozenset:
            n = self._remember(value)
            items = list(value)
            try:
                items.sort()
            except TypeError:
                pass
            return {"$": t.__name__, "id": n, "items": [self.encode(v, f"{where}{{}}") for v in items]}
        if _dotted(t) == "collections.OrderedDict":
            n = self._remember(value)
            return {"$": "odict", "id": n, "pairs": self._mapping(value, where, pairs=True)["pairs"]}
        if _dotted(t) == "collections.defaultdict":
            n = self._remember(value)
            factory = None if value.default_factory is None else self.encode(value.default_factory,
                                                                             f"{where}.default_factory")
            return {"$": "defaultdict", "id": n, "factory": factory, **self._mapping(value, where, pairs=True)}
        if t is complex:
            return {"$": "complex", "re": self.encode(value.real, where), "im": self.encode(value.imag, where)}
        if t is bytes:
            return {"$": "bytes", "hex": value.hex()}
        if t is slice:
            return {"$": "slice", "items": [self.encode(v, where) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, type) or t.__name__ in _FUNCTION_TYPES:
            return self._global(value, where)
        if t.__module__.startswith("sklearn.tree._tree") and t.__name__ == "Tree":
            return self._sklearn_tree(value, where)
        if t.__module__.startswith("sklearn.neighbors.") and t.__name__ in ("KDTree", "BallTree"):
            return self._binary_tree(value, where)
        if t.__module__ == "sklearn.metrics._dist_metrics":
            return self._distance_metric(value, where)
        return self._instance(value, where)

    def _mapping(self, value, where: str, *, pairs: bool = False) -> dict:
        if not pairs and all(type(k) is str for k in value):
            return {"items": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
        return {"pairs": [[self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                          for k, v in value.items()]}

    def _global(self, value, where: str):
        module_name = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None)
        if not isinstance(module_name, str) or not isinstance(qualname, str):
            raise _unsupported_error(where, f"the callable {value!r} without an import path")
        try:
            why = None if _lookup(module_name, qualname, self.trusted) is value else "its name leads elsewhere"
        except _Refused as exc:
            why = str(exc)
        except (ImportError, AttributeError):
            why = "its import path does not lead back to it"
        if why:
            raise _unsupported_error(where, f"a reference to {module_name}.{qualname} ({why})")
        return {"$": "global", "path": f"{module_name}:{qualname}"}

    # -- numpy ----------------------------------------------------------------------------
    def _numpy(self, value, where: str, np):
        t = type(value)
        if t is np.ndarray:
            n = self._remember(value)
            if value.dtype.hasobject:
                if value.dtype.fields is not None:
                    raise _unsupported_error(where, "a structured array with Python-object fields")
                items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value.reshape(-1).tolist())]
                return {"$": "objarray", "id": n, "shape": list(value.shape), "items": items}
            node = {"$": "ndarray", "id": n, **self._store_array(value, where)}
            if value.ndim > 1 and value.flags.f_contiguous and not value.flags.c_contiguous:
                node["order"] = "F"
            if not value.flags.writeable:
                node["writeable"] = False
            return node
        if isinstance(value, np.ndarray):
            raise _unsupported_error(where, f"a {t.__name__} (an ndarray subclass); convert it with np.asarray")
        if isinstance(value, np.generic):
            if value.dtype.hasobject:
                raise _unsupported_error(where, "a numpy object scalar")
            return {"$": "npscalar", "dtype": _dtype_spec(value.dtype, where), "hex": value.tobytes().hex()}
        if isinstance(value, np.dtype):
            return {"$": "npdtype", "dtype": _dtype_spec(value, where)}
        if t is np.random.Generator:
            bit_generator = value.bit_generator
            name = type(bit_generator).__name__
            if name not in _BIT_GENERATORS:
                raise _unsupported_error(where, f"a numpy Generator on the bit generator {name}")
            n = self._remember(value)
            return {"$": "npgenerator", "id": n, "bit_generator": name,
                    "state": self.encode(bit_generator.state, f"{where}.bit_generator.state")}
        if t is np.random.RandomState:
            n = self._remember(value)
            return {"$": "nprandomstate", "id": n,
                    "state": self.encode(value.get_state(legacy=False), f"{where}.state")}
        if t is np.ufunc:
            if getattr(np, value.__name__, None) is not value:
                raise _unsupported_error(where, f"the numpy ufunc {value!r} without a top-level name")
            return {"$": "npufunc", "name": value.__name__}
        return None

    # -- torch ----------------------------------------------------------------------------
    def _torch(self, value, where: str, torch):
        t = type(value)
        if isinstance(value, torch.Tensor):
            return self._tensor(value, where, torch)
        if t is torch.device:
            return {"$": "torchdevice", "v": str(value)}
        if t is torch.dtype:
            return {"$": "torchdtype", "v": str(value).removeprefix("torch.")}
        if isinstance(value, torch.nn.Module):
            return self._module(value, where, torch)
        if isinstance(value, torch.optim.Optimizer):
            return self._optimizer(value, where, torch)
        if t is torch.Generator:
            raise _unsupported_error(where, "a torch.Generator")
        return None

    def _tensor(self, value, where: str, torch):
        t = type(value)
        if t not in (torch.Tensor, torch.nn.Parameter):
            raise _unsupported_error(where, f"a tensor subclass {t.__name__}")
        if value.layout is not torch.strided or value.is_quantized or value.device.type == "meta":
            raise _unsupported_error(where, f"a {value.layout} / quantized / meta tensor")
        n = self._remember(value)
        data = value.detach().resolve_conj().resolve_neg()
        dtype = str(data.dtype).removeprefix("torch.")
        if data.dtype is torch.bfloat16:
            data = data.view(torch.int16)
        try:
            arr = data.cpu().contiguous().numpy()
        except (TypeError, RuntimeError) as exc:
            raise _unsupported_error(where, f"a tensor of dtype {dtype} ({exc})") from None
        node = {"$": "tensor", "id": n, **self._store_array(arr, where), "torch_dtype": dtype,
                "device": str(value.device)}
        if t is torch.nn.Parameter:
            node["parameter"] = True
        if value.requires_grad:
            node["requires_grad"] = True
        return node

    def _module(self, value, where: str, torch):
        cls = type(value)
        self._check_class(cls, where, module=True)
        n = self._remember(value)
        fresh = vars(torch.nn.Module())
        handled = {"_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "training"}
        attrs = {}
        for key, item in vars(value).items():
            if key in handled:
                continue
            if key in fresh:
                default = fresh[key]
                empty = (len(item) == 0) if hasattr(item, "__len__") else (item is default or item == default)
                if not empty:
                    raise _unsupported_error(f"{where}.{key}", "a torch hook or compiled-module state (hooks are "
                                             "functions, which a model file never holds)")
                continue
            attrs[key] = self.encode(item, f"{where}.{key}")
        return {"$": "module", "id": n, "class": _qualified(cls), "training": bool(value.training),
                "attrs": attrs,
                "params": {k: self.encode(v, f"{where}.{k}") for k, v in value._parameters.items()},
                "buffers": {k: self.encode(v, f"{where}.{k}") for k, v in value._buffers.items()},
                "non_persistent": sorted(value._non_persistent_buffers_set),
                "modules": {k: self.encode(v, f"{where}.{k}") for k, v in value._modules.items()}}

    def _optimizer(self, value, where: str, torch):
        cls = type(value)
        if not cls.__module__.startswith("torch.optim."):
            raise _unsupported_error(where, f"the optimizer {_dotted(cls)} (only torch.optim optimizers)")
        n = self._remember(value)
        groups = []
        for g, group in enumerate(value.param_groups):
            options = {k: v for k, v in group.items() if k != "params"}
            groups.append({"params": [self.encode(p, f"{where}.param_groups[{g}]") for p in group["params"]],
                           "options": self.encode(options, f"{where}.param_groups[{g}]")})
        state = value.state_dict()["state"]
        return {"$": "optimizer", "id": n, "class": _qualified(cls),
                "defaults": self.encode(dict(value.defaults), f"{where}.defaults"), "groups": groups,
                "state": self.encode(state, f"{where}.state")}

    # -- scikit-learn's compiled trees ----------------------------------------------------
    def _sklearn_tree(self, value, where: str):
        reduced = value.__reduce__()
        if len(reduced) != 3 or reduced[0] is not type(value) or not isinstance(reduced[2], dict):
            raise _unsupported_error(where, "a scikit-learn Tree of an unknown layout")
        n = self._remember(value)
        return {"$": "sktree", "id": n, "class": _qualified(type(value)),
                "args": self.encode(tuple(reduced[1]), f"{where}.args"),
                "state": self.encode(reduced[2], f"{where}.state")}

    def _metric_spec(self, metric, where: str) -> tuple[str, dict]:
        name = _TREE_METRICS.get(type(metric).__name__)
        if name is None:
            raise _unsupported_error(where, f"the distance metric {type(metric).__name__} (only "
                                     f"{', '.join(sorted(_TREE_METRICS.values()))} can be rebuilt)")
        params = {}
        if name == "minkowski":
            p, w = metric.__getstate__()[:2]
            params["p"] = float(p)
            if w is not None and len(w):
                params["w"] = w
        return name, params

    def _distance_metric(self, value, where: str):
        """A scikit-learn DistanceMetric, kept as its name and parameters (checked to rebuild identically)."""
        import numpy as np
        from sklearn.metrics import DistanceMetric

        name, params = self._metric_spec(value, where)
        rebuilt = DistanceMetric.get_metric(name, **params)
        same = type(rebuilt) is type(value) and all(
            np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(value.__getstate__(), rebuilt.__getstate__()))
        if not same:
            raise _unsupported_error(where, f"a {type(value).__name__} that cannot be rebuilt from its name")
        n = self._remember(value)
        return {"$": "distmetric", "id": n, "metric": name, "params": self.encode(params, f"{where}.params")}

    def _binary_tree(self, value, where: str):
        """A k-d or ball tree, kept as what rebuilds it; the rebuilt tree is checked to be identical now."""
        from sklearn.metrics._dist_metrics import DistanceMetric

        cls = type(value)
        state = value.__getstate__()
        data = value.get_arrays()[0]
        metric = next((s for s in state if isinstance(s, DistanceMetric)), None)
        leaf_size = state[4] if len(state) > 4 and type(state[4]) is int else None
        if leaf_size is None:
            raise _unsupported_error(where, f"a {cls.__name__} of an unknown layout")
        name, params = self._metric_spec(metric, where)
        sample_weight = getattr(value, "sample_weight", None)
        rebuilt = _rebuild_binary_tree(cls, data, leaf_size, name, params, sample_weight)
        if not _same_binary_tree(value, rebuilt):
            raise _unsupported_error(where, f"a {cls.__name__} that rebuilding from its data does not reproduce")
        n = self._remember(value)
        return {"$": "binarytree", "id": n, "class": _qualified(cls), "data": self.encode(data, f"{where}.data"),
                "leaf_size": leaf_size, "metric": name, "metric_params": self.encode(params, f"{where}.metric"),
                "sample_weight": self.encode(sample_weight, f"{where}.sample_weight")}

    # -- plain instances ------------------------------------------------------------------
    def _check_class(self, cls, where: str, *, module: bool = False) -> None:
        module_name = cls.__module__
        if module:
            roots = self.trusted if not module_name.startswith("torch.") or module_name.startswith("torch.nn.") \
                else ()
        else:
            roots = _instance_roots(self.trusted)
        try:
            why = None if _lookup(module_name, cls.__qualname__, roots, classes_only=True) is cls \
                else "its name leads elsewhere"
        except _Refused as exc:
            why = str(exc)
        except (ImportError, AttributeError):
            why = "it cannot be imported by its name"
        if why is None and not module and (
                _overrides(cls, "__reduce_ex__") or _overrides(cls, "__reduce__") or _overrides(cls, "__new__")):
            why = "it customises how it is rebuilt (__reduce__ or __new__)"
        if why is None and _slot_names(cls):
            why = "it keeps attributes in __slots__"
        if why:
            raise _unsupported_error(where, f"an object of class {_dotted(cls)} ({why})")

    def _instance(self, value, where: str):
        cls = type(value)
        refusal = getattr(cls, "_save_refusal", None)  # a drama2 class that knows it cannot be saved says why
        if refusal:
            what = cls.__name__ if where == cls.__name__ else f"{where} (a {cls.__name__})"
            raise InvalidInputError(f"cannot save this model: {what} cannot be saved: {refusal}")
        if not hasattr(value, "__dict__"):
            raise _unsupported_error(where, f"a {_dotted(cls)} object")
        self._check_class(cls, where)
        state = value.__getstate__() if _overrides(cls, "__getstate__") else value.__dict__
        if not isinstance(state, dict) or not all(type(k) is str for k in state):
            raise _unsupported_error(where, f"an object of class {_dotted(cls)} whose state is not an attribute "
                                     "dictionary")
        n = self._remember(value)
        skip = _transient(cls)
        items = {k: self.encode(v, f"{where}.{k}") for k, v in state.items() if k not in skip}
        return {"$": "object", "id": n, "class": _qualified(cls), "state": items}


def _rebuild_binary_tree(cls, data, leaf_size, metric, params, sample_weight):
    return cls(data, leaf_size=leaf_size, metric=metric, sample_weight=sample_weight, **params)


def _same_binary_tree(a, b) -> bool:
    import numpy as np

    for x, y in zip(a.get_arrays(), b.get_arrays()):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
            return False
    # (get_tree_stats() counts queries, so it differs after use; the arrays define the tree.)
    from sklearn.metrics._dist_metrics import DistanceMetric

    metrics = [[type(s) for s in t.__getstate__() if isinstance(s, DistanceMetric)] for t in (a, b)]
    return metrics[0] == metrics[1]


def _check_fitted(estimator) -> None:
    if not hasattr(estimator, "fit"):
        return
    is_fitted = getattr(estimator, "__sklearn_is_fitted__", None)  # a Pipeline answers for its steps
    fitted = is_fitted() if callable(is_fitted) else any(
        k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    if not fitted:
        raise NotFittedError(f"This {type(estimator).__name__} is not fitted yet; call fit(X) before saving it.")


def _library_versions() -> dict:
    import platform

    versions = {"python": platform.python_version()}
    for module, name in (("numpy", "numpy"), ("sklearn", "scikit-learn"), ("torch", "torch"), ("pyod", "pyod"),
                         ("safetensors", "safetensors")):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[name] = str(getattr(mod, "__version__", "unknown"))
    return versions


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(estimator, path, *, trusted=()) -> Path:
    """Write a fitted model to one file that :func:`load` reads back, without pickle.

    Parameters
    ----------
    estimator : object
        A fitted drama2 detector or reducer (``Drama``, any built-in scorer,
        ``Ensemble``), or a fitted scikit-learn / PyOD estimator.
    path : str or Path
        The file to write; its directory must exist. The file is written
        under a temporary name and renamed when complete, so an error never
        leaves a half-written file (nor replaces an existing one).
    trusted : sequence of str, optional
        More top-level packages whose classes the model may contain (for
        plugin components), besides :data:`TRUSTED_PACKAGES`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    NotFittedError
        When the estimator has not been fitted.
    InvalidInputError
        When the directory does not exist, or an attribute holds something
        the format cannot represent (the message names the attribute).
    """
    import numpy  # noqa: F401  (the encoder recognises numpy types through sys.modules)
    import safetensors.numpy

    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"cannot save the model to {path}: it is a directory; give a file name such as "
                                f"{path / 'model.drama2'}.")
    if not path.parent.is_dir():
        raise _MissingPathError(f"cannot save the model to {path}: the directory {path.parent} does not exist; "
                                "create it first.")
    _check_fitted(estimator)
    trusted = tuple(TRUSTED_PACKAGES) + tuple(trusted)
    encoder = _Encoder(trusted)
    root = encoder.encode(estimator, type(estimator).__name__)  # every error is raised here, before any file
    graph = json.dumps({"root": root}, allow_nan=False, separators=(",", ":")).encode("utf-8")

    stem = f".{path.name}.{secrets.token_hex(6)}"
    tmp_model, tmp_tensors = path.with_name(stem + ".tmp"), path.with_name(stem + ".tensors.tmp")
    try:
        safetensors.numpy.save_file(encoder.arrays, str(tmp_tensors), metadata={"format": FORMAT_NAME})
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "drama2_version": __version__,
            "class": _qualified(type(estimator)),
            "libraries": _library_versions(),
            "sha256": {_GRAPH: hashlib.sha256(graph).hexdigest(), _TENSORS: _sha256_file(tmp_tensors)},
        }
        with open(tmp_model, "xb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name, data in ((_MANIFEST, json.dumps(manifest, indent=1).encode("utf-8")), (_GRAPH, graph)):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
            info = zipfile.ZipInfo(_TENSORS, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED  # float data barely compresses; keep saving and loading fast
            with open(tmp_tensors, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
        os.replace(tmp_model, path)
    finally:
        for tmp in (tmp_model, tmp_tensors):
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
    return path


# ====================================================================== loading
class _Damaged(Exception):
    """Raised inside the reader; :func:`load` turns it into an InvalidInputError naming the file."""


class _RebuildError(Exception):
    """An intact file whose content this installation cannot rebuild (usually another library version)."""

    def __init__(self, where: str, error: Exception):
        super().__init__(where, error)
        self.where, self.error = where, error


def _read_container(path: Path) -> tuple[dict, bytes, bytes]:
    """The manifest, graph bytes and tensor bytes of a model file, after every format and integrity check."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise _MissingPathError(f"no model file at {path}.") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a directory, not a drama2 model file.") from None
    if head[:2] != b"PK":
        hint = " (it looks like a pickle file; drama2 never loads pickles)" if head[:1] == b"\x80" else ""
        raise InvalidInputError(f"{path} is not a drama2 model file{hint}: model files are zip containers written "
                                "by drama2.save or model.save.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist()}
            if _MANIFEST not in infos:
                raise InvalidInputError(f"{path} is not a drama2 model file: it is a zip archive without "
                                        f"{_MANIFEST}.")
            if infos[_MANIFEST].file_size > _MAX_MANIFEST_BYTES:
                raise _Damaged(f"{_MANIFEST} is implausibly large")
            manifest = json.loads(zf.read(_MANIFEST).decode("utf-8"), parse_constant=_no_constant)
            _check_manifest(manifest, path)
            unexpected = sorted(set(infos) - set(_MEMBERS))
            missing = [m for m in _MEMBERS if m not in infos]
            if unexpected or missing:
                raise _Damaged(f"it has the members {sorted(infos)}, expected exactly {list(_MEMBERS)}")
            if infos[_GRAPH].file_size > _MAX_GRAPH_BYTES:
                raise _Damaged(f"{_GRAPH} is implausibly large")
            graph, tensors = zf.read(_GRAPH), zf.read(_TENSORS)
    except (InvalidInputError, _Damaged):
        raise
    except Exception as exc:  # zipfile, zlib, json and unicode errors all mean a damaged file
        raise _Damaged(f"{type(exc).__name__}: {exc}") from exc
    expected = manifest.get("sha256")
    if not isinstance(expected, dict):
        raise _Damaged("the manifest has no sha256 sums")
    for name, data in ((_GRAPH, graph), (_TENSORS, tensors)):
        if hashlib.sha256(data).hexdigest() != expected.get(name):
            raise _Damaged(f"the sha256 of {name} does not match the manifest, so the file was changed or damaged "
                           "after it was written")
    return manifest, graph, tensors


def _version_note(manifest: dict) -> str:
    """Which recorded library versions differ from this installation's, as advice."""
    saved = manifest.get("libraries") if isinstance(manifest.get("libraries"), dict) else {}
    here = _library_versions()
    if manifest.get("drama2_version") != __version__:
        saved, here = {"drama2": manifest.get("drama2_version"), **saved}, {"drama2": __version__, **here}
    differ = [f"{name} {saved[name]} (here {here[name]})" for name in saved
              if name in here and saved[name] != here[name]]
    if not differ:
        return "The file was written with the same library versions, so it was probably crafted or edited."
    return (f"It was written with {', '.join(differ)}; load it with those versions (and re-save it), or refit "
            "the model.")


def _no_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _check_manifest(manifest, path: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise InvalidInputError(f"{path} is not a drama2 model file: its manifest names the format {found!r}, "
                                f"not {FORMAT_NAME!r}.")
    version = manifest.get("format_version")
    if type(version) is not int or version not in _READABLE_VERSIONS:
        writer = manifest.get("drama2_version", "an unknown version")
        newer = type(version) is int and version > FORMAT_VERSION
        advice = (f"It was written by drama2 {writer}, which is newer than this drama2 {__version__}: upgrade "
                  "drama2 (pip install -U drama2) to load it, or re-save the model with a drama2 that writes "
                  f"format version {FORMAT_VERSION}." if newer else
                  "The file is damaged or was not written by drama2.")
        raise InvalidInputError(f"{path} is a drama2 model file of format version {version!r}, but this drama2 "
                                f"{__version__} reads format version{'s' if len(_READABLE_VERSIONS) > 1 else ''} "
                                f"{', '.join(map(str, _READABLE_VERSIONS))} only. {advice}")


class _Decoder:
    """Rebuilds the object graph from its JSON and the safetensors payload."""

    def __init__(self, arrays: dict, trusted: tuple, device):
        self.arrays = arrays
        self.trusted = trusted
        self.device = device
        self.objects: dict[int, Any] = {}

    def _register(self, node, obj):
        n = node["id"]
        if type(n) is not int or n in self.objects:
            raise _Damaged(f"bad object id {n!r}")
        self.objects[n] = obj
        return obj

    def decode(self, node, where: str):
        if node is None or type(node) in (bool, int, str, float):
            return node
        if type(node) is not dict:
            raise _Damaged(f"unexpected JSON value at {where}")
        kind = node.get("$")
        handler = getattr(self, f"_d_{kind}", None) if isinstance(kind, str) and kind.isidentifier() else None
        if handler is None:
            raise _Damaged(f"unknown entry kind {kind!r} at {where}")
        try:
            return handler(node, where)
        except (InvalidInputError, _Damaged, _RebuildError, RecursionError):
            raise
        except Exception as exc:  # the innermost failing entry names itself
            raise _RebuildError(where, exc) from exc

    def _items(self, node, where: str) -> list:
        items = node["items"]
        if type(items) is not list:
            raise _Damaged(f"bad items at {where}")
        return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(items)]

    # -- plain values ---------------------------------------------------------------------
    def _d_ref(self, node, where):
        try:
            return self.objects[node["id"]]
        except (KeyError, TypeError):
            raise _Damaged(f"a reference to an unknown object at {where}") from None

    def _d_float(self, node, where):
        if node["v"] not in ("nan", "inf", "-inf"):
            raise _Damaged(f"bad float at {where}")
        return float(node["v"])

    def _d_tuple(self, node, where):
        return tuple(self._items(node, where))

    def _d_list(self, node, where):
        out = self._register(node, [])
        out.extend(self._items(node, where))
        return out

    def _fill_mapping(self, out, node, where):
        if "items" in node:
            if type(node["items"]) is not dict:
                raise _Damaged(f"bad dict at {where}")
            for k, v in node["items"].items():
                out[k] = self.decode(v, f"{where}[{k!r}]")
        else:
            for pair in node["pairs"]:
                key = self.decode(pair[0], f"{where} key")
                out[key] = self.decode(pair[1], f"{where}[{key!r}]")
        return out

    def _d_dict(self, node, where):
        return self._fill_mapping(self._register(node, {}), node, where)

    def _d_odict(self, node, where):
        from collections import OrderedDict

        return self._fill_mapping(self._register(node, OrderedDict()), node, where)

    def _d_set(self, node, where):
        out = self._register(node, set())
        out.update(self._items(node, where))
        return out

    def _d_frozenset(self, node, where):
        return self._register(node, frozenset(self._items(node, where)))

    def _d_defaultdict(self, node, where):
        from collections import defaultdict

        factory = None if node["factory"] is None else self.decode(node["factory"], f"{where}.default_factory")
        if factory is not None and not isinstance(factory, type):
            raise InvalidInputError(f"refusing to load {where}: a defaultdict's factory must be a class.")
        return self._fill_mapping(self._register(node, defaultdict(factory)), node, where)

    def _d_complex(self, node, where):
        return complex(float(self.decode(node["re"], where)), float(self.decode(node["im"], where)))

    def _d_bytes(self, node, where):
        return bytes.fromhex(node["hex"])

    def _d_slice(self, node, where):
        return slice(*self._items(node, where))

    def _d_global(self, node, where):
        return self._import(str(node["path"]), self.trusted, where)

    def _import(self, path: str, roots: tuple, where: str, *, classes_only: bool = False):
        module_name, _, qualname = path.partition(":")
        try:
            return _lookup(module_name, qualname, roots, classes_only=classes_only)
        except _Refused as exc:
            raise InvalidInputError(f"refusing to load {module_name}.{qualname} (at {where}): {exc}. drama2 only "
                                    "rebuilds classes and functions of trusted packages (pass trusted=[...] to "
                                    "drama2.load for a plugin package you trust).") from None
        except ImportError as exc:
            raise InvalidInputError(f"the model needs {module_name}.{qualname} (at {where}), which cannot be imported "
                                    f"here: {exc}. Install the package it belongs to.") from None
        except AttributeError:
            raise InvalidInputError(f"the model needs {module_name}.{qualname} (at {where}), which this installation "
                                    "does not have; it was probably saved with another version of that package.") \
                from None

    # -- numpy ----------------------------------------------------------------------------
    def _array(self, node, where: str):
        import numpy as np

        stored = self.arrays.get(node["key"]) if isinstance(node.get("key"), str) else None
        if stored is None:
            raise _Damaged(f"the array data of {where} is missing")
        dtype = _dtype_from(node["dtype"])
        shape = tuple(int(s) for s in node["shape"])
        if any(s < 0 for s in shape):
            raise _Damaged(f"bad shape at {where}")
        if node.get("raw"):
            if stored.dtype != np.uint8 or stored.ndim != 1 or stored.size != math.prod(shape) * dtype.itemsize:
                raise _Damaged(f"the raw data of {where} does not fit its shape and dtype")
            return np.frombuffer(stored.tobytes(), dtype=dtype).reshape(shape).copy()
        if stored.dtype != dtype or stored.shape != shape:
            raise _Damaged(f"the array data of {where} does not match its description")
        return np.array(stored, copy=True)

    def _d_ndarray(self, node, where):
        import numpy as np

        arr = self._array(node, where)
        if node.get("order") == "F":
            arr = np.asfortranarray(arr)
        if node.get("writeable") is False:
            arr.setflags(write=False)
        return self._register(node, arr)

    def _d_objarray(self, node, where):
        import numpy as np

        shape = tuple(int(s) for s in node["shape"])
        arr = self._register(node, np.empty(shape, dtype=object))
        items = self._items(node, where)
        if len(items) != arr.size:
            raise _Damaged(f"bad object array at {where}")
        flat = arr.reshape(-1)  # a view: arr is C-contiguous
        for i, item in enumerate(items):
            flat[i] = item
        return arr

    def _d_npscalar(self, node, where):
        import numpy as np

        dtype = _dtype_from(node["dtype"])
        raw = bytes.fromhex(node["hex"])
        if len(raw) != dtype.itemsize:
            raise _Damaged(f"bad numpy scalar at {where}")
        return np.frombuffer(raw, dtype=dtype)[0].copy()

    def _d_npdtype(self, node, where):
        return _dtype_from(node["dtype"])

    def _d_npufunc(self, node, where):
        import numpy as np

        func = getattr(np, str(node["name"]), None)
        if type(func) is not np.ufunc:
            raise InvalidInputError(f"refusing to load numpy.{node['name']} at {where}: not a numpy ufunc.")
        return func

    def _d_npgenerator(self, node, where):
        import numpy as np

        name = node["bit_generator"]
        if name not in _BIT_GENERATORS:
            raise InvalidInputError(f"refusing to load the bit generator {name!r} at {where}.")
        bit_generator = getattr(np.random, name)()
        generator = self._register(node, np.random.Generator(bit_generator))
        bit_generator.state = self.decode(node["state"], f"{where}.state")
        return generator

    def _d_nprandomstate(self, node, where):
        import numpy as np

        state = self.decode(node["state"], f"{where}.state")
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise InvalidInputError(f"refusing to load the bit generator {name!r} at {where}.")
        random_state = np.random.RandomState(getattr(np.random, name)())
        random_state.set_state(state)
        return self._register(node, random_state)

    # -- torch ----------------------------------------------------------------------------
    def _torch_device(self, recorded: str, where: str):
        import torch

        device = torch.device(self.device if self.device is not None else recorded)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidInputError(f"the model was saved with tensors on {recorded} (at {where}), and this machine "
                                    "has no CUDA device; load it with drama2.load(path, device='cpu').")
        return device

    def _d_tensor(self, node, where):
        import torch

        arr = self._array(node, where)
        dtype = getattr(torch, str(node["torch_dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise _Damaged(f"bad tensor dtype at {where}")
        tensor = torch.from_numpy(arr)
        if dtype is torch.bfloat16:
            tensor = tensor.view(torch.bfloat16)
        if tensor.dtype is not dtype:
            raise _Damaged(f"the tensor data of {where} does not match its dtype")
        tensor = tensor.to(self._torch_device(str(node["device"]), where))
        if node.get("parameter"):
            tensor = torch.nn.Parameter(tensor, requires_grad=bool(node.get("requires_grad", False)))
        elif node.get("requires_grad"):
            tensor.requires_grad_(True)
        return self._register(node, tensor)

    def _d_torchdevice(self, node, where):
        import torch

        return torch.device(self.device) if self.device is not None else torch.device(str(node["v"]))

    def _d_torchdtype(self, node, where):
        import torch

        dtype = getattr(torch, str(node["v"]), None)
        if not isinstance(dtype, torch.dtype):
            raise _Damaged(f"bad torch dtype at {where}")
        return dtype

    def _class(self, node, where: str, *, kind: str):
        path = str(node["class"])
        if kind == "module":
            roots = self.trusted if not path.startswith("torch.") or path.startswith("torch.nn.") else ()
        elif kind == "optimizer":
            roots = ("torch",) if path.startswith("torch.optim.") else ()
        else:
            roots = _instance_roots(self.trusted)
        return self._import(path, roots, where, classes_only=True)

    def _d_module(self, node, where):
        import torch

        cls = self._class(node, where, kind="module")
        if not issubclass(cls, torch.nn.Module):
            raise InvalidInputError(f"refusing to load {_dotted(cls)} at {where}: not a torch.nn.Module.")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)  # this torch version's bookkeeping (hooks, registries)
        self._register(node, module)
        for key, value in node["attrs"].items():
            module.__dict__[key] = self.decode(value, f"{where}.{key}")
        for key, value in node["params"].items():
            param = self.decode(value, f"{where}.{key}")
            if param is not None and not isinstance(param, torch.nn.Parameter):
                raise _Damaged(f"{where}.{key} is not a parameter")
            module._parameters[key] = param
        for key, value in node["buffers"].items():
            buffer = self.decode(value, f"{where}.{key}")
            if buffer is not None and not isinstance(buffer, torch.Tensor):
                raise _Damaged(f"{where}.{key} is not a tensor")
            module._buffers[key] = buffer
        module._non_persistent_buffers_set = {str(k) for k in node["non_persistent"]}
        for key, value in node["modules"].items():
            child = self.decode(value, f"{where}.{key}")
            if child is not None and not isinstance(child, torch.nn.Module):
                raise _Damaged(f"{where}.{key} is not a module")
            module._modules[key] = child
        module.training = bool(node["training"])
        return module

    def _d_optimizer(self, node, where):
        import torch

        cls = self._class(node, where, kind="optimizer")
        if not issubclass(cls, torch.optim.Optimizer):
            raise InvalidInputError(f"refusing to load {_dotted(cls)} at {where}: not a torch optimizer.")
        groups, indexed, start = [], [], 0
        for g, group in enumerate(node["groups"]):
            params = [self.decode(p, f"{where}.param_groups[{g}]") for p in group["params"]]
            options = self.decode(group["options"], f"{where}.param_groups[{g}]")
            groups.append({**options, "params": params})
            indexed.append({**options, "params": list(range(start, start + len(params)))})
            start += len(params)
        defaults = self.decode(node["defaults"], f"{where}.defaults")
        optimizer = self._register(node, cls(groups, **defaults))
        optimizer.load_state_dict({"state": self.decode(node["state"], f"{where}.state"), "param_groups": indexed})
        return optimizer

    # -- scikit-learn's compiled trees ----------------------------------------------------
    def _d_sktree(self, node, where):
        import numpy as np
        from sklearn.tree._tree import Tree

        if node["class"] != _qualified(Tree):
            raise InvalidInputError(f"refusing to load {node['class']} at {where} as a scikit-learn tree.")
        n_features, n_classes, n_outputs = self.decode(node["args"], f"{where}.args")
        state = self.decode(node["state"], f"{where}.state")
        nodes, values, count = state["nodes"], state["values"], state["node_count"]
        # Tree walks its node table without bounds checks, so check the table before handing it over:
        # every split node's children lie after it and inside the table, and its feature exists.
        if (type(n_features) is not int or type(n_outputs) is not int or type(count) is not int
                or not isinstance(nodes, np.ndarray) or nodes.dtype.names is None
                or not {"left_child", "right_child", "feature"} <= set(nodes.dtype.names)
                or nodes.ndim != 1 or nodes.shape[0] != count or not isinstance(values, np.ndarray)
                or values.shape[0] != count):
            raise _Damaged(f"the tree table at {where} is malformed")
        index = np.arange(count)
        left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
        leaf = left == -1
        ok = (np.all(right[leaf] == -1) and np.all((left[~leaf] > index[~leaf]) & (left[~leaf] < count))
              and np.all((right[~leaf] > index[~leaf]) & (right[~leaf] < count))
              and np.all((feature[~leaf] >= 0) & (feature[~leaf] < n_features)))
        if not ok:
            raise _Damaged(f"the tree table at {where} has child or feature indices outside the tree")
        tree = Tree(n_features, np.asarray(n_classes, dtype=np.intp), n_outputs)
        tree.__setstate__(state)
        return self._register(node, tree)

    def _d_binarytree(self, node, where):
        from sklearn.neighbors import BallTree, KDTree

        classes = {_qualified(KDTree): KDTree, _qualified(BallTree): BallTree}
        cls = classes.get(node["class"])
        if cls is None or node["metric"] not in _TREE_METRICS.values():
            raise InvalidInputError(f"refusing to load {node['class']} with metric {node['metric']!r} at {where}.")
        data = self.decode(node["data"], f"{where}.data")
        params = self.decode(node["metric_params"], f"{where}.metric")
        sample_weight = self.decode(node["sample_weight"], f"{where}.sample_weight")
        tree = _rebuild_binary_tree(cls, data, int(node["leaf_size"]), node["metric"], params, sample_weight)
        return self._register(node, tree)

    def _d_distmetric(self, node, where):
        from sklearn.metrics import DistanceMetric

        if node["metric"] not in _TREE_METRICS.values():
            raise InvalidInputError(f"refusing to load the distance metric {node['metric']!r} at {where}.")
        params = self.decode(node["params"], f"{where}.params")
        return self._register(node, DistanceMetric.get_metric(node["metric"], **params))

    # -- plain instances ------------------------------------------------------------------
    def _d_object(self, node, where):
        cls = self._class(node, where, kind="object")
        if _overrides(cls, "__reduce_ex__") or _overrides(cls, "__reduce__") or _overrides(cls, "__new__") \
                or _slot_names(cls):
            raise InvalidInputError(f"refusing to load {_dotted(cls)} at {where}: it customises how it is rebuilt.")
        obj = self._register(node, cls.__new__(cls))
        if type(node["state"]) is not dict:
            raise _Damaged(f"bad state at {where}")
        state = {k: self.decode(v, f"{where}.{k}") for k, v in node["state"].items()}
        if self.device is not None and isinstance(state.get("device_"), str):
            state["device_"] = str(self.device)
        if _overrides(cls, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        for name, fresh in _transient(cls).items():
            obj.__dict__[name] = fresh()
        return obj


def load(path, *, device=None, trusted=()):
    """Read a model written by :func:`save` (or ``model.save``).

    Parameters
    ----------
    path : str or Path
        The model file.
    device : str, optional
        Put every torch tensor on this device (e.g. ``"cpu"`` for a model
        saved on a GPU machine) and make the model use it. By default tensors
        go back to the device they were saved from.
    trusted : sequence of str, optional
        More top-level packages whose classes the file may name (for plugin
        components), besides :data:`TRUSTED_PACKAGES`.

    Returns
    -------
    object
        The fitted model; it gives the same scores as the one saved.

    Raises
    ------
    InvalidInputError
        When the file is not a drama2 model file, has an unknown format
        version, was changed or damaged after it was written (sha256
        mismatch), or names a class outside the trusted packages; or when
        ``device`` is unknown or not available here (``"cuda"`` without CUDA).
    """
    path = Path(path)
    try:
        manifest, graph, tensor_bytes = _read_container(path)
        try:
            import safetensors.numpy

            arrays = safetensors.numpy.load(tensor_bytes)
            document = json.loads(graph.decode("utf-8"), parse_constant=_no_constant)
            root = document["root"]
        except Exception as exc:
            raise _Damaged(f"{type(exc).__name__}: {exc}") from exc
        if device is not None:  # a device this machine lacks (or a misspelt one) is refused before any work
            from drama2.device import resolve_device

            device = resolve_device(device)
        decoder = _Decoder(arrays, tuple(TRUSTED_PACKAGES) + tuple(trusted), device)
        try:
            model = decoder.decode(root, "model")
        except RecursionError as exc:
            raise _Damaged("the object graph is nested too deeply") from exc
        except _RebuildError as exc:
            raise InvalidInputError(
                f"{path} is intact, but {exc.where} could not be rebuilt here ({type(exc.error).__name__}: "
                f"{exc.error}). {_version_note(manifest)}") from exc.error
    except _Damaged as exc:
        raise InvalidInputError(f"{path} is damaged or was modified after it was written, so it cannot be loaded: "
                                f"{exc}.") from exc.__cause__
    if _qualified(type(model)) != manifest.get("class"):
        raise InvalidInputError(f"{path} is damaged: the manifest names the class {manifest.get('class')!r} but the "
                                f"file holds a {_qualified(type(model))}.")
    return model
