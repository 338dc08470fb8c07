# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
# `make test-fast` leaves out the end-to-end tests (marked `slow`): a minute, for the edit loop.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes; `make test PYTEST_WORKERS=0` runs the tests in one process.
PYTEST_WORKERS ?= auto

.PHONY: demo test test-fast lint typecheck pytest clean bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/passerelle demo

test: lint typecheck pytest

test-fast: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
