"""The documentation site builds with warnings as errors, and its generated pages are complete.

``mkdocs build --strict`` fails on a broken link, a missing anchor, a page left out of the navigation or a
link to a repository file that does not exist, so building the site here is what keeps docs/ consistent.
"""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]' (the test extra has it)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_every_page_in_docs_is_built_and_in_the_navigation(site):
    import yaml

    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)

    def pages(nav):
        for entry in nav:
            for value in (entry.values() if isinstance(entry, dict) else [entry]):
                yield from (pages(value) if isinstance(value, list) else [value])

    in_nav = set(pages(config["nav"]))
    sources = {p.name for p in (ROOT / "docs").glob("*.md")} | {"components.md"}
    assert sources <= in_nav, f"pages missing from the nav in mkdocs.yml: {sorted(sources - in_nav)}"
    for name in sorted(in_nav):
        built = site / ("index.html" if name == "index.md" else f"{name[:-3]}/index.html")
        assert built.is_file(), f"{name} was not built"


def test_the_components_page_lists_every_registered_component(site):
    from drama2.registry import KINDS, get_registry

    page = _page(site, "components")
    registry = get_registry()
    missing = []
    for kind in KINDS:
        registrations = registry.registrations(kind)
        assert registrations, f"no {kind} registered"
        for registration in registrations:
            if f"<code>{html.escape(registration.name)}</code>" not in page:
                missing.append(f"{kind}:{registration.name}")
            if kind in ("reducers", "clusterers", "scorers"):
                anchor = f"{kind}-" + re.sub(r"[^A-Za-z0-9]+", "-", registration.name).strip("-").lower()
                if f'id="{anchor}"' not in page:
                    missing.append(f"{kind}:{registration.name} (section #{anchor})")
    assert not missing, f"components missing from the generated components page: {missing}"
    # Parameters come from the signatures with their defaults and the numpydoc text.
    assert "<code>n_components</code>" in page and "<code>'ward'</code>" in page
    assert "Largest number of rows clustered exactly" in page  # WardClusterer's numpydoc "Parameters"
    assert "Rayana (2016)" in page and "Vafaei Sadr, Bassett" in page  # dataset citations


def test_committed_benchmark_figures_are_in_the_site(site):
    table6 = site / "repo" / "benchmarks" / "results" / "table6"
    assert (table6 / "report-screenshot.png").is_file()
    assert (table6 / "figures" / "comparison.png").is_file()
    bench = _page(site, "bench")
    assert "../repo/benchmarks/results/table6/figures/comparison.png" in bench
    assert "../repo/benchmarks/results/table6/report-screenshot.png" in bench
    # The linked report itself is a page of the site, with its own figures.
    assert (table6 / "report" / "index.html").is_file()
    assert (site / "figures" / "pipeline.png").is_file()
    assert not list(site.rglob("*.py")), "build scripts must not be published"


def test_numpydoc_parameters_are_parsed():
    import importlib.util

    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location("drama2_docs_hook", ROOT / "docs" / "_hooks" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    doc = """Summary.

    Parameters
    ----------
    alpha : int, default 2
        First line
        second line.
    beta, gamma : str
    delta : float

    Returns
    -------
    self
    """
    import inspect

    params = generate.numpydoc_parameters(inspect.cleandoc(doc))
    assert params == {"alpha": ("int, default 2", "First line second line."), "beta": ("str", ""),
                      "gamma": ("str", ""), "delta": ("float", "")}
