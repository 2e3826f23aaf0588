# make demo: set up .venv and run the demo.  make test: set up .venv and run every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[data,dev,cluster]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size

test: setup
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(VENV) runs
