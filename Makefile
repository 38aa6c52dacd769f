# Two entry points, each sets up .venv on first use:
#   make demo   run the main job
#   make test   run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# make demo DATA=folder  uses real records from that folder instead of synthetic examples
DATA   ?=

.PHONY: demo test venv clean

$(BIN)/pocketecg: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: the pinned CPU build on this machine's disk, never the multi-GB CUDA one.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pocketecg

venv: $(BIN)/pocketecg

demo: venv
	$(BIN)/pocketecg demo --out reports/demo $(if $(DATA),--data $(DATA))

test: venv
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
