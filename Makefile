# One Makefile, used by people and by CI alike.
PYTHON ?= python3
# Every path from the Makefile's own folder, so `make -f path/to/Makefile run` works from anywhere.
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit faults bench clean venv screenshots

$(STAMP): $(ROOT)/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=70.1"
	$(BIN)/pip install --quiet -e '$(ROOT)[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	cd $(ROOT) && $(BIN)/syncd demo

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	cd $(ROOT) && $(BIN)/ruff check .
	cd $(ROOT) && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	cd $(ROOT) && $(BIN)/mypy syncd connectors

unit: $(STAMP)
	cd $(ROOT) && $(BIN)/pytest -q

# The status page in headless Chromium at desktop and phone widths: build/screenshots/*.png
screenshots: $(STAMP)
	cd $(ROOT) && SYNCD_SCREENSHOTS=$(ROOT)/build/screenshots $(BIN)/pytest -q tests/test_status_page.py -k chromium

# The whole fault suite (docs/reliability.md): vendor faults, database outages, disk full, kill loops.
# `make test` runs its quick part; the cases marked `faults` (kill loops, stalls) run only here.
faults: $(STAMP)
	cd $(ROOT) && $(BIN)/pytest -q -s -m "faults or not faults" tests/faults

bench: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m bench

clean:
	cd $(ROOT) && rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
