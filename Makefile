# mhealth-pipeline: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
LS_VENV     := .venv-localstack
CLIENTS_VENV := .venv-clients
GLUE_VENV   := .venv-glue
PY          := $(VENV)/bin/python
LS_PY       := $(LS_VENV)/bin/python
GLUE_PY     := $(GLUE_VENV)/bin/python
PIP_QUIET   ?= -q
SCALE       ?= 1
SEED        ?= 2014
STAGE       ?= local
KEEP_RUNNING ?=

.PHONY: help setup test test-unit test-integration lint demo down up status bench clean layers package deploy

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(LS_VENV)/.installed $(GLUE_VENV)/.installed $(CLIENTS_VENV)/.installed node_modules/.installed ## Create .venv, .venv-localstack, .venv-glue, .venv-clients and node_modules (idempotent)

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	@test -x $(PY) || $$(scripts/find-python 3.12) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(PY) -m pip install $(PIP_QUIET) -c requirements/lock.txt -e '.[spark,dev]'
	@touch $@

$(LS_VENV)/.installed: localstack/requirements.txt localstack/requirements-dev.txt localstack/constraints.txt localstack/pyproject.toml
	@test -x $(LS_PY) || $$(scripts/find-python 3.13) -m venv $(LS_VENV)
	$(LS_PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(LS_PY) -m pip install $(PIP_QUIET) -c localstack/constraints.txt -r localstack/requirements.txt -r localstack/requirements-dev.txt
	$(LS_PY) -m pip install $(PIP_QUIET) -c localstack/constraints.txt -e localstack
	@touch $@

# The newest Athena clients (boto3, AWS CLI, PyAthena, awswrangler) apart from the project's
# locked boto3: the client matrix in tests/integration/test_athena_clients.py runs them.
$(CLIENTS_VENV)/.installed: requirements/clients.txt
	@test -x $(CLIENTS_VENV)/bin/python || $$(scripts/find-python 3.12) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade pip
	$(CLIENTS_VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements/clients.txt
	@touch $@

# Glue 5.0's runtime for local job runs: Python 3.11 with only what Glue itself provides.
$(GLUE_VENV)/.installed: requirements/glue.txt
	@test -x $(GLUE_PY) || $$(scripts/find-python 3.11) -m venv $(GLUE_VENV)
	$(GLUE_PY) -m pip install $(PIP_QUIET) -r requirements/glue.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

demo: setup ## The whole chain locally, ending with the Athena query (SCALE=0.05 for a quick look)
	$(VENV)/bin/mhealth demo --scale $(SCALE) --seed $(SEED) $(if $(KEEP_RUNNING),--keep-running)

up: setup ## Start the local AWS (LocalStack + our extension) and the Kaggle stand-in
	$(VENV)/bin/mhealth local up

status: $(VENV)/.installed ## What of the local AWS runs where
	$(VENV)/bin/mhealth local status

down: $(VENV)/.installed ## Save the local AWS's state and stop what `make demo` / `make up` started
	$(VENV)/bin/mhealth local down

test: setup ## Run every test: unit, then integration on the local AWS (the README's test command)
	$(VENV)/bin/pytest tests

test-unit: $(VENV)/.installed ## Unit tests only (no LocalStack)
	$(VENV)/bin/pytest tests/unit

test-integration: setup ## Integration tests only (starts the local AWS once)
	$(VENV)/bin/pytest tests/integration

lint: $(VENV)/.installed $(LS_VENV)/.installed ## ruff, mypy --strict (project and extension) and the import-layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd localstack && ../$(LS_VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup ## Benchmarks vs baselines and floors (~15 min; SCALE10=1 adds the 1x/10x chain, ~30 min) → bench/results.json, bench/results.md
	$(PY) -m bench.run $(if $(SCALE10),--scale10)

layers: $(VENV)/.installed ## Build the Lambda layers (Linux wheels, no Docker) into build/layers
	$(PY) scripts/build_lambda_layers.py

package: $(VENV)/.installed node_modules/.installed ## Package the AWS deployment offline into .serverless/ (STAGE=prod|dev|local)
	MHEALTH_BUILD_PYTHON=$(abspath $(PY)) npx sls package --stage $(STAGE)

deploy: $(VENV)/.installed node_modules/.installed ## Deploy the whole pipeline with the Serverless Framework (STAGE=prod|dev|local)
	MHEALTH_BUILD_PYTHON=$(abspath $(PY)) npx sls deploy --stage $(STAGE)

clean: ## Remove build output and local state (not the virtualenvs); refuses while the local AWS is up
	@if [ -x $(VENV)/bin/mhealth ] && $(VENV)/bin/mhealth local running --under .local >/dev/null; then \
		echo "make clean: the local AWS is up (see make status); run make down first, it keeps its process record and state in .local" >&2; \
		exit 1; \
	fi
	rm -rf build dist .serverless .local .pytest_cache .mypy_cache .ruff_cache
