"""Where jobs run: in this process, in local worker processes (joblib/loky), or on a Dask cluster.

Each executor yields ``(job, rows)`` as soon as a job finishes, in completion
order, so the runner can persist it at once. Results do not depend on the
executor: every job carries its own seeds.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from drama2.bench.execute import run_job
from drama2.bench.jobs import Job


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
    try:
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    except OSError as exc:  # nothing listening there, or a wrong address: one clear line, not a traceback
        from drama2.errors import InvalidInputError

        raise InvalidInputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc}). Start one "
                                "(`dask scheduler`, then `dask worker ADDRESS`) or check the address.") from None
    try:
        futures = [client.submit(_run_keyed, job, data_dir, device, key=f"drama2-{job.key}", pure=False)
                   for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        if client is not scheduler:
            client.close()


EXECUTORS = {"sequential": run_sequential, "loky": run_loky, "dask": run_dask}
