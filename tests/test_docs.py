"""Documentation stays in step with the code."""

import inspect
from pathlib import Path

from drama2 import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def test_every_hook_is_documented_in_the_plugin_guide():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(obj, "drama2_spec")]
    assert len(hooks) == 6
    missing = [h for h in hooks if f"`{h}" not in guide]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_readme_states_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make bench" in readme and "make test" in readme


def test_every_built_in_dataset_is_documented_with_its_citation():
    from drama2.registry import Registry

    page = (ROOT / "docs" / "datasets.md").read_text()
    names = [r.name for r in Registry(load_entry_points=False).registrations("datasets")]
    assert len(names) > 30
    missing = [n for n in names if n not in page]
    assert not missing, f"datasets missing from docs/datasets.md: {missing}"
    for citation in ("Rayana (2016)", "Vafaei Sadr, Bassett & Kunz (2019)", "Alpaydin & Kaynak", "Pérez-Carrasco"):
        assert citation in page


def test_every_built_in_reducer_is_documented():
    from drama2.registry import Registry

    page = (ROOT / "docs" / "reducers.md").read_text()
    names = [r.name for r in Registry(load_entry_points=False).registrations("reducers")]
    assert len(names) >= 11
    missing = [n for n in names if f"`{n}`" not in page]
    assert not missing, f"reducers missing from docs/reducers.md: {missing}"


def test_every_built_in_scorer_is_documented():
    from drama2.registry import Registry

    page = (ROOT / "docs" / "scorers.md").read_text()
    names = [r.name.replace("*", "<Name>") for r in Registry(load_entry_points=False).registrations("scorers")]
    missing = [n for n in names if f"`{n}`" not in page]
    assert not missing, f"scorers missing from docs/scorers.md: {missing}"
