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
	# libtpu, pinned by jax[tpu] to the installed jax: scaling-compile compiles for TPU
	# topologies on this machine (tests/test_compile.py skips without it)
	$(BIN)/pip install --quiet "jax[tpu]==$$($(BIN)/python -c 'import jax; print(jax.__version__)')" \
	  || echo "warning: libtpu not installed; scaling-compile and tests/test_compile.py need it"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size

test: setup
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(VENV) runs
