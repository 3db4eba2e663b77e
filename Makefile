# Keycard — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help deps run test test-local lint fmt bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Check every development and runtime dependency; offers to install what is missing
	@scripts/deps

run: ## Run Keycard locally on http://127.0.0.1:8080 (embedded SQLite in ./data)
	$(CARGO) run --release -p keycard

test: test-local ## Run the whole test suite

test-local: ## Unit tests + the black-box HTTP suite on SQLite and on a throwaway PostgreSQL
	$(CARGO) test --workspace --locked

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Measure logins/s, refreshes/s, GET /v1/me/s and burst memory against a release server
	scripts/bench

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data
