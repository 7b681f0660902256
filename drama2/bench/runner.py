"""``drama2 bench`` in Python: expand the grid, run what is not done, persist each job, write the report."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from drama2.bench.config import BenchConfig, parse_reducer
from drama2.bench.executors import EXECUTORS
from drama2.bench.jobs import Job, expand_grid
from drama2.bench.store import RunLock, RunStore
from drama2.errors import InvalidInputError

#: results.csv is rewritten at most this often while a run is going (job records are written at once).
RESULTS_REFRESH_SECONDS = 5.0
#: ... and never so often that rewriting it takes more than this share of the run: the file grows with the
#: run, so a fixed period would make a long run spend ever more time rewriting it.
RESULTS_REFRESH_SHARE = 0.01


@dataclass
class BenchResult:
    """What a run produced.

    Attributes
    ----------
    out : Path
        The run directory.
    results : pandas.DataFrame
        Every row of results.csv.
    n_jobs, n_resumed, n_failed_jobs : int
        Jobs in the grid, jobs skipped because a previous run finished them, jobs with a failed row.
    wall_seconds : float
        Elapsed wall-clock time of the whole call, in seconds.
    overhead_seconds : dict
        Time the runner itself spent (grid expansion and name checks, persistence, report), by part.
    """

    out: Path
    results: object
    n_jobs: int
    n_resumed: int
    n_failed_jobs: int
    wall_seconds: float
    overhead_seconds: dict


def check_names(config: BenchConfig) -> None:
    """Fail before running anything when a name, or a parameter of a scorer or of DRAMA, is unknown."""
    from drama2.engine import Drama
    from drama2.registry import get_registry
    from drama2.validation import check_component_params, check_parameters

    registry = get_registry()
    for kind, names in (("datasets", config.datasets), ("metrics", config.metrics)):
        for name in names:
            registry.get(kind, name)
    shared = config.drama.get("reducer_params") if config.drama else None
    if shared is not None and not isinstance(shared, dict):
        raise InvalidInputError(f"drama: reducer_params must be a mapping of keyword arguments, got {shared!r}.")
    for text in config.reducers if config.metrics else []:
        spec = parse_reducer(text)
        reducer_cls = registry.load("reducers", spec.name)
        check_parameters(reducer_cls, dict(spec.params), component=f"reducer {spec.name!r}")
        # The drama block's reducer_params go to every reducer of the grid, so each must take them.
        try:
            check_component_params(reducer_cls, {**dict(shared or {}), **dict(spec.params)},
                                   "drama: reducer_params", f"reducer {spec.name!r}", owner="Drama",
                                   set_by_owner={"n_components": "set drama: n_components instead",
                                                 "random_state": "use seeds"})
        except InvalidInputError as exc:
            if not shared:
                raise
            raise InvalidInputError(f"{exc} The drama block's reducer_params reach every reducer of the grid; to "
                                    "give a parameter to one reducer, write it in the reducers list, as in "
                                    "ae[max_epochs=20].") from None
    for spec in config.scorer_specs:
        # Scorers are loaded, not only looked up: a family member such as pyod:NAME is checked on load.
        check_parameters(registry.load("scorers", spec.name), dict(spec.params), component=f"scorer {spec.name!r}")
        if "random_state" in dict(spec.params):  # it would override every seed while results name the seed
            raise InvalidInputError(f"scorer {spec.label!r} sets random_state, which the bench sets for every job "
                                    "from its seeds; list the seeds to run instead (--seeds / seeds:).")
    if config.labelled_anomalies:
        blind = [spec.label for spec in config.scorer_specs if not hasattr(registry.load("scorers", spec.name),
                                                                             "select")]
        if blind:  # their rows would simply be missing from the K-labelled columns
            warnings.warn(f"--labelled-anomalies applies to scorers that can select members with labels (an "
                          f"ensemble); {', '.join(blind)} cannot, so they get no +K rows.", UserWarning, stacklevel=3)
    if config.executor != "dask":  # on a cluster the workers' devices count, not this machine's
        from drama2.device import resolve_device

        resolve_device(config.device)
    if config.reducers and config.metrics:
        check_parameters(Drama, dict(config.drama), component="drama (the DRAMA grid's settings)")
        _check_drama_values(config.drama)
        grid_keys = {"reducer": "reducers", "split_levels": "split-levels", "random_state": "seeds",
                     "device": "device", "metric": "metrics"}
        clash = [f"{key!r} (use {grid_keys[key]})" for key in config.drama if key in grid_keys]
        if clash:
            raise InvalidInputError(f"drama: {', '.join(clash)} is set by the bench grid, not the drama block.")


def _check_drama_values(settings: dict) -> None:
    """Refuse a wrong value in the drama block (a list for n_components, an unknown scaling or clusterer, a
    contamination above 0.5, ...) before any job runs, in the words Drama itself would use."""
    from drama2.engine import Drama
    from drama2.registry import get_registry

    probe = Drama(**{key: value for key, value in settings.items() if key != "reducer_params"})
    try:
        probe._check_params()
        get_registry().get("clusterers", probe.clusterer)
    except InvalidInputError as exc:
        raise InvalidInputError(f"drama: {exc}") from None
    if not isinstance(probe.clusterer_params, (dict, type(None))):
        raise InvalidInputError(
            f"drama: clusterer_params must be a mapping of keyword arguments, got {probe.clusterer_params!r}.")


def _versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("drama2", "numpy", "scipy", "scikit-learn", "torch", "pandas", "joblib", "dask", "distributed",
                 "pyod", "umap-learn"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def build_manifest(config: BenchConfig, argv, jobs: list[Job], status: str, started: str) -> dict:
    """The run's provenance: versions, plugins, device, command line, git revision, grid size."""
    from drama2.device import resolve_device
    from drama2.registry import get_registry

    try:
        device = resolve_device(config.device)
    except Exception as exc:  # noqa: BLE001 - provenance must not stop the run
        device = f"unavailable ({exc})"
    return {
        "status": status, "started": started, "updated": _now(), "command": list(argv or sys.argv),
        "config": config.as_dict(), "n_jobs": len(jobs), "versions": _versions(),
        "plugins": [p.as_dict() for p in get_registry().plugins()], "device": device,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": __import__("os").cpu_count()},
        "git_revision": _git_revision(),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _progress(enabled: bool | None):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    console = Console(stderr=True)
    disable = not console.is_terminal if enabled is None else not enabled
    return Progress(TextColumn("[bold]bench"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[current]}"),
                    console=console, disable=disable, transient=False)


def run_bench(config: BenchConfig, *, argv=None, progress: bool | None = None, report: bool = True,
              scheduler_client=None) -> BenchResult:
    """Run (or resume) a benchmark and write its run directory.

    Parameters
    ----------
    config : BenchConfig
    argv : list of str, optional
        The command line recorded in the manifest.
    progress : bool, optional
        Show a progress bar on stderr; default only when stderr is a terminal.
    report : bool
        Build report.md, report.html and figures at the end.
    scheduler_client : distributed.Client, optional
        An existing Dask client to use instead of connecting to ``config.scheduler``.

    Returns
    -------
    BenchResult

    Raises
    ------
    InvalidInputError
        When another ``drama2 bench`` process is writing to ``config.out``.
    """
    check_names(config)  # before the run directory is created or claimed
    with RunLock(config.out):
        return _run(config, argv=argv, progress=progress, report=report, scheduler_client=scheduler_client)


def _run(config: BenchConfig, *, argv, progress, report, scheduler_client) -> BenchResult:
    """:func:`run_bench` once the run directory is claimed."""
    started, clock = _now(), time.perf_counter()
    overhead = {"grid": 0.0, "persist": 0.0, "report": 0.0}
    jobs = expand_grid(config)
    overhead["grid"] = time.perf_counter() - clock
    store = RunStore(config.out)
    tick = time.perf_counter()
    store.write_manifest(build_manifest(config, argv, jobs, "running", started))
    rows_by_key = {}
    if config.resume:
        for job in jobs:
            rows = store.finished_rows(job.key)
            if rows is not None:
                rows_by_key[job.key] = rows
    n_resumed = len(rows_by_key)
    overhead["persist"] += time.perf_counter() - tick
    todo = [job for job in jobs if job.key not in rows_by_key]

    def ordered_rows():
        return [row for job in jobs for row in rows_by_key.get(job.key, [])]

    executor = EXECUTORS["dask" if scheduler_client is not None else config.executor]
    status = "interrupted"
    try:
        with _progress(progress) as bar:
            task = bar.add_task("bench", total=len(jobs), completed=n_resumed, current="")
            last_write, write_cost = time.perf_counter(), 0.0
            for job, rows in executor(todo, n_jobs=config.jobs, scheduler=scheduler_client or config.scheduler,
                                      data_dir=config.data_dir, device=config.device):
                tick = time.perf_counter()
                store.save_job(job.key, job.identity(), rows)
                rows_by_key[job.key] = rows
                bar.update(task, advance=1, current=job.dataset)
                if tick - last_write > max(RESULTS_REFRESH_SECONDS, write_cost / RESULTS_REFRESH_SHARE):
                    store.write_results(ordered_rows(), parquet=False)
                    last_write = time.perf_counter()
                    write_cost = last_write - tick
                overhead["persist"] += time.perf_counter() - tick
        status = "finished"
    finally:
        tick = time.perf_counter()
        store.write_results(ordered_rows())
        manifest = build_manifest(config, argv, jobs, status, started)
        store.write_manifest(manifest)
        overhead["persist"] += time.perf_counter() - tick
    if report:
        from drama2.bench.report import build_report

        tick = time.perf_counter()
        build_report(config.out)
        overhead["report"] = time.perf_counter() - tick
    wall = time.perf_counter() - clock
    store.write_manifest({**manifest, "wall_seconds": wall, "runner_overhead_seconds": overhead})
    failed = {row["job"] for row in ordered_rows() if row["status"] == "failed"}
    return BenchResult(out=Path(config.out), results=store.read_results(), n_jobs=len(jobs), n_resumed=n_resumed,
                       n_failed_jobs=len(failed), wall_seconds=wall, overhead_seconds=overhead)
