# Two commands for a fresh machine:
#   make run    set up, simulate a demo portfolio, run it through the daemon, then keep the daemon running
#   make test   set up and run every test (what CI runs)
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run demo test lint bench clean lock

$(BIN)/loanwatch: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
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

# Upgrade every dependency within pyproject.toml's ranges and record the result in constraints.txt.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[test]'
	{ sed -n '1,3p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -vi '^loanwatch'; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) demo-out var .pytest_cache
