# shopchat — `make run` starts the server, `make test` runs every check. Both install what they need into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run install install-dev browser lint format test test-fast screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: start the chat server with embedded defaults (no API key, no external service); with the demo shop
## (no SHOPCHAT_SHOP_DIR) demo mode is on unless SHOPCHAT_DEMO_MODE says otherwise: pick any demo customer
run: install
	@if [ -z "$$SHOPCHAT_SHOP_DIR" ]; then export SHOPCHAT_DEMO_MODE="$${SHOPCHAT_DEMO_MODE:-true}"; fi; \
	exec $(BIN)/shopchat serve

## browser: Debian's Chromium for the Playwright tests (skipped with a reason when it cannot be installed)
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) \
			|| echo "chromium could not be installed: browser tests will be skipped"; \
	else echo "no /usr/bin/chromium and not root: browser tests will be skipped"; fi

## lint: ruff (lint + format check), mypy --strict and the layering contracts (import-linter)
lint: install-dev
	$(BIN)/ruff check app finetune tests bench
	$(BIN)/ruff format --check app finetune tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix app finetune tests bench
	$(BIN)/ruff format app finetune tests bench

## test: lint, then the whole suite (async/unit tests first, browser tests last in their own run)
test: install-dev browser lint
	$(BIN)/pytest -m "not browser"
	$(BIN)/pytest -m browser tests/browser

test-fast: install-dev
	$(BIN)/pytest -m "not browser and not slow" -x -q

## screenshots: refresh the README's widget screenshots in docs/screenshots/
screenshots: install-dev browser
	SHOPCHAT_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -m browser tests/browser/test_widget_screenshots.py

## bench: the benchmarks behind the README's figures (need ../shared/data)
bench: install-dev
	$(BIN)/python bench/cf.py
	$(BIN)/python bench/finetune.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache shopchat-data
