# Each target sets up .venv itself; `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# make run HOST=0.0.0.0 PORT=8301: where the demo listens (its site follows the port).
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test bench lint clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "commentsvc needs Python 3.11 or newer: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.installed-run: $(VENV)/.python-ok pyproject.toml
	$(BIN)/pip install --quiet -e '.[postgres,redis]'
	@touch $@

$(VENV)/.installed-test: $(VENV)/.python-ok pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# axe-core for the accessibility test, biome to lint and format the JavaScript; without npm the
# accessibility and JavaScript lint tests skip and say why, and `make lint` checks Python only.
$(VENV)/.installed-npm: $(VENV)/.python-ok Makefile
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-save --no-package-lock --prefix $(VENV)/npm axe-core@4 @biomejs/biome@^2.6 \
	  && touch $@; \
	else echo "npm not found: the accessibility and JavaScript lint tests will skip"; fi

# Isso 0.14 in its own venv (as make bench uses it): tests/importers/test_isso.py runs it to write a
# real Isso database to import. Where pip cannot install it, that one test skips and says why.
ISSO_VENV := bench/.venv-isso
$(ISSO_VENV)/.installed:
	@($(PYTHON) -m venv $(ISSO_VENV) && $(ISSO_VENV)/bin/pip install --quiet 'isso==0.14.*' gunicorn \
	  && touch $@) || echo "Isso could not be installed: the Isso import test will skip"

run: $(VENV)/.installed-run
	COMMENTSVC_DEMO=on COMMENTSVC_FETCH_ALLOW_PRIVATE=on $(BIN)/commentsvc serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test $(VENV)/.installed-npm $(ISSO_VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Python with ruff; the widget and admin JavaScript with biome (lint and format, biome.json).
lint: $(VENV)/.installed-test $(VENV)/.installed-npm
	$(BIN)/ruff check commentsvc tests bench
	$(BIN)/ruff format --check commentsvc tests bench
	@if [ -x $(VENV)/npm/node_modules/.bin/biome ]; then \
	  $(VENV)/npm/node_modules/.bin/biome ci; \
	else echo "biome is not installed (needs npm): JavaScript not checked"; fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
