# Two commands set everything up on a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JAX_PLATFORMS ?= cpu
export PYTHONHASHSEED := 0

.PHONY: book book-student test test-all unit unit-all notebooks browser lab reproduce bench clean

## uv installs the same versions as pip in a fraction of the time (it downloads in parallel);
## --compile-bytecode because pip writes the .pyc files and PYTHONDONTWRITEBYTECODE may be set.
## If uv cannot be had or fails, pip does the install as before.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	{ $(BIN)/python -m pip install -q uv && \
	  $(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python \
	    -r requirements.txt -e . ; } || \
	{ echo "uv failed: installing with pip"; \
	  $(BIN)/python -m pip install -q --upgrade pip && \
	  $(BIN)/python -m pip install -q -r requirements.txt -e . ; }
	touch $(STAMP)

## book: build the HTML book strictly into _build/html, then fail if a figure cell drew no image
## (matplotlib's backend is left to the kernels: inline; never export MPLBACKEND here)
book: $(STAMP)
	rm -rf _build/html _build/.doctrees  # no stale page of a renamed chapter; the execution cache stays
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python tools/book_checks.py figures notebooks --cache _build/.jupyter_cache
	@echo "Open $(CURDIR)/_build/html/index.html"

## book-student: the book with every solution removed, into _build/student/_build/html
## (the solution-free notebooks to hand out are in _build/student/handout). It reuses the
## outputs of the instructor edition's run (its jupyter-cache) instead of running every
## notebook a third time; tools/student_edition.py says what it checks instead.
book-student: $(STAMP)
	test -f _build/.jupyter_cache/global.db || $(MAKE) book
	$(BIN)/python tools/student_edition.py _build/student --executed _build/.jupyter_cache
	cd _build/student && $(CURDIR)/$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python tools/book_checks.py figures _build/student/notebooks
	@echo "Open $(CURDIR)/_build/student/_build/html/index.html"

## test: unit and property tests, every notebook under nbval, the strict build, the browser check
test: $(STAMP)
	$(MAKE) unit
	$(MAKE) notebooks
	$(MAKE) book
	$(MAKE) browser

## test-all: make test with the exhaustive sweeps (tests marked slow) too
test-all: $(STAMP)
	$(MAKE) unit-all
	$(MAKE) notebooks
	$(MAKE) book
	$(MAKE) browser

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not browser and not slow" -q -n 2 --durations=10

unit-all: $(STAMP)
	HYPOTHESIS_PROFILE=all GL_TEST_XLA_OPT=1 $(BIN)/python -m pytest tests -m "not browser" -q -n 2 --durations=10

## notebooks: every chapter under nbval; tools/nbval_cache.py stores each chapter that passed, with
## the outputs of this run, in the book's jupyter-cache, so `make book` does not run it again
notebooks: $(STAMP)
	$(BIN)/python -m pytest -p tools.nbval_cache --nbval-cache _build/.jupyter_cache \
	  --nbval-lax --nbval-cell-timeout=300 notebooks -q -p no:cacheprovider -n 2 --dist loadfile --durations=10

browser: $(STAMP)
	bash tools/install-chromium.sh
	bash tools/fetch-mathjax.sh
	test -d _build/html || $(MAKE) book
	$(MAKE) book-student
	$(BIN)/python -m pytest tests -m browser -q -p no:cacheprovider -n 2 --dist load
	@echo "Screenshots (1280 and 390 px) and image counts per page: $(CURDIR)/_build/screenshots"

## lab: JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

## reproduce: the 12 Memory Horizon runs behind gl/assets/checkpoints (needs a GPU; the shipped ones took
## 2-4 min each on one H200, 3 to 8 at a time)
RUN_GPU := env -u JAX_PLATFORMS XLA_PYTHON_CLIENT_PREALLOCATE=false $(BIN)/python
reproduce: $(STAMP)
	$(RUN_GPU) -c "import jax, sys; sys.exit(None if jax.default_backend() == 'gpu' else \
	  'make reproduce trains 8 models for 16 800 steps each: it needs JAX on a GPU (see README)')"
	for t in data fixed; do for s in 0 1 2 3 4; do \
	  $(RUN_GPU) -m gl.train memory-horizon --transition $$t --seed $$s --out runs/$$t-s$$s & \
	done; done; \
	for t in real stable-exp; do \
	  $(RUN_GPU) -m gl.train memory-horizon --transition $$t --seed 0 --out runs/$$t-s0 & \
	done; wait
	for d in runs/*/; do n=$$(basename $$d); mkdir -p gl/assets/checkpoints/$$n; \
	  cp $$d/checkpoint.npz $$d/metrics.jsonl gl/assets/checkpoints/$$n/; done
	$(RUN_GPU) -m gl.evaluate data-s0 --seed 1000 --samples 200

## bench: speed ratios of every mode in one run (small shapes on a CPU)
bench: $(STAMP)
	$(BIN)/python -m gl.bench

clean:
	rm -rf _build .pytest_cache .hypothesis
