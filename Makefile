PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install, so the install reruns only when pyproject.toml changes.
STAMP := $(VENV)/.stamp-dev

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/python examples/quickstart.py

lint: venv
	$(BIN)/ruff check .

# CI machines have two cores.
test: lint
	$(BIN)/python -m pytest -n 2

bench: venv
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/runtime.py

# Keeps the virtualenv, which is slow to rebuild; `rm -rf .venv` for a fresh one.
clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
