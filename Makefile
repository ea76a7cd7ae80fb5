# smtpdiag: one command to run the demo, one to run the tests. Both set up what they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests install exact versions with hashes, so a dependency's release cannot turn CI red
# by itself; `make test-latest` tries the newest releases on purpose, `make lock` moves
# the lock. The package's own ranges (pyproject.toml) stay open for users.
LOCK := requirements-dev.lock
LATEST := .venv-latest
UV := uv==0.13.10

.PHONY: demo test test-latest lock lint typecheck bench lab lab-down lab-status clean

$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Run smtpdiag against built-in local servers (no network needed).
demo: $(STAMP)
	$(BIN)/smtpdiag demo

## The whole test suite: unit, integration (loopback), CLI, and the lab tier
## (Postfix + nsd + network namespaces; runs as root, skips with a reason otherwise).
test: $(STAMP)
	bash scripts/system-deps.sh
	$(BIN)/ruff check smtpdiag tests
	$(BIN)/mypy smtpdiag
	$(BIN)/pytest

## The same checks against the newest release of every dependency (not the lock).
test-latest:
	rm -rf $(LATEST)
	$(PY) -m venv $(LATEST)
	$(LATEST)/bin/pip install -q --upgrade pip
	$(LATEST)/bin/pip install -q --upgrade -e '.[dev]'
	$(LATEST)/bin/pip list --format=freeze | grep -vE '^(smtpdiag|pip|setuptools|wheel)==' > $(LATEST)/versions.txt
	bash scripts/system-deps.sh
	$(LATEST)/bin/ruff check smtpdiag tests
	$(LATEST)/bin/mypy smtpdiag
	SMTPDIAG_TEST_LATEST=1 $(LATEST)/bin/pytest
	@echo "test-latest: passed. Releases newer than the lock (empty: none):"
	@norm() { grep -oE '^[A-Za-z0-9_.-]+==[^ ;\\]+' | tr 'A-Z_' 'a-z-' | sort; }; \
	  comm -13 <(norm < $(LOCK)) <(norm < $(LATEST)/versions.txt) | sed 's/^/  /'

## Move the lock to the newest releases the ranges in pyproject.toml allow.
lock:
	$(PY) -m venv .venv-tools
	.venv-tools/bin/pip install -q '$(UV)'
	printf 'hatchling>=1.18\neditables\n' | .venv-tools/bin/uv pip compile pyproject.toml - --extra dev \
	  --generate-hashes --universal --python-version 3.11 --upgrade \
	  --custom-compile-command "make lock" -o $(LOCK)

lint: $(STAMP)
	$(BIN)/ruff check smtpdiag tests
	$(BIN)/ruff format --check smtpdiag tests

typecheck: $(STAMP)
	$(BIN)/mypy smtpdiag

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

## Bring the lab up and leave it running (root): real Postfix, nsd, netns faults.
lab: $(STAMP)
	bash scripts/system-deps.sh
	$(BIN)/python -m tests.lab.labctl up

lab-down: $(STAMP)
	$(BIN)/python -m tests.lab.labctl down

lab-status: $(STAMP)
	$(BIN)/python -m tests.lab.labctl status

clean:
	rm -rf $(VENV) $(LATEST) .venv-tools .pytest_cache .mypy_cache .ruff_cache
