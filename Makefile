# Two commands do all the set-up on a fresh machine with only Python on it:
#   make demo   train on the bundled digits, save the model and its pictures
#   make test   lint (ruff, and import-linter for the package's layers) and run the test suite
# Both create .venv first: torch 2.13.0 (override with TORCH=...), then aekit with its extras.

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/aekit demo --out aekit-demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) aekit-demo .pytest_cache .ruff_cache .import_linter_cache .grimp_cache
