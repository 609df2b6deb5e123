# Two entry points for people: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[plot]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/rnnkit train --out runs/demo

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n 2 -q -rs $(PYTEST_ARGS)

# Full Fashion-MNIST for the benchmarks comes from Debian's package when it can be installed (root);
# otherwise the benchmarks fall back to the bundled MNIST sample.
FASHION_DIR := /usr/share/datasets/fashion-mnist

bench: $(VENV)/.test-installed
	@test -d $(FASHION_DIR) || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || true
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.accuracy

clean:
	rm -rf $(VENV) runs
