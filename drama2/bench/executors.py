"""Where jobs run: in this process, in local worker processes (joblib/loky), or on a Dask cluster.

Each executor yields ``(job, rows)`` as soon as a job finishes, in completion
order, so the runner can persist it at once. Results do not depend on the
executor: every job carries its own seeds.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from drama2.bench.execute import failed_rows, run_job
from drama2.bench.jobs import Job

#: Seconds to connect to a Dask scheduler, and to wait for its first worker.
CONNECT_TIMEOUT, WORKER_TIMEOUT = 10, 60


def _run_keyed(job: Job, data_dir, device):
    return job, run_job(job, data_dir=data_dir, device=device)


def run_sequential(jobs: Iterable[Job], *, data_dir=None, device="auto", **_ignored) -> Iterator:
    """Run jobs one after the other in this process."""
    for job in jobs:
        yield _run_keyed(job, data_dir, device)


def run_loky(jobs: Iterable[Job], *, n_jobs: int, data_dir=None, device="auto", **_ignored) -> Iterator:
    """Run jobs in ``n_jobs`` local worker processes (joblib's loky backend)."""
    from joblib import Parallel, delayed

    # Each worker gets cores // n_jobs threads for BLAS and torch, so workers do not oversubscribe the CPU.
    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_run_keyed)(job, data_dir, device) for job in jobs)


def run_dask(jobs: Iterable[Job], *, scheduler, data_dir=None, device="auto", **_ignored) -> Iterator:
    """Run jobs on a Dask cluster: ``scheduler`` is its address or a ``distributed.Client``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        from drama2.errors import InvalidInputError

        raise InvalidInputError("the dask executor needs dask.distributed: pip install 'drama2[dask]'.") from None
    from drama2.errors import InvalidInputError

    try:
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:  # nothing listening, or not an address: one clear line
        raise InvalidInputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc}). Start one "
                                "(`dask scheduler`, then `dask worker ADDRESS`) and pass its address, such as "
                                "tcp://127.0.0.1:8786.") from None
    try:
        _check_workers(client)
        futures = {client.submit(_run_keyed, job, data_dir, device, key=f"drama2-{job.key}", pure=False): job
                   for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the job took its workers down
                # The job never returned rows of its own; record it as failed so one bad job cannot stop
                # the run (a resume retries it).
                yield futures[future], failed_rows(futures[future], exc)
    finally:
        if client is not scheduler:
            client.close()


def _check_workers(client) -> None:
    """Refuse a cluster without workers, or whose workers lack drama2 or run another version of it."""
    from drama2._version import __version__
    from drama2.errors import InvalidInputError

    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:  # distributed raises the builtin (or a subclass) when no worker arrives in time
        raise InvalidInputError(f"the Dask scheduler at {client.scheduler.address} has no workers (waited "
                                f"{WORKER_TIMEOUT:g} s); start some with `dask worker {client.scheduler.address}` "
                                "on machines where drama2 is installed.") from None

    def drama2_version():  # defined here so it travels by value: workers without drama2 can still run it
        try:
            import drama2
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"not importable ({type(exc).__name__}: {exc})"
        return drama2.__version__

    versions = client.run(drama2_version)
    wrong = {worker: version for worker, version in versions.items() if version != __version__}
    if wrong:
        shown = "; ".join(f"{worker}: {version}" for worker, version in list(wrong.items())[:5])
        raise InvalidInputError(f"{len(wrong)} of {len(versions)} Dask workers do not run drama2 {__version__} as "
                                f"this process does ({shown}). Install the same drama2 on every worker.")


EXECUTORS = {"sequential": run_sequential, "loky": run_loky, "dask": run_dask}
