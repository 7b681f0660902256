"""Any installed PyOD detector as a drama2 scorer: ``PyODScorer("ECOD")``, or ``pyod:ECOD`` by name.

Detectors are found by reading the sources of ``pyod.models.*`` (pkgutil
lists the modules, :mod:`ast` finds the classes that derive from PyOD's
``BaseDetector``), so listing them imports neither PyOD nor its optional
dependencies: importing every PyOD module takes seconds, pulls in torch and
prints install hints for missing extras. A detector's module is imported only
when it is fitted.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any, Callable

from drama2.errors import ComponentLoadError, InvalidInputError, UnknownComponentError
from drama2.scorers.base import BaseDetector

__all__ = ["PyODScorer", "pyod_scorer", "make_pyod_factory", "available_pyod_detectors"]

_PYOD_BASE = "BaseDetector"
_INSTALL_HINT = "PyOD is not installed; install it with `pip install pyod` to use pyod:<Name> scorers."


@functools.lru_cache(maxsize=1)
def _scan_pyod() -> dict[str, str]:
    """Map each concrete PyOD detector class name to its module, from the sources alone (cached)."""
    spec = importlib.util.find_spec("pyod")  # a top-level find_spec imports nothing
    if spec is None or not spec.submodule_search_locations:
        raise ComponentLoadError(_INSTALL_HINT)
    models = Path(list(spec.submodule_search_locations)[0]) / "models"
    bases: dict[str, set[str]] = {}
    homes: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules([str(models)]), key=lambda m: m.name):
        source = models / info.name / "__init__.py" if info.ispkg else models / f"{info.name}.py"
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue  # compiled-only or broken module: not listable, and not importable either
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                names = {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                         if isinstance(b, (ast.Name, ast.Attribute))}
                bases.setdefault(node.name, set()).update(names)
                homes.setdefault(node.name, []).append(f"pyod.models.{info.name}")

    @functools.lru_cache(maxsize=None)
    def is_detector(name: str) -> bool:
        # Name-level inheritance closure; load_pyod_class checks the real class before use.
        return name == _PYOD_BASE or any(is_detector(b) for b in bases.get(name, ()) if b != name)

    found = {}
    for name, modules in homes.items():
        if name.startswith(("_", "Base")) or not is_detector(name):
            continue  # private helpers and abstract bases such as BaseDeepLearningDetector
        canonical = f"pyod.models.{name.lower()}"  # PyOD's layout: class ECOD lives in pyod.models.ecod
        found[name] = canonical if canonical in modules else modules[0]
    return dict(sorted(found.items()))


def available_pyod_detectors() -> dict[str, str]:
    """PyOD detectors drama2 can wrap, as ``{class name: module path}``.

    Some need PyOD's optional extras (torch, tqdm, combo, xgboost, ...); they
    are listed all the same and fail with an install hint when fitted.

    Returns
    -------
    dict of str to str
        For example ``{"ECOD": "pyod.models.ecod", ...}``, sorted by name.

    Raises
    ------
    ComponentLoadError
        When PyOD is not installed.
    """
    return dict(_scan_pyod())


def _canonical_name(name: Any) -> str:
    """Return the detector class name for ``name`` (case-insensitive), or raise with suggestions."""
    known = _scan_pyod()
    if name in known:
        return name
    by_lower = {k.lower(): k for k in known}
    if isinstance(name, str) and name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(by_lower[c] for c in close)}?" if close else ""
    raise UnknownComponentError(
        f"unknown PyOD detector {name!r}.{hint} List the {len(known)} available ones with "
        "drama2.scorers.pyod_adapter.available_pyod_detectors()."
    )


def load_pyod_class(name: str) -> type:
    """Import and return the PyOD detector class called ``name``.

    Raises
    ------
    UnknownComponentError
        For a name PyOD does not have (with close matches).
    ComponentLoadError
        When PyOD, or an optional dependency of that detector, is not installed.
    """
    name = _canonical_name(name)
    module_path = _scan_pyod()[name]
    try:
        # Some PyOD modules print install hints on import; keep stdout for machine-readable output.
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module(module_path)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "the missing package"
        raise ComponentLoadError(
            f"PyOD detector {name} ({module_path}) could not be imported: {exc}. It needs an optional "
            f"dependency; install it (pip install {missing}) or choose another detector."
        ) from exc
    from pyod.models.base import BaseDetector as PyODBase

    cls = getattr(module, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, PyODBase)):
        raise ComponentLoadError(f"{module_path}.{name} is not a PyOD detector class.")
    return cls


def _init_parameters(cls: type) -> tuple[set[str], bool]:
    """Keyword names ``cls.__init__`` accepts, and whether it also takes ``**kwargs``."""
    params = inspect.signature(cls.__init__).parameters
    names = {p.name for p in params.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
    return names, any(p.kind is p.VAR_KEYWORD for p in params.values())


def _required_parameters(cls: type) -> list[str]:
    """Keywords of ``cls.__init__`` without a default (besides self)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


class PyODScorer(BaseDetector):
    """A PyOD detector behind drama2's detector contract.

    Scores are PyOD's ``decision_function`` (already higher = more
    anomalous); training scores are its ``decision_scores_``. drama2 sets
    ``threshold_`` and ``labels_`` itself, with the same rule for every scorer.

    Parameters
    ----------
    name : str
        PyOD detector class name, e.g. ``"ECOD"``, ``"HBOS"``, ``"COPOD"``,
        ``"IForest"``, ``"OCSVM"`` (case-insensitive; see
        :func:`available_pyod_detectors`).
    params : dict, optional
        Keyword arguments for the PyOD class, e.g. ``{"n_bins": 20}`` for HBOS.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags; ``"auto"`` uses
        Tukey's fence. A float is also passed to PyOD.
    random_state : int, numpy Generator or None, default None
        Passed as an int seed when the PyOD class accepts ``random_state``.

    Attributes
    ----------
    detector_ : pyod.models.base.BaseDetector
        The fitted PyOD detector.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.

    See Also
    --------
    pyod_scorer : the same with the PyOD parameters as keyword arguments.
    """

    def __init__(self, name, params=None, contamination=0.1, random_state=None):
        self.name = name
        self.params = params
        self.contamination = contamination
        self.random_state = random_state

    @property
    def _name(self) -> str:
        return f"PyODScorer({self.name!r})"

    def _check_params(self, X):
        cls = load_pyod_class(self.name)
        params = self.params or {}
        if not isinstance(params, dict):
            raise InvalidInputError(f"{self._name}: params must be a dict of keyword arguments, got {params!r}.")
        shared = sorted({"contamination", "random_state"} & set(params))
        if shared:
            raise InvalidInputError(
                f"{self._name}: pass {', '.join(shared)} as PyODScorer's own argument, not inside params."
            )
        accepted, var_kw = _init_parameters(cls)
        unknown = sorted(set(params) - accepted)
        if unknown and not var_kw:
            raise InvalidInputError(
                f"{self._name}: PyOD's {cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
                f"it accepts: {', '.join(sorted(accepted))}."
            )
        missing = [name for name in _required_parameters(cls) if name not in params]
        if missing:
            raise InvalidInputError(
                f"{self._name}: PyOD's {cls.__name__} needs {', '.join(map(repr, missing))}, which has no default; "
                "pass it in params (a combination detector such as LSCP takes a list of detector objects, "
                "which a bench spec cannot give: build it in Python)."
            )

    def _fit(self, X, rng_seed):
        cls = load_pyod_class(self.name)
        accepted, _ = _init_parameters(cls)
        kwargs = dict(self.params or {})
        if "contamination" in accepted and self.contamination != "auto":
            kwargs["contamination"] = float(self.contamination)
        if "random_state" in accepted:
            kwargs["random_state"] = rng_seed
        self.detector_ = cls(**kwargs).fit(X)

    def _train_scores(self, X):
        return self.detector_.decision_scores_

    def _score(self, X):
        return self.detector_.decision_function(X)


def pyod_scorer(name: str, *, contamination=0.1, random_state=None, **params) -> PyODScorer:
    """Build a :class:`PyODScorer` with the PyOD parameters as keyword arguments.

    Parameters
    ----------
    name : str
        PyOD detector class name (see :func:`available_pyod_detectors`).
    contamination, random_state
        As for :class:`PyODScorer`.
    **params
        Keyword arguments for the PyOD class, e.g. ``n_bins=20`` for HBOS.

    Returns
    -------
    PyODScorer
        Unfitted.

    Examples
    --------
    >>> pyod_scorer("HBOS", n_bins=20).params
    {'n_bins': 20}
    """
    return PyODScorer(name, params=params or None, contamination=contamination, random_state=random_state)


def make_pyod_factory(name: str) -> Callable[..., PyODScorer]:
    """A scorer factory for the registry's ``pyod:<Name>`` family.

    The name is checked now (without importing PyOD), so an unknown detector
    fails at lookup rather than at fit time.

    Parameters
    ----------
    name : str
        PyOD detector class name, case-insensitive.

    Returns
    -------
    callable
        ``factory(*, contamination=0.1, random_state=None, **params) -> PyODScorer``;
        ``contamination`` and ``random_state`` are drama2's, every other keyword goes to PyOD.

    Raises
    ------
    UnknownComponentError
        For a name PyOD does not have (with close matches).
    ComponentLoadError
        When PyOD is not installed.
    """
    return _PyODFactory(_canonical_name(name))


class _PyODFactory:
    """``factory(*, contamination=0.1, random_state=None, **params) -> PyODScorer`` for one PyOD class.

    Its signature is the PyOD constructor's keywords beside drama2's ``contamination`` and
    ``random_state``, so generic parameter checks (bench, Ensemble member specs) name a misspelt PyOD
    parameter with the closest real one before anything runs, and callers that seed only the components
    taking a seed see that this one does.
    """

    def __init__(self, canonical: str):
        self.canonical = canonical
        self.__name__ = self.__qualname__ = f"pyod_{canonical}"
        self.__doc__ = (f"PyOD's {canonical} ({_scan_pyod()[canonical]}) as a drama2 scorer; keyword "
                        "arguments other than contamination and random_state go to its constructor.")

    def __call__(self, *, contamination=0.1, random_state=None, **params) -> PyODScorer:
        return pyod_scorer(self.canonical, contamination=contamination, random_state=random_state, **params)

    @property
    def __signature__(self) -> inspect.Signature:
        keyword = inspect.Parameter.KEYWORD_ONLY
        own = [inspect.Parameter("contamination", keyword, default=0.1),
               inspect.Parameter("random_state", keyword, default=None)]
        accepted, var_kw = _init_parameters(load_pyod_class(self.canonical))
        theirs = [inspect.Parameter(name, keyword, default=None)
                  for name in sorted(accepted - {"contamination", "random_state"})]
        extra = [inspect.Parameter("params", inspect.Parameter.VAR_KEYWORD)] if var_kw else []
        return inspect.Signature(own + theirs + extra)

    def __repr__(self) -> str:
        return f"<drama2 scorer factory pyod:{self.canonical}>"
