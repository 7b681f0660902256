import json

import numpy as np
from click.testing import CliRunner

import drama2
from drama2.cli import cli
from drama2.registry import Registry
from drama2_random_projection.reducer import RandomProjectionReducer


def test_entry_point_registers_the_reducer():
    registry = Registry(strict=True)
    reg = registry.get("reducers", "random-projection")
    assert reg.provider == "random_projection"
    assert reg.load() is RandomProjectionReducer
    info = {p.name: p for p in registry.plugins()}["random_projection"]
    assert info.distribution == "drama2-random-projection"
    assert info.components == {"reducers": ["random-projection"]}


def test_cli_lists_the_plugin_reducer():
    result = CliRunner().invoke(cli, ["list", "reducers", "--json"])
    assert result.exit_code == 0, result.output
    names = {row["name"]: row["provider"] for row in json.loads(result.output)}
    assert names["random-projection"] == "random_projection"


def test_projection_matches_its_matrix_and_inverts_on_the_span():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6))
    reducer = RandomProjectionReducer(n_components=3, random_state=1).fit(X)
    Z = reducer.transform(X)
    np.testing.assert_allclose(Z, X @ reducer.model_.components_.T)
    # Decoding then re-encoding returns the same latent points (inverse is a right-inverse).
    np.testing.assert_allclose(reducer.transform(reducer.inverse_transform(Z)), Z, atol=1e-10)


def test_drama_runs_with_the_plugin_reducer_end_to_end():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (200, 5)), rng.normal(0, 1, (200, 5)) + 6, rng.normal(0, 1, (5, 5)) + [20, -20, 20, -20, 20]]
    model = drama2.Drama(reducer="random-projection", n_components=3, random_state=0).fit(X)
    assert model.prototypes_.shape == (2, 5)
    scores = model.decision_scores_
    # The five far-away points are the five most anomalous.
    assert set(np.argsort(scores)[-5:]) == set(range(400, 405))


def test_installed_drama2_command_lists_the_plugin():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("drama2")
    command = str(exe) if exe.exists() else shutil.which("drama2")
    assert command, "the drama2 console script is not installed"
    result = subprocess.run([command, "list", "reducers"], capture_output=True, text=True, check=True)
    assert "random-projection" in result.stdout and "random_projection" in result.stdout
