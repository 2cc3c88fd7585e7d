# li-campaign: `make demo` runs workflows/demo.yaml end to end; `make test` runs the tests.
# Both install everything into ./.venv first (scripts/bootstrap.sh: apt packages for GPAW,
# torch==2.13.0 CPU first, then the pinned stack).
VENV     ?= .venv
CAMPAIGN ?= campaign
SPEC     ?= workflows/demo.yaml
WORKERS  ?= 2
TEST_WORKERS ?= 2
# one BLAS/OpenMP/torch thread per test process: with 2 xdist workers on 2 cores more threads only
# oversubscribe (spinning OpenBLAS threads made a GPAW test 6x slower, benchmarks/results/ci_run_2026-12-03_*)
TEST_ENV  = OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
LI        = $(VENV)/bin/li-campaign --campaign-dir $(CAMPAIGN)

.PHONY: venv demo test test-all test-fast clean-demo

venv:
	bash scripts/bootstrap.sh

demo: venv
	$(LI) init
	$(LI) submit $(SPEC) --skip-existing
	$(LI) run --workers $(WORKERS)
	$(LI) build
	$(LI) report
	$(LI) report --json

test: venv
	$(TEST_ENV) $(VENV)/bin/python -m pytest -q -m "not long" --durations=25 -n $(TEST_WORKERS)

test-all: venv
	$(TEST_ENV) $(VENV)/bin/python -m pytest -q --durations=25 -n $(TEST_WORKERS)

test-fast: venv
	$(VENV)/bin/python -m pytest -q -m "not slow"

clean-demo:
	rm -rf $(CAMPAIGN)
