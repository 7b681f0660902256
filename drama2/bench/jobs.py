"""Grid expansion: a :class:`BenchConfig` becomes a list of jobs, each one fit.

A DRAMA job fits one reducer at one split level and scores every metric with
that fit (as DRAMA does), so a full metric sweep costs about one fit. A scorer
job fits one whole detector. A job's key and random seed are hashes of its
identity, never of its position in the run, so any executor gives the same
numbers and a resumed run recognises finished work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from drama2.bench.config import BenchConfig, parse_reducer, scorer_label


@dataclass(frozen=True)
class Job:
    """One fit: a DRAMA reducer × split level (scored with several metrics), or one scorer."""

    dataset: str
    protocol: str
    seed: int
    kind: str  # "drama" or "scorer"
    reducer: str | None = None
    split_level: int | None = None
    metrics: tuple = ()
    drama_params: tuple = ()
    scorer: str | None = None
    params: tuple = ()
    labelled: tuple = ()  # K values of label-aware selection (scorers with ``select``)

    def _settings(self) -> dict:
        """The job's settings: what its seed derives from."""
        identity = {"dataset": self.dataset, "protocol": self.protocol, "seed": self.seed, "kind": self.kind,
                    "reducer": self.reducer, "split_level": self.split_level, "metrics": list(self.metrics),
                    "drama_params": [list(p) for p in self.drama_params], "scorer": self.scorer,
                    "params": [list(p) for p in self.params]}
        return identity

    def identity(self) -> dict:
        """Everything that determines the job's result."""
        identity = self._settings()
        if self.labelled:  # only when used, so runs without it keep their keys (and resume)
            # The K values decide which rows the job writes, so they are part of its key; they are not
            # part of its seed, so the model and each K's labels do not depend on which other K were asked.
            identity["labelled"] = list(self.labelled)
        if self.kind == "scorer" and self.protocol == "transductive":
            # Scored by the detector's own training scores (before 2026-11-23, kNN and LOF rows scored the
            # fitted rows again as new data): a new key, so such rows in older run directories are redone,
            # never resumed beside new ones. The seed stays that of the settings.
            identity["scores"] = "training"
        plugins = self.plugin_versions()
        if plugins:  # only when a plugin is used, so runs of built-ins keep their keys (and resume)
            identity["plugins"] = plugins
        return identity

    def components(self) -> list[tuple[str, str]]:
        """The registered components the job uses, as (kind, name) pairs."""
        used = [("datasets", self.dataset)]
        if self.kind == "drama":
            used.append(("reducers", self.reducer_spec.name))
            used += [("metrics", metric) for metric in self.metrics]
            clusterer = dict(self.drama_params).get("clusterer")
            if isinstance(clusterer, str):
                used.append(("clusterers", clusterer))
        else:
            used.append(("scorers", self.scorer))
        return used

    def plugin_versions(self) -> dict:
        """``{plugin: version}`` of the third-party plugins that provide the job's components.

        Part of the job's key, so a run resumed after a plugin's upgrade fits that plugin's jobs again
        instead of keeping numbers its old code produced.
        """
        from drama2.errors import Drama2Error
        from drama2.registry import get_registry

        registry = get_registry()
        infos = {info.name: info for info in registry.plugins()}
        versions = {}
        for kind, name in self.components():
            try:
                provider = registry.get(kind, name).provider
            except Drama2Error:  # unknown or ambiguous: the job fails on it and records why
                continue
            info = infos.get(provider)
            if info is not None and not info.builtin:
                versions[provider] = info.version or "unversioned"
        return dict(sorted(versions.items()))

    @property
    def key(self) -> str:
        """A stable file-name-safe key (dataset name plus a hash of the identity)."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()
        return f"{self.dataset}-{digest[:16]}"

    @property
    def random_state(self) -> int:
        """The models' seed, derived from the job's settings."""
        return _seed_of(self._settings())

    @property
    def split_state(self) -> int:
        """The train/test split's seed: shared by every pipeline on one dataset and seed, so all see one split."""
        return _seed_of({"dataset": self.dataset, "seed": self.seed, "purpose": "split"})

    @property
    def reducer_spec(self):
        """The reducer's name and its own parameters (``ae[max_epochs=20]``) as a :class:`ScorerSpec`."""
        return parse_reducer(self.reducer)

    def drama_settings(self) -> dict:
        """``Drama``'s keyword arguments besides reducer, split level, device and seed: the config's ``drama``
        block, with the reducer's own parameters merged into its ``reducer_params``."""
        params = dict(self.drama_params)
        own = dict(self.reducer_spec.params)
        if own:
            params["reducer_params"] = {**dict(params.get("reducer_params") or {}), **own}
        return params

    def pipeline_of(self, metric: str | None = None, labelled: int | None = None) -> str:
        """Pipeline name of a result row: ``drama-<reducer>-<metric>-s<level>`` or the scorer's label
        (``<label>+<K>lab`` after selection with K labelled anomalies)."""
        if self.kind == "drama":
            return f"drama-{self.reducer}-{metric}-s{self.split_level}"
        label = scorer_label(self.scorer, self.params)
        return label if labelled is None else f"{label}+{labelled}lab"


def _seed_of(identity: dict) -> int:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def expand_grid(config: BenchConfig) -> list[Job]:
    """Every job of ``config``: datasets × seeds × (reducers × split levels, scorers)."""
    jobs = []
    drama_params = tuple(sorted(config.drama.items()))
    for dataset in config.datasets:
        for seed in config.seeds:
            if config.metrics:
                for reducer in config.reducers:
                    for level in config.split_levels:
                        jobs.append(Job(dataset, config.protocol, seed, "drama", reducer=reducer, split_level=level,
                                        metrics=tuple(config.metrics), drama_params=drama_params))
            for spec in config.scorer_specs:
                jobs.append(Job(dataset, config.protocol, seed, "scorer", scorer=spec.name, params=spec.params,
                                labelled=tuple(config.labelled_anomalies)))
    return jobs
