# The README's two commands are `make demo` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REQS_STAMP := $(VENV)/.requirements-$(shell cat requirements.txt | sha1sum | cut -c1-12)

.PHONY: install services browser test test-fast lint demo bench clean

$(REQS_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	rm -f $(VENV)/.requirements-* && touch $@

install: $(REQS_STAMP)

# Start Redis and PostgreSQL if they do not answer (commands from the machine's notes).
services:
	@bash scripts/ensure-services.sh

# Debian's Chromium for the browser tests (Playwright's own download does not work offline).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: install services browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# Redis is optional for the demo (it syncs in-process without it), so a failed start is not fatal.
demo: install
	-@bash scripts/ensure-services.sh
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache dist build
