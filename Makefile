# Two commands set everything up on a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JAX_PLATFORMS ?= cpu
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: book book-student test unit notebooks browser lab reproduce bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -e .
	touch $(STAMP)

## book: build the HTML book strictly into _build/html
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

## book-student: the book with every solution removed, into _build/student/_build/html
## (the solution-free notebooks to hand out are in _build/student/notebooks)
book-student: $(STAMP)
	$(BIN)/python tools/student_edition.py _build/student
	cd _build/student && $(CURDIR)/$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open $(CURDIR)/_build/student/_build/html/index.html"

## test: unit and property tests, every notebook under nbval, the strict build, the browser check
test: $(STAMP)
	$(MAKE) unit
	$(MAKE) notebooks
	$(MAKE) book
	$(MAKE) browser

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not browser" -q -n 2 --durations=10

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=300 notebooks -q -p no:cacheprovider -n 2 --dist loadfile

browser: $(STAMP)
	bash tools/install-chromium.sh
	bash tools/fetch-mathjax.sh
	test -d _build/html || $(MAKE) book
	$(MAKE) book-student
	$(BIN)/python -m pytest tests -m browser -q -p no:cacheprovider

## lab: JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

## bench: speed ratios of every mode in one run (small shapes on a CPU)
bench: $(STAMP)
	$(BIN)/python -m gl.bench

clean:
	rm -rf _build .pytest_cache .hypothesis
