"""Plugin registry: built-ins through hooks, failure isolation, strict mode, ambiguity, suggestions."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import drama2
from drama2.errors import AmbiguousComponentError, ComponentLoadError, PluginLoadError, UnknownComponentError
from drama2.registry import Registry, _unknown_hooks


class GoodPlugin:
    @drama2.hookimpl
    def register_metrics(self, register):
        register("manhattan2", lambda X, P, stats: (X[:, None, :] - P[None]).abs().sum(-1), description="test")

    @drama2.hookimpl
    def register_reducers(self, register):
        register("pca", "drama2.reducers.linear:PCAReducer", description="a second pca")


class BrokenPlugin:
    @drama2.hookimpl
    def register_reducers(self, register):
        register("half-registered", "drama2.reducers.linear:PCAReducer")
        raise RuntimeError("boom while registering")


class LazyBrokenPlugin:
    @drama2.hookimpl
    def register_reducers(self, register):
        register("ghost", "no_such_module_anywhere:Thing")


def test_builtins_register_through_the_hooks():
    registry = Registry(load_entry_points=False)
    assert {"none", "pca", "ica", "nmf"} <= set(registry.names("reducers"))
    assert {"ward", "kmeans"} <= set(registry.names("clusterers"))
    builtin = registry.plugins()[0]
    assert builtin.name == "drama2" and builtin.builtin and "register_reducers" in builtin.hooks


def test_all_ten_metrics_are_registered():
    from drama2.metrics import METRIC_NAMES

    assert set(Registry(load_entry_points=False).names("metrics")) == set(METRIC_NAMES)


def test_a_broken_plugin_is_reported_and_skipped():
    registry = Registry(load_entry_points=False, plugins=[("good", GoodPlugin()), ("broken", BrokenPlugin())])
    info = {p.name: p for p in registry.plugins()}
    assert info["broken"].status == "failed"
    assert "boom while registering" in info["broken"].error
    # Nothing of the broken plugin landed, everything else did.
    assert "half-registered" not in registry.names("reducers")
    assert registry.load("metrics", "manhattan2") is not None
    assert info["good"].status == "ok"


def test_strict_mode_makes_a_broken_plugin_fatal():
    with pytest.raises(PluginLoadError, match="broken"):
        Registry(load_entry_points=False, strict=True, plugins=[("broken", BrokenPlugin())])


def test_duplicate_names_are_an_error_at_lookup_with_qualified_names():
    registry = Registry(load_entry_points=False, plugins=[("good", GoodPlugin())])
    with pytest.raises(AmbiguousComponentError) as err:
        registry.get("reducers", "pca")
    message = str(err.value)
    assert "'drama2:pca'" in message and "'good:pca'" in message
    assert isinstance(err.value, KeyError)
    assert registry.get("reducers", "good:pca").provider == "good"
    assert registry.get("reducers", "drama2:pca").provider == "drama2"
    # Other names are unaffected.
    assert registry.get("reducers", "nmf").provider == "drama2"


def test_unknown_names_suggest_close_matches():
    registry = Registry(load_entry_points=False)
    with pytest.raises(UnknownComponentError, match="Did you mean 'pca'"):
        registry.get("reducers", "pac")
    with pytest.raises(UnknownComponentError, match="mahalanobis"):
        registry.get("metrics", "mahalanobi")
    with pytest.raises(UnknownComponentError, match="kinds are"):
        registry.get("widgets", "x")
    # Qualified names are suggested only for a qualified request: 'drama', not also 'drama2:drama'.
    with pytest.raises(UnknownComponentError, match=r"Did you mean 'drama'\? Known") as info:
        registry.get("scorers", "dramma")
    assert "drama2:" not in str(info.value).split("Known")[0]
    with pytest.raises(UnknownComponentError, match="Did you mean 'drama2:drama'"):
        registry.get("scorers", "drama2:dramma")


def test_lazy_targets_import_only_on_use():
    registry = Registry(load_entry_points=False, plugins=[("lazy", LazyBrokenPlugin())])
    assert "ghost" in registry.names("reducers")  # listing never imports
    with pytest.raises(ComponentLoadError, match="no_such_module_anywhere"):
        registry.load("reducers", "ghost")


def test_a_misspelt_hook_fails_the_plugin_with_a_suggestion():
    class Misspelt:
        @drama2.hookimpl
        def register_metric(self, register):  # the hook is register_metrics
            register("never", lambda *a: None)

    registry = Registry(load_entry_points=False, plugins=[("typo", Misspelt())])
    info = {p.name: p for p in registry.plugins()}
    assert info["typo"].status == "failed"
    assert "'register_metric' (did you mean 'register_metrics'?)" in info["typo"].error
    assert info["drama2"].status == "ok"  # the built-ins pass the same check


def test_valid_plugins_pass_the_hook_name_check():
    class Fine:
        @drama2.hookimpl(specname="register_metrics")  # pluggy's way to name the hook explicitly
        def my_metrics(self, register):
            register("viaspecname", lambda X, P, stats: (X[:, None, :] - P[None]).abs().sum(-1))

        _reexported = GoodPlugin.register_reducers  # a private re-export is left alone

    registry = Registry(load_entry_points=False, plugins=[("fine", Fine())])
    assert {p.name: p for p in registry.plugins()}["fine"].status == "ok"
    assert "viaspecname" in registry.names("metrics")

    class WithProperty(Fine):
        @property
        def config(self):  # never run by the check (pluggy before 1.7 runs it when registering, though)
            raise RuntimeError("reading this property fails")

    assert _unknown_hooks(WithProperty()) == []


def test_a_plugin_whose_commands_fail_keeps_none_of_its_components():
    import click

    class CommandsFail(GoodPlugin):
        @drama2.hookimpl
        def register_commands(self, cli):
            cli.add_command(click.Command("half-added"))
            raise RuntimeError("no commands today")

    registry = Registry(load_entry_points=False, plugins=[("cmdfail", CommandsFail())])
    assert "manhattan2" in registry.names("metrics")
    group = click.Group(commands=[click.Command("kept")])
    assert registry.add_commands(group) == ["cmdfail"]
    assert list(group.commands) == ["kept"]
    assert "manhattan2" not in registry.names("metrics")
    info = {p.name: p for p in registry.plugins()}["cmdfail"]
    assert info.status == "failed" and "no commands today" in info.error and info.components == {}


def test_registration_rejects_bad_names_and_factories():
    class BadName:
        @drama2.hookimpl
        def register_metrics(self, register):
            register("has space", lambda *a: None)

    class BadFactory:
        @drama2.hookimpl
        def register_metrics(self, register):
            register("fine", 42)

    registry = Registry(load_entry_points=False, plugins=[("badname", BadName()), ("badfactory", BadFactory())])
    info = {p.name: p for p in registry.plugins()}
    assert "without spaces" in info["badname"].error
    assert "callable" in info["badfactory"].error


def run_python(code, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)


def test_importing_drama2_and_listing_does_not_import_torch():
    result = run_python("""
        import sys, drama2
        from drama2.registry import get_registry
        reg = get_registry()
        reg.names("reducers"); reg.names("metrics"); reg.plugins()
        print("torch" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def fake_distribution(site, name: str, module_source: str):
    """Install, under ``site``, distribution ``drama2-<name>`` whose drama2 entry point ``name`` is that module."""
    dist = site / f"drama2_{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: drama2-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[drama2]\n{name} = drama2_{name}_module\n")
    (site / f"drama2_{name}_module.py").write_text(textwrap.dedent(module_source))
    return site


@pytest.fixture
def broken_distribution(tmp_path):
    """A real installed distribution whose drama2 entry point fails to import."""
    return fake_distribution(tmp_path / "site", "broken", "raise ImportError('this plugin is broken on purpose')\n")


def test_a_broken_entry_point_is_reported_by_the_cli(broken_distribution):
    env = {"PYTHONPATH": str(broken_distribution) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "drama2.cli", "plugins", "--json"], capture_output=True,
                            text=True, env=dict(os.environ, **env))
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["distribution"] == "drama2-broken"
    assert "broken on purpose" in plugins["broken"]["error"]
    # The rest of drama2 still works.
    listing = subprocess.run([sys.executable, "-m", "drama2.cli", "list", "reducers", "--json"],
                             capture_output=True, text=True, env=dict(os.environ, **env))
    assert "pca" in {r["name"] for r in json.loads(listing.stdout)}
    strict = subprocess.run([sys.executable, "-m", "drama2.cli", "list", "reducers"], capture_output=True,
                            text=True, env=dict(os.environ, DRAMA2_STRICT_PLUGINS="1", **env))
    assert strict.returncode != 0
    assert "drama2-broken" in strict.stderr


def test_a_family_registration_resolves_its_members():
    import pytest

    from drama2.errors import UnknownComponentError
    from drama2.hookspecs import hookimpl
    from drama2.registry import Registry, _unknown_hooks

    class FamilyPlugin:
        @hookimpl
        def register_scorers(self, register):
            register("toy:*", lambda member: f"made {member}", description="a toy family")

    registry = Registry(load_entry_points=False, plugins=[("fam", FamilyPlugin())])
    assert registry.load("scorers", "toy:ABC") == "made ABC"
    assert registry.get("scorers", "toy:ABC").metadata["member"] == "ABC"
    with pytest.raises(UnknownComponentError):
        registry.get("scorers", "toy:")  # the prefix alone names no member


def test_a_plugin_metric_named_like_a_builtin_leaves_bench_working_with_qualified_names(tmp_path):
    site = fake_distribution(tmp_path / "site", "clash", """
        import drama2

        @drama2.hookimpl
        def register_metrics(register):
            register("l2", "drama2.metrics:l2")
    """)
    env = {"PYTHONPATH": str(site) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "drama2.cli", "bench", "--datasets", "synthetic-newclass-100",
                             "--reducers", "pca", "--metrics", "drama2:l2,clash:l2,l1", "--scorers", "",
                             "--out", str(out), "--no-progress"], capture_output=True, text=True,
                            env=dict(os.environ, **env))
    assert result.returncode == 0, result.stderr
    import pandas as pd

    rows = pd.read_csv(out / "results.csv")
    assert (rows["status"] == "ok").all() and len(rows) == 3, rows[["pipeline", "status", "error"]]


def _blobs(n=60, random_state=0):  # a plugin loader without **kwargs and without data_dir
    import numpy as np

    rng = np.random.default_rng(random_state)
    y = (np.arange(n) < 5).astype(int)
    return drama2.Dataset(name="blobs", X=rng.normal(size=(n, 3)) + 6 * y[:, None], y=y)


class DatasetPlugin:
    @drama2.hookimpl
    def register_datasets(self, register):
        register("blobs", _blobs)
        register("as-tuple", lambda **_: (None, None))
        register("short-labels", lambda **_: drama2.Dataset(name="short-labels", X=[[0.0]] * 4, y=[0, 1]))


@pytest.fixture
def dataset_plugin(monkeypatch):
    registry = Registry(load_entry_points=False, plugins=[("dsplugin", DatasetPlugin())])
    monkeypatch.setattr(drama2.registry, "get_registry", lambda: registry)


def test_a_plugin_loader_without_the_generic_options_still_loads_through_generic_callers(dataset_plugin):
    data = drama2.load_dataset("blobs", data_dir="/nowhere", download=False, random_state=3)
    assert data.X.shape == (60, 3) and data.n_outliers == 5
    with pytest.raises(drama2.InvalidInputError, match="n_rows"):  # other options are still checked
        drama2.load_dataset("blobs", n_rows=10)


def test_a_loader_returning_something_else_or_bad_labels_is_named(dataset_plugin):
    with pytest.raises(drama2.InvalidInputError, match="'as-tuple'.*returned tuple, not a drama2.Dataset"):
        drama2.load_dataset("as-tuple")
    with pytest.raises(drama2.InvalidInputError, match="'short-labels'.*y has shape \\(2,\\) but X has 4 rows"):
        drama2.load_dataset("short-labels")


def test_an_unknown_name_mentions_the_plugins_that_failed_to_load():
    registry = Registry(load_entry_points=False, plugins=[("broken", BrokenPlugin())])
    with pytest.raises(UnknownComponentError, match="failed to load.*broken: .*boom while registering"):
        registry.get("reducers", "half-registered")
    clean = Registry(load_entry_points=False)
    with pytest.raises(UnknownComponentError) as err:
        clean.get("reducers", "half-registered")
    assert "failed to load" not in str(err.value)


class UnmarkedPlugin:
    def register_metrics(self, register):  # forgot @drama2.hookimpl
        register("never-seen", "drama2.metrics:l2")


def test_a_hook_without_the_marker_fails_the_plugin_instead_of_registering_nothing():
    registry = Registry(load_entry_points=False, plugins=[("unmarked", UnmarkedPlugin())])
    info = {p.name: p for p in registry.plugins()}["unmarked"]
    assert info.status == "failed" and "'register_metrics' not marked with @drama2.hookimpl" in info.error


def test_drama2_plugins_flags_names_that_two_plugins_share(monkeypatch, capsys):
    import drama2.registry
    from drama2.cli import main

    registry = Registry(load_entry_points=False, plugins=[("good", GoodPlugin())])
    monkeypatch.setattr(drama2.registry, "_registry", registry)
    monkeypatch.setenv("COLUMNS", "400")
    main(["plugins"])
    lines = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 2}
    assert "ambiguous 'pca', so ask for 'drama2:pca' or 'good:pca'" in lines["good"]
    assert "manhattan2'" not in lines["good"].split("│")[4]  # its own name is not shared
