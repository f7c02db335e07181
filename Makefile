# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed into .venv from PyPI on first use, and the
# official LiveLike JavaScript SDK from the npm registry (when npm is there).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_PORT ?= 8000
FAKE_PORT ?= 8765

.PHONY: demo test test-database lint typecheck complexity check docs clean sdk matrix wheel-check

$(VENV)/.installed: requirements.txt tests/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed (set PYTHON=...)") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## make sdk: the official LiveLike JavaScript SDK (@livelike/javascript, pinned with its
## integrity hash in demo_site/package-lock.json), whose browser bundle the demo's fan zone
## serves as a static file. Without npm, or when npm ci fails, it says so and goes on: the
## demo then runs without its SDK panel, and the end-to-end test skips (fails under CI=true).
NPM_DIR    := demo_site
SDK_BUNDLE := $(NPM_DIR)/static/vendor/livelike-javascript.umd.js

sdk: $(SDK_BUNDLE)

$(SDK_BUNDLE): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "*** npm not found: the demo runs without the LiveLike SDK (install Node.js and npm)."; \
	elif npm ci --prefix $(NPM_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error; then \
	  mkdir -p $(@D) && cp $(NPM_DIR)/node_modules/@livelike/javascript/livelike-javascript.umd.js $@ \
	  && echo "LiveLike SDK: $@"; \
	else \
	  echo "*** npm ci failed: the demo runs without the LiveLike SDK."; \
	fi

# mysqlclient only when DATABASE_URL is a MariaDB/MySQL one: it builds against the system's
# client library (Debian: apt-get install default-libmysqlclient-dev pkg-config).
DB_DRIVER := $(if $(filter mysql% mariadb%,$(DATABASE_URL)),$(VENV)/.mysqlclient)
$(VENV)/.mysqlclient: $(VENV)/.installed
	$(PY) -m pip install --quiet "mysqlclient>=2.2"
	touch $@

## make test: the whole suite on SQLite, then the provisioning, admin, command and
## erasure tests again with a custom user model (UUID primary key, e-mail login); the same
## on DATABASE_URL's database (PostgreSQL or MariaDB/MySQL) when it is set.
PYTEST     := $(PY) -m pytest
UUID_USER  := tests/provisioning tests/operators tests/test_admin.py tests/test_erasure.py --ds=tests.settings_uuid_user

# The end-to-end test (tests/e2e, a real browser) needs no database of the suite's: it
# runs once, in the PostgreSQL pass when there is one.
test: $(VENV)/.installed sdk $(DB_DRIVER)
ifdef DATABASE_URL
	env -u DATABASE_URL $(PYTEST) -m "not server_db and not postgres and not e2e"
	env -u DATABASE_URL $(PYTEST) -m "not server_db and not postgres" $(UUID_USER)
	$(MAKE) --no-print-directory test-database
else
	$(PYTEST)
	$(PYTEST) $(UUID_USER)
endif

## make test-database: only the passes on DATABASE_URL's database (PostgreSQL or MariaDB/MySQL),
## the browser test included unless NO_E2E=1. CI runs it on MariaDB after `make test`.
test-database: $(VENV)/.installed sdk $(DB_DRIVER)
	$(PYTEST) $(if $(NO_E2E),-m "not e2e")
	$(PYTEST) $(UUID_USER)

## make demo: the demo site and the fake LiveLike service, until Ctrl-C.
demo: $(VENV)/.installed sdk
	$(PY) -m demo_site.run --port $(DEMO_PORT) --fake-port $(FAKE_PORT)

## make matrix: the version matrix of noxfile.py (Django 5.2, 6.0, 6.1; Python 3.11 to 3.13;
## the oldest and newest djangorestframework), each cell on SQLite and, when DATABASE_URL is
## set, on that database. NOX_ARGS go to nox (NOX_ARGS="-t other-versions": every cell but the
## one `make test` runs; NOX_ARGS="-l": the cells). The Pythons come from PATH and from pyenv's
## versions when pyenv is installed.
empty :=
space := $(empty) $(empty)
PYENV_BINS := $(wildcard $(foreach v,3.11 3.12 3.13,$(shell pyenv root 2>/dev/null)/versions/$(v).*/bin))
NOX_ARGS ?=
matrix: $(VENV)/.installed
	PATH="$(subst $(space),:,$(strip $(PYENV_BINS) $$PATH))" $(VENV)/bin/nox $(NOX_ARGS)

## make wheel-check: build the sdist and wheel, twine check them, install the wheel in a fresh
## virtual environment outside the repository and smoke-test it there (.ci/wheel_check.py).
wheel-check: $(VENV)/.installed
	$(PY) .ci/wheel_check.py

lint: $(VENV)/.installed
	$(PY) -m ruff check .

## make typecheck: mypy over the package, configured in pyproject.toml ([tool.mypy]).
typecheck: $(VENV)/.installed
	$(PY) -m mypy

## make complexity: no function of the package (the fake aside, a stand-in for LiveLike) over a
## cyclomatic complexity of 10, as radon counts it: split it into named steps instead.
COMPLEXITY_EXCLUDE := livelike_profiles/fake/*,livelike_profiles/migrations/*
complexity: $(VENV)/.installed
	@over=$$($(PY) -m radon cc --min C --show-complexity --exclude "$(COMPLEXITY_EXCLUDE)" livelike_profiles); \
	if [ -n "$$over" ]; then echo "Functions over complexity 10 (radon cc):"; echo "$$over"; exit 1; fi

## make docs: the documentation site (docs/, Sphinx) built into docs/_build/html; any warning (a
## broken link or anchor, a page in no table of contents) fails it.
docs: $(VENV)/.installed
	$(PY) -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

## make check: what CI runs besides the tests.
check: lint typecheck complexity
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .nox demo.sqlite3 tests/*.sqlite3 .pytest_cache .ruff_cache .mypy_cache docs/_build
	rm -rf $(NPM_DIR)/node_modules $(dir $(SDK_BUNDLE)) test-artifacts
