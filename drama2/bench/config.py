"""What a benchmark run covers: datasets × pipelines × seeds, from flags or a YAML file that mirrors them.

Scorers are written like benchopt's solvers: ``name`` or ``name[param=value, other=[a, b]]``; a list
value expands into one pipeline per value (``lof[n_neighbors=[5, 10, 35]]`` is three LOF baselines).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from drama2.errors import InvalidInputError

PROTOCOLS = ("transductive", "split")
EXECUTORS = ("sequential", "loky", "dask")
ALL_METRICS = ("l1", "l2", "l4", "wl2", "wl4", "braycurtis", "chebyshev", "canberra", "correlation", "mahalanobis")
LINEAR_REDUCERS = ("none", "pca", "ica", "nmf")
#: The baselines of the DRAMA paper's Table 6.
PAPER_BASELINES = ("lof[n_neighbors=[5, 10, 35]]", "iforest")
#: The embedded default's simulations (no download needed).
DEFAULT_SIMULATIONS = ("synthetic-local-100", "synthetic-newclass-100", "synthetic-local-3000")
#: ODDS sets too large for the embedded default's few-minute budget on 2 cores.
DEFAULT_SKIPS_LARGE = ("http", "cover", "smtp", "shuttle")


@dataclass(frozen=True)
class ScorerSpec:
    """A whole-detector scorer with fixed parameters, e.g. ``lof[n_neighbors=5]``."""

    name: str
    params: tuple = ()

    @property
    def label(self) -> str:
        """The pipeline name used in results and reports."""
        return scorer_label(self.name, self.params)


def scorer_label(name: str, params) -> str:
    """``name`` or ``name[p=v, ...]``: how a scorer with parameters is written everywhere."""
    if not params:
        return name
    return f"{name}[{', '.join(f'{k}={v}' for k, v in params)}]"


def _yaml_value(text: str):
    import yaml

    return yaml.safe_load(text)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += (char == "[") - (char == "]")
        if depth < 0:
            raise InvalidInputError(f"unbalanced ']' in {text!r}.")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise InvalidInputError(f"unbalanced '[' in {text!r}.")
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_scorer(text: str) -> list[ScorerSpec]:
    """Parse ``name`` or ``name[p=v, q=[a, b]]`` into one :class:`ScorerSpec` per parameter combination."""
    match = re.fullmatch(r"\s*([^\[\]\s]+)\s*(?:\[(.*)\])?\s*", text)
    if not match:
        raise InvalidInputError(f"cannot read scorer {text!r}; write name or name[param=value, ...].")
    name, body = match.group(1), match.group(2)
    if not body:
        return [ScorerSpec(name)]
    grid = {}
    for item in _split_top_level(body):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"scorer {text!r}: parameter {item!r} must be written key=value.")
        parsed = _yaml_value(value.strip())
        grid[key.strip()] = parsed if isinstance(parsed, list) else [parsed]
    keys = sorted(grid)
    return [ScorerSpec(name, tuple(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]


def parse_reducer(text: str) -> ScorerSpec:
    """One reducer of the grid, ``name`` or ``name[p=v, ...]`` (its sweeps are already expanded in the config)."""
    return parse_scorer(text)[0]


def _reducer_text(spec: ScorerSpec) -> str:
    """A reducer with its sweeps expanded, written so that :func:`parse_reducer` reads back the same values.

    A list value (``hidden_sizes=[16, 4]``) is written in brackets again, ``[[16, 4]]``: alone it would read
    as a sweep over 16 and 4.
    """
    return scorer_label(spec.name, tuple((k, [list(v)] if isinstance(v, (list, tuple)) else v)
                                         for k, v in spec.params))


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


def _strict_int(value) -> int:
    """``int(value)`` for whole numbers only: 2.7 or True is not a count or a seed."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def parse_list(value, *, cast=str) -> list:
    """A comma-separated string (flags), a list (YAML) or one value as a list of ``cast`` values."""
    if value is None:
        return []
    if isinstance(value, str):
        items = _split_top_level(value)
    elif isinstance(value, Iterable):
        items = list(value)
    else:  # a YAML scalar, ``seeds: 1``: a list of one
        items = [value]
    convert = _strict_int if cast is int else cast
    try:
        return [convert(v) for v in items]
    except (TypeError, ValueError):
        raise InvalidInputError(f"expected a list of {cast.__name__} values, got {value!r}.") from None


@dataclass
class BenchConfig:
    """A benchmark run: what to evaluate and how to execute it.

    Parameters
    ----------
    datasets : list of str
        Registered dataset names.
    reducers, metrics : list of str
        The DRAMA family: every reducer × metric (one fit per reducer, split level and seed).
    scorers : list of str
        Whole-detector scorers such as ``lof[n_neighbors=[5, 10, 35]]`` or ``iforest``.
    split_levels, seeds : list of int
    protocol : {"transductive", "split"}
        Fit and score all rows, or fit on a stratified 70 % and score the other 30 %.
    labelled_anomalies : list of int
        For scorers with label-aware selection (``select``, e.g. ``ensemble``): also evaluate after
        selecting with K labelled anomalies drawn from the training rows, for every K here. The
        labelled rows are never evaluated.
    drama : dict
        Further :class:`drama2.Drama` parameters (``n_components``, ``scaling``, ...).
    out : str
        Run directory.
    jobs : int
        Parallel workers (``loky`` executor when above 1).
    executor : {"sequential", "loky", "dask"}
    scheduler : str, optional
        Dask scheduler address for ``executor="dask"``.
    device : str
        Torch device of the DRAMA distance kernels.
    resume : bool
        Skip jobs already recorded as finished in ``out``.
    data_dir : str, optional
        Searched for dataset files before ``$DRAMA2_DATA``.
    """

    datasets: list = field(default_factory=list)
    reducers: list = field(default_factory=lambda: list(LINEAR_REDUCERS))
    metrics: list = field(default_factory=lambda: list(ALL_METRICS))
    scorers: list = field(default_factory=lambda: list(PAPER_BASELINES))
    split_levels: list = field(default_factory=lambda: [1])
    seeds: list = field(default_factory=lambda: [0])
    protocol: str = "transductive"
    labelled_anomalies: list = field(default_factory=list)
    drama: dict = field(default_factory=dict)
    out: str = "drama2-bench"
    jobs: int = 1
    executor: str | None = None
    scheduler: str | None = None
    device: str = "auto"
    resume: bool = True
    data_dir: str | None = None

    def __post_init__(self):
        # A name listed twice would run (and count) the same jobs twice: keep the first of each.
        self.datasets = _unique(parse_list(self.datasets))
        # A reducer may carry its own parameters, ``ae[max_epochs=20]``; a list value sweeps, as for scorers.
        self.reducers = _unique([_reducer_text(spec) for text in parse_list(self.reducers)
                                 for spec in parse_scorer(text)])
        self.metrics = _unique(parse_list(self.metrics))
        self.scorers = _unique(parse_list(self.scorers))
        self.split_levels = _unique(parse_list(self.split_levels, cast=int))
        self.seeds = _unique(parse_list(self.seeds, cast=int))
        self.labelled_anomalies = _unique(parse_list(self.labelled_anomalies, cast=int))
        if any(k < 1 for k in self.labelled_anomalies):
            raise InvalidInputError("labelled_anomalies must be positive counts, e.g. 1,3,5,10,20.")
        if self.protocol not in PROTOCOLS:
            raise InvalidInputError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}.")
        if isinstance(self.jobs, int) and not isinstance(self.jobs, bool) and self.jobs < 0:
            # joblib's convention: -1 is every core, -2 all but one, ...
            self.jobs = max(1, (os.cpu_count() or 1) + 1 + int(self.jobs))
        if self.executor is None:
            self.executor = "dask" if self.scheduler else ("loky" if self.jobs > 1 else "sequential")
        if self.executor not in EXECUTORS:
            raise InvalidInputError(f"executor must be one of {EXECUTORS}, got {self.executor!r}.")
        if self.executor == "dask" and not self.scheduler:
            raise InvalidInputError("the dask executor needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786).")
        if int(self.jobs) < 1:
            raise InvalidInputError(f"jobs must be at least 1 (or negative: -1 for every core), got {self.jobs!r}.")
        if not self.datasets:
            raise InvalidInputError("no datasets to run; name some with --datasets (drama2 list datasets).")
        if not (self.reducers and self.metrics) and not self.scorers:
            raise InvalidInputError("nothing to run: give reducers and metrics, or scorers.")
        if any(level < 1 for level in self.split_levels) or any(seed < 0 for seed in self.seeds):
            raise InvalidInputError("split levels must be >= 1 and seeds >= 0.")
        # One spec per label (parameters may be lists, which cannot be hashed).
        by_label: dict = {}
        for spec in (spec for text in self.scorers for spec in parse_scorer(text)):
            by_label.setdefault(spec.label, spec)
        self.scorer_specs = list(by_label.values())

    @classmethod
    def from_yaml(cls, path, **overrides) -> "BenchConfig":
        """Read a YAML file whose keys mirror the command-line flags; ``overrides`` win."""
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInputError(f"cannot read bench config {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{path}: a bench config is a mapping of flag names to values.")
        raw = {key.replace("-", "_"): value for key, value in raw.items()}
        if isinstance(raw.get("drama"), dict):  # Drama's keywords, written like the flags (min-leaf-size)
            raw["drama"] = {str(key).replace("-", "_"): value for key, value in raw["drama"].items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidInputError(f"{path}: unknown keys {unknown}; known keys are {sorted(known)}.")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def default_datasets(data_dir=None) -> list[str]:
    """The embedded default suite: DRAMA's simulations plus every ODDS file present (but the largest)."""
    from drama2.datasets.odds import ODDS_FILES, file_status

    present = [name for name in sorted(ODDS_FILES)
               if name not in DEFAULT_SKIPS_LARGE and file_status(name, data_dir, verify=False)["status"] == "present"]
    return list(DEFAULT_SIMULATIONS) + present
