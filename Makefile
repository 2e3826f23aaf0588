# make demo: set up .venv and run the demo.  make test: set up .venv and run every test
# (in parallel; prints the 20 slowest).  make test-fast: every test not marked slow.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Two workers (the CI machine has 2 cores), longest files first (tests/durations.json,
# tests/conftest.py). --dist loadfile keeps a file on one
# worker, so a module fixture that trains or builds runs once (xdist_group
# marks are ignored with pytest 9.2 and xdist 3.8). JAX_COMPILATION_CACHE_DIR:
# every process (the workers and the trainings they start) shares compiled
# programs, kept between runs under .venv. TEST_XLA_FLAGS: LLVM optimisation and
# the MLIR fusion emitters off, so the suite's tiny programs compile 3x as fast
# (a nano training: 5.9 s of compiling -> 1.8 s, 15 -> 7.6 s of CPU); their results differ
# from the default build's only in the last bits and every comparison in the suite
# is between programs built alike (tests/conftest.py SHIPPED_XLA: a test that runs
# the default build, as the bit-exact SIGTERM resume test does).
PYTEST_JOBS ?= 2
TEST_XLA_FLAGS ?= --xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false
PYTEST      := $(BIN)/python -m pytest -q -n $(PYTEST_JOBS) --dist loadfile --durations=20
JAX_CACHE   := $(VENV)/jax-cache
TEST_ENV    := JAX_COMPILATION_CACHE_DIR=$(abspath $(JAX_CACHE)) \
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1 \
               XLA_FLAGS="$(TEST_XLA_FLAGS)"

.PHONY: setup demo test test-fast clean

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
	$(TEST_ENV) $(PYTEST) tests

test-fast: setup
	$(TEST_ENV) $(PYTEST) -m "not slow" tests

clean:
	rm -rf $(VENV) runs
