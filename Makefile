# Every target bootstraps .venv itself, so a fresh clone needs only `make demo` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PERSONS ?= 5000
UI_PORT ?= 3000
SCALES ?= 100000 1000000

.PHONY: demo test lint format bench ui clean chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tessera demo --persons $(PERSONS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The browser test drives Debian's Chromium, not a Playwright download.
chromium:
	@test -x /usr/bin/chromium || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

test: lint chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=40

# The Dagster UI on the demo's warehouse, with local destination emulators on a fresh clone.
ui: $(STAMP)
	$(BIN)/python -m orchestration.ui --persons $(PERSONS) --port $(UI_PORT)

bench: $(STAMP)
	$(BIN)/python -m bench run --scales $(SCALES)

clean:
	rm -rf warehouse artifacts dbt_project/target dbt_project/logs .dagster_home
