# Set-up and main commands. Everything goes into a virtual environment in .venv.
#   make bench   create the environment if needed, then run the main job on the embedded default
#   make test    create the environment if needed, then run the test suite
#   make docs    create the environment if needed, then build the documentation site into site/ (strict)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.drama2-installed

.PHONY: install test bench benchmarks docs clean

$(STAMP): pyproject.toml plugins/drama2-random-projection/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# Without an NVIDIA GPU, take the CPU build of torch (2.13.0 is the local CPU wheel here; newer
	@# releases pull gigabytes of CUDA packages).
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/python -m pip install --quiet torch; \
	else \
		$(BIN)/python -m pip install --quiet torch==2.13.0; \
	fi
	$(BIN)/python -m pip install --quiet -e '.[test]' -e plugins/drama2-random-projection
	touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/drama2 bench

docs: install
	$(BIN)/python -m mkdocs build --strict --site-dir site

benchmarks: install
	$(BIN)/python benchmarks/drama_grid.py
	$(BIN)/python benchmarks/metrics_vs_cdist.py

clean:
	rm -rf $(VENV)
