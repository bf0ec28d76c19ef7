# Two entry points, each of which sets up a fresh machine first:
#   make run   - install (CPU torch pinned) and run the default job
#   make test  - install (CPU torch pinned, dev tools) and run the test suite
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: setup setup-dev run test test-slow lint

setup:
	$(PIP) install -q -e ".[cpu]"

setup-dev:
	$(PIP) install -q -e ".[cpu,dev]"

run: setup
	ttcs

test: setup-dev
	$(PYTHON) -m pytest -q

test-slow: setup-dev
	$(PYTHON) -m pytest -q -m slow

lint: setup-dev
	$(PYTHON) -m ruff check ttcs verifiers eval tests
