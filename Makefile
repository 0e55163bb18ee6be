# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
INI    ?= development.ini

.PHONY: run test bench bench-quick profile system-deps clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

## Serve the app on the memory store and SQLite: nothing else to install.
run: $(VENV)/.installed
	$(BIN)/sessiondemo-initdb $(INI)
	$(BIN)/pserve $(INI)

## Debian packages the tests and benchmarks use, installed when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null 2>&1 || missing="$$missing redis-tools"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

## The whole test suite against real Redis, PostgreSQL, SQLite and Chromium.
test: system-deps $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmarks: every store and its peers, rows 1 to 12 of the spec, one report
## (benchmarks/results/<run>/report.md and report.html). About 15 minutes.
bench: system-deps $(VENV)/.installed
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## The same in about two minutes with tiny figures (what CI runs, via pytest).
bench-quick: system-deps $(VENV)/.installed
	$(BIN)/python -m benchmarks.run --quick $(BENCH_ARGS)

## Row 12 alone: µs per request in process, by layer, for a bare Pyramid view and
## each store's public endpoint, read and write (PROFILE_ARGS: --stores, --requests...).
profile: system-deps $(VENV)/.installed
	$(BIN)/python -m benchmarks.profile $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
