# Thin targets: each calls the nasbench command line. `make bench` and `make test` build the
# virtual environment themselves on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
METHOD ?= wrn
TASK ?= darcyflow
BUDGET ?= small
SEED ?= 0
RESULTS ?= results/bench
STUDY ?= smoke
ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install bench data study report test test-slow perf lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/nasbench run $(METHOD) $(TASK) --budget $(BUDGET) --seed $(SEED) --results $(RESULTS) $(ARGS)

data: $(STAMP)
	$(BIN)/nasbench data $(TASK) --generate --budget $(BUDGET)

study: $(STAMP)
	$(BIN)/nasbench study reports/$(STUDY)/study.yaml $(ARGS)

report: $(STAMP)
	$(BIN)/nasbench report $(STUDY) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

perf: $(STAMP)
	$(BIN)/nasbench perf $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
