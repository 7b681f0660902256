"""The command line: version, listings, plugins and the demo."""

import json

import pytest
from click.testing import CliRunner

from drama2 import __version__
from drama2.cli import cli


def invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_version_and_help():
    assert __version__ in invoke("--version")
    assert "plugins" in invoke("--help")


def test_list_kinds_as_json():
    metrics = {row["name"] for row in json.loads(invoke("list", "metrics", "--json"))}
    assert {"l1", "l2", "mahalanobis", "canberra"} <= metrics
    assert "ward" in invoke("list", "clusterers")
    datasets = {row["name"] for row in json.loads(invoke("list", "datasets", "--json"))}
    assert {"synthetic-local-100", "cardio", "speech"} <= datasets


def test_plugins_json_lists_the_builtins():
    plugins = {p["name"]: p for p in json.loads(invoke("plugins", "--json"))}
    assert plugins["drama2"]["status"] == "ok"
    assert "pca" in plugins["drama2"]["components"]["reducers"]


def test_demo_prints_auc_mcc_rws():
    out = json.loads(invoke("demo", "--reducers", "pca", "--metrics", "l2,l1", "--json"))
    assert out["dataset"] == "synthetic-local-100"
    assert [(r["reducer"], r["metric"]) for r in out["rows"]] == [("pca", "l2"), ("pca", "l1")]
    assert all(0.8 < r["auc"] <= 1 and -1 <= r["mcc"] <= 1 and 0 <= r["rws"] <= 1 for r in out["rows"])
    table = invoke("demo", "--reducers", "none", "--metrics", "l2")
    assert "AUC" in table and "MCC" in table and "RWS" in table


def test_datasets_list_and_verify(data_dir, tmp_path):
    import shutil

    rows = {r["name"]: r for r in json.loads(invoke("datasets", "list", "--data-dir", str(data_dir), "--json"))}
    assert rows["cardio"]["status"] == "present" and rows["cardio"]["n"] == 1831
    assert rows["speech"]["status"] == "missing"
    assert "present" in invoke("datasets", "verify", "--data-dir", str(data_dir))
    (tmp_path / "odds").mkdir()
    shutil.copy(data_dir / "odds" / "wine.mat", tmp_path / "odds" / "wine.mat")
    with open(tmp_path / "odds" / "wine.mat", "ab") as fh:
        fh.write(b"tampered")
    result = CliRunner().invoke(cli, ["datasets", "verify", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert {r["name"]: r["status"] for r in json.loads(result.output)}["wine"] == "corrupt"


def test_list_scorers_shows_the_installed_pyod_detectors():
    pytest.importorskip("pyod")
    rows = {row["name"]: row for row in json.loads(invoke("list", "scorers", "--json"))}
    assert {"pyod:*", "pyod:ECOD", "pyod:HBOS", "pyod:COPOD"} <= set(rows)
    assert rows["pyod:ECOD"]["description"] == "member of pyod:*"
    assert "E[h(x)]" in invoke("list", "scorers")  # descriptions are shown literally, not as markup
