# The two commands of the README: `make demo` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: setup demo test lint test-unit test-long test-contracts invariants-deep clean

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/paris demo

test: setup lint test-contracts
	$(VENV)/python -m pytest -q --durations=15 -m "not long"

# ruff and mypy, configured in pyproject.toml.
lint: setup
	$(VENV)/ruff check .
	$(VENV)/mypy

# The fast half: every test that needs no devnet.
test-unit: setup
	$(VENV)/python -m pytest -q -m "not devnet"

# Multi-round runs of real daemons that do not fit the test command's 20 minutes (about 2 minutes each).
test-long: setup
	$(VENV)/python -m pytest -q -m long

test-contracts:
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" forge test

# The long invariant campaign (10,000 runs x depth 32; about 8 minutes here). Not part of `make test`.
invariants-deep: setup
	FOUNDRY_PROFILE=deep PATH="$(CURDIR)/node_modules/.bin:$$PATH" forge test --match-contract Invariant

clean:
	rm -rf out cache .paris node/paris_node/artifacts
