# The two set-up commands of the README, and the checks a contributor runs.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quickstart test lint bench clean

$(BIN)/hfa: pyproject.toml scripts/setup.sh
	scripts/setup.sh
	@touch $@

$(VENV)/.dev: pyproject.toml scripts/setup.sh
	scripts/setup.sh dev
	@touch $@

## Set up, run the quickstart sweep and print its report.
quickstart: $(BIN)/hfa
	$(BIN)/hfa sweep --config configs/quickstart.yaml
	$(BIN)/hfa report runs/quickstart --plot runs/quickstart/report.png

## Set up with the dev extra and run the test suite.
test: $(VENV)/.dev
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs/*/ .pytest_cache
