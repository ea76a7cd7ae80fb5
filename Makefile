# smtpdiag: one command to run the demo, one to run the tests. Both set up what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench lab lab-down lab-status clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
