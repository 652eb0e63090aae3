# Set-up installs the pinned CPU build of torch first: a bare `torch` requirement on a machine
# without torch would pull a multi-GB CUDA build.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check

.PHONY: setup demo test lint bench

setup:
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"

demo: setup
	$(PYTHON) -m silentscope demo

test: setup
	$(PYTHON) -m pytest -q -m "not slow"

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks

bench: setup
	$(PYTHON) benchmarks/metrics.py
