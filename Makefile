# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed into .venv from PyPI on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_PORT ?= 8000
FAKE_PORT ?= 8765

.PHONY: demo test lint check clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed (set PYTHON=...)") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## make test: the whole suite on SQLite, then the provisioning tests again with a
## custom user model (UUID primary key, e-mail login); the same on PostgreSQL
## when DATABASE_URL is set.
PYTEST     := $(PY) -m pytest
UUID_USER  := tests/provisioning --ds=tests.settings_uuid_user

test: $(VENV)/.installed
ifdef DATABASE_URL
	env -u DATABASE_URL $(PYTEST) -m "not postgres"
	env -u DATABASE_URL $(PYTEST) -m "not postgres" $(UUID_USER)
	$(PYTEST)
	$(PYTEST) $(UUID_USER)
else
	$(PYTEST)
	$(PYTEST) $(UUID_USER)
endif

## make demo: the demo site and the fake LiveLike service, until Ctrl-C.
demo: $(VENV)/.installed
	$(PY) -m demo_site.run --port $(DEMO_PORT) --fake-port $(FAKE_PORT)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

## make check: what CI runs besides the tests.
check: lint
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) demo.sqlite3 tests/*.sqlite3 .pytest_cache .ruff_cache
