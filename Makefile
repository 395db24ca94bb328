# The two commands of the README: `make demo` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: setup demo test test-contracts clean

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/paris demo

test: setup test-contracts
	$(VENV)/python -m pytest -q

test-contracts:
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" forge test

clean:
	rm -rf out cache .paris node/paris_node/artifacts
