# mhealth-pipeline: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
LS_VENV     := .venv-localstack
PY          := $(VENV)/bin/python
LS_PY       := $(LS_VENV)/bin/python
PIP_QUIET   ?= -q
SCALE       ?= 1
STAGE       ?= local

.PHONY: help setup test test-unit test-integration lint demo down bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(LS_VENV)/.installed node_modules/.installed ## Create .venv, .venv-localstack and node_modules (idempotent)

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	@test -x $(PY) || $$(scripts/find-python 3.12) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(PY) -m pip install $(PIP_QUIET) -c requirements/lock.txt -e '.[spark,dev]'
	@touch $@

$(LS_VENV)/.installed: localstack/requirements.txt localstack/constraints.txt localstack/pyproject.toml
	@test -x $(LS_PY) || $$(scripts/find-python 3.13) -m venv $(LS_VENV)
	$(LS_PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(LS_PY) -m pip install $(PIP_QUIET) -c localstack/constraints.txt -r localstack/requirements.txt
	$(LS_PY) -m pip install $(PIP_QUIET) -c localstack/constraints.txt -e localstack
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

test: setup ## Run every test: unit, then integration on the local AWS (the README's test command)
	$(VENV)/bin/pytest tests

test-unit: $(VENV)/.installed ## Unit tests only (no LocalStack)
	$(VENV)/bin/pytest tests/unit

test-integration: setup ## Integration tests only (starts the local AWS once)
	$(VENV)/bin/pytest tests/integration

lint: $(VENV)/.installed ## ruff and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean: ## Remove build output and local state (not the virtualenvs)
	rm -rf build dist .serverless .local .pytest_cache .mypy_cache .ruff_cache
