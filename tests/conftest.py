import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Tests never reach the real network: a missing dataset must fail or skip, not download.
# (tests/test_download.py lifts this for its own local HTTP server.)
os.environ.setdefault("DRAMA2_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory ($DRAMA2_DATA, else ../shared/data); skip (or fail in CI) without it."""
    candidate = Path(os.environ.get("DRAMA2_DATA") or ROOT.parent / "shared" / "data")
    if not candidate.is_absolute():
        candidate = (Path.cwd() / candidate).resolve()
    if not (candidate / "odds").is_dir():
        if os.environ.get("DRAMA2_REQUIRE_DATA") == "1":
            pytest.fail(f"DRAMA2_REQUIRE_DATA=1 but no data directory at {candidate}")
        pytest.skip(f"benchmark data not found at {candidate}; set DRAMA2_DATA")
    return candidate


@pytest.fixture
def torch_one_thread():
    """Run a test's torch code on one thread: tiny networks gain nothing from more, and on a busy
    2-core machine OpenMP's spinning threads make them crawl."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` on machines without CUDA (they run where one is present)."""
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu_tests:
        item.add_marker(skip)
