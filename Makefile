# Two commands for a newcomer: `make run` opens jobdesk, `make test` runs the tests.
# Each sets up what it needs: Qt's system libraries (where root can install them),
# the virtual environment and packages, PostgreSQL and Redis if down, the database.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run serve test test-fast lint bench screenshots setup services sysdeps db clean

run: setup services db
	$(BIN)/jobdesk gui

serve: setup services db
	$(BIN)/jobdesk serve

test: setup services
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q -p no:cacheprovider

test-fast: setup services
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q -p no:cacheprovider -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy jobdesk

bench: setup services
	$(BIN)/python -m benchmarks

screenshots: setup services
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m jobdesk.ui.screenshots docs/screenshots

setup: sysdeps $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[gui,dev]'
	touch $(STAMP)

# Offscreen Qt needs these shared libraries (see PLATFORM.md); install them when we can.
QT_LIBS := libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
sysdeps:
	@bash scripts/sysdeps.sh $(QT_LIBS)

services:
	@bash scripts/services.sh

db: setup services
	$(BIN)/jobdesk db upgrade

clean:
	rm -rf $(VENV) *.egg-info
