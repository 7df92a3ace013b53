# Winback: `make demo` builds a demo registry and runs the pipeline; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SCALE ?= 1.0
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: demo test bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium with Playwright (never `playwright install`); installed once.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# Builds the demo registry, prints its summary and one login per role, then serves the UI on loopback.
demo: $(STAMP)
	$(BIN)/winback serve --demo --db registry.db

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench.run --scale $(SCALE)

clean:
	rm -rf $(VENV) registry.db registry-warehouse.duckdb registry.db.secret-key registry-demo-files registry-uploads \
		registry-facts models out tour \
		.pytest_cache
