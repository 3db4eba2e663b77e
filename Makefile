# Keycard — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
COMPOSE ?= docker compose

.PHONY: help deps env run up demo down logs test test-local fuzz readme lint fmt bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Check every dependency; offers to install what is missing (YES=1: without asking)
	@scripts/deps $(if $(YES),--yes)

env: ## Create .env for docker compose with fresh secrets (never overwrites an existing one)
	@scripts/env-file

run: ## Run Keycard locally on http://localhost:8080 (embedded SQLite in ./data)
	$(CARGO) run --release -p keycard

up: env ## Build and start Keycard + PostgreSQL in containers on http://localhost:8080
	@scripts/preflight
	. scripts/lib/containers.sh && KEYCARD_REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
		$(COMPOSE) up --build --detach --wait
	@. scripts/lib/containers.sh && echo "Keycard is up on http://$$($(COMPOSE) port keycard 8080 | sed 's/^127.0.0.1/localhost/') (API docs at /docs/; its mail at http://$$($(COMPOSE) port mail 1080 | sed 's/^127.0.0.1/localhost/'); make logs, make down)"

demo: env ## Like `up`, with every sign-in provider pointed at the stand-in: open http://localhost:8080/login
	@scripts/preflight
	. scripts/lib/containers.sh && KEYCARD_REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
		$(COMPOSE) -f compose.yaml -f compose.demo.yaml --profile demo up --build --detach --wait
	@echo "Demo up: open http://localhost:8080/login and choose a provider; the stand-in is at http://localhost:9090, the mail inbox at http://localhost:1080 (make down)"

down: env ## Stop the containers, demo included (the database volume stays; `docker compose down -v` deletes it)
	. scripts/lib/containers.sh && $(COMPOSE) -f compose.yaml -f compose.demo.yaml --profile demo down --remove-orphans

logs: env ## Follow the logs of the running stack
	. scripts/lib/containers.sh && $(COMPOSE) logs --follow

test: ## The whole black-box suite in its own container against Keycard + PostgreSQL containers
	@scripts/preflight
	scripts/container-test

test-local: ## Unit tests, the black-box HTTP suite and the pages in chromium, on the host, on SQLite and a throwaway PostgreSQL, mail through MailDev
	scripts/mail-catcher --install
	$(CARGO) test --workspace --locked

fuzz: ## Property-based fuzzing of every operation from /openapi.json (schemathesis, all checks) on SQLite and PostgreSQL
	scripts/fuzz

readme: ## Run README's examples against a fresh local server (they must work as written)
	scripts/readme-examples

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Measure logins/s (also with a second step or a passkey), refreshes/s, GET /v1/me/s, burst memory, the OpenID Provider, against a release server
	scripts/bench

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data
