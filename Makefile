# Two commands for a fresh machine:
#   make run    set up, simulate a demo portfolio, run it through the daemon, then keep the daemon running
#   make test   set up and run every test (what CI runs)
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run demo test lint bench clean

$(BIN)/loanwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/loanwatch

setup: $(BIN)/loanwatch

run: setup
	$(BIN)/loanwatch demo --out demo-out
	$(BIN)/loanwatch --config demo-out/config.toml run

demo: setup
	$(BIN)/loanwatch demo --out demo-out

lint: setup
	$(BIN)/ruff check .

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/pipeline_throughput.py
	$(BIN)/python bench/detection_quality.py

clean:
	rm -rf $(VENV) demo-out var .pytest_cache
