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
