# PainCohort: `make run` sets up and starts the embedded default; `make test` sets up and
# runs the whole suite. Both work on a fresh clone.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# `make run PORT=8130` serves elsewhere; reminder links follow the port unless SITE_URL is set.
PORT ?= 8000
SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: setup run test browser lint clean

# The development venv: the production pins (requirements.txt) and the tests' and tools'
# (requirements-dev.txt); a change to either reinstalls.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (Playwright's own download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

setup: $(VENV)/.installed node_modules/.installed

run: setup
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --if-empty
	@# data entry only marks the refit outbox; fit once so the demo dashboard opens with tables
	-$(PY) manage.py refit --sync >/dev/null
	SITE_URL=$(SITE_URL) $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: setup browser
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) node_modules staticfiles db.sqlite3
