# Set-up installs the pinned CPU build of torch first: a bare `torch` requirement on a machine
# without torch would pull a multi-GB CUDA build.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check

.PHONY: setup demo test lint bench frontend browser

setup:
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"

demo: setup
	$(PYTHON) -m silentscope demo

test: setup browser
	$(PYTHON) -m pytest -q -m "not slow"

# Debian's Chromium and the Playwright client for the viewer's browser tests (no browser download).
browser:
	PYTHON=$(PYTHON) bash scripts/install_browser.sh

# Rebuild the viewer's front end into src/silentscope/viewer/static (needs Node and npm).
frontend:
	cd frontend && npm ci --prefer-offline --no-audit --no-fund && npm run build

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks

bench: setup
	$(PYTHON) benchmarks/metrics.py
