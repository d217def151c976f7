# The README's two commands are `make demo` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REQS_STAMP := $(VENV)/.requirements-$(shell cat requirements.txt | sha1sum | cut -c1-12)

.PHONY: install services browser faketime gettext messages test test-fast test-shifted lowest-venv test-lowest test-long lint typecheck demo bench clean

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

# Debian's libfaketime, for the leg that runs the suite with every process's clock moved forward.
faketime:
	@command -v faketime >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime)

# GNU gettext (xgettext, msgmerge, msgfmt): the catalogue check in the suite runs makemessages with it.
# The site needs none of it: the compiled .mo files are committed and ship in the wheel.
gettext:
	@command -v msgfmt >/dev/null && command -v xgettext >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext)

# After changing a string: bring the German and Norwegian catalogues up to date, translate what is
# new or fuzzy in the .po files, then `make messages` again to compile them (docs/translations.md).
messages: install gettext
	cd insights_app && ../$(PY) -m django makemessages --add-location file --locale de --locale nb
	cd insights_app && ../$(PY) -m django compilemessages --locale de --locale nb

# lint-imports keeps the layers of docs/architecture.md (contracts in pyproject.toml).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

# The package ships py.typed: mypy with django-stubs over insights_app/ (settings in pyproject.toml).
typecheck: install
	DEBUG=true $(PY) -m mypy

# The fast tier: every test that needs no Redis, subprocess, server or browser (tests/helpers/tiers.py
# marks those `integration` and fails an unmarked one that reaches out), with branch coverage held to
# fail_under in pyproject.toml. Needs neither Redis nor PostgreSQL nor Chromium.
# `make test-fast FAST_COV=` skips coverage (its tracing about doubles the CPU time).
FAST_COV ?= --cov --cov-report=term
FAST_ARGS ?=
FAST_TIER = $(PY) -m pytest -m "not integration" $(FAST_COV) $(FAST_ARGS) $(PYTEST_ARGS)
# `make test` runs it first (a broken unit or the coverage floor fails in a minute), then the rest.
# The rest mostly waits (rate windows, schedulers, workers): it runs as SHARDS processes at once
# (scripts/run_shards.py: each on its own Redis database, REDIS_URL's minus 5, and its own database).
SHARDS ?= 2
test-fast: install
	$(FAST_TIER)

test: install services browser faketime gettext
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	DEBUG=true $(PY) -m mypy
	$(FAST_TIER)
	$(PY) scripts/run_shards.py --shards $(SHARDS) -- -m integration $(PYTEST_ARGS)

# The suite (browser tests left out) with the clock of pytest and of every process it starts moved
# SHIFT forward; Redis and PostgreSQL keep the real clock, as servers on other machines would.
# The monotonic clock is faked too: faketime 0.9.10 with DONT_FAKE_MONOTONIC=1 breaks time.sleep.
# scripts/faketime_clockwait.c keeps timed waits (threading.Event.wait) working under that libfaketime.
SHIFT ?= +400d
FAKETIME_SHIM := $(VENV)/faketime-clockwait.so
$(FAKETIME_SHIM): scripts/faketime_clockwait.c | install
	cc -shared -fPIC -O2 -Wall -o $@ $< -ldl

test-shifted: install services faketime gettext $(FAKETIME_SHIM)
	LD_PRELOAD=$(abspath $(FAKETIME_SHIM)) faketime -f $(SHIFT) $(PY) scripts/run_shards.py --shards $(SHARDS) -- -m "not browser" $(PYTEST_ARGS)

# The suite (browser tests and own sites left out) against the built wheel's dependencies at the lowest
# versions pyproject.toml allows: the wheel's Requires-Dist are given to uv as direct requirements, so
# `--resolution lowest-direct` takes each one's floor. The tools the tests need keep their pins.
LOWEST_VENV := .venv-lowest
lowest-venv: install
	rm -rf dist-lowest && $(PY) -m build -q -w -o dist-lowest . >/dev/null
	$(PY) scripts/wheel_requirements.py dist-lowest/*.whl > dist-lowest/requirements.txt
	grep -E '^(pytest|pytest-django|time-machine|jsonschema|hypothesis|schemathesis|dj-database-url|psycopg|croniter|tqdm)[=[]' requirements.txt > dist-lowest/tools.txt
	rm -rf $(LOWEST_VENV) && $(VENV)/bin/uv venv -q -p $(PY) $(LOWEST_VENV)
	$(VENV)/bin/uv pip install -q -p $(LOWEST_VENV)/bin/python --resolution lowest-direct \
		dist-lowest/*.whl -r dist-lowest/requirements.txt -r dist-lowest/tools.txt

# Left out here, run in every other leg: the long matrices of the app's own budget and lag rules
# (rate windows and simulated days of syncs, the same at any dependency version), which cost CI's
# two cores most; every test that reaches Django, RQ, redis-py, requests, ua-parser or plotly stays.
LOWEST_LEFT_OUT = --ignore=tests/whereby/budget/test_property.py --ignore=tests/webhooks/test_lag_matrix.py \
	--ignore=tests/whereby/budget/test_shared_reservations.py
test-lowest: services gettext
	test -x $(LOWEST_VENV)/bin/python || $(MAKE) lowest-venv
	$(VENV)/bin/uv pip list -p $(LOWEST_VENV)/bin/python | grep -iE '^(django|django-rq|rq|redis|requests|urllib3|ua-parser|plotly) '
	$(LOWEST_VENV)/bin/python scripts/run_shards.py --shards $(SHARDS) -- -m "not browser and not own_site" \
		--ignore=tests/browser $(LOWEST_LEFT_OUT) $(PYTEST_ARGS)

# The property-based and fuzz tests with many more generated examples than CI runs.
test-long: install services
	INSIGHTS_HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/sync/test_property_sync.py tests/whereby/test_client_fuzz.py \
		tests/simulator/test_api_fuzz.py $(PYTEST_ARGS)

# Redis is optional for the demo (it syncs in-process without it), so a failed start is not fatal.
demo: install
	-@bash scripts/ensure-services.sh
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache dist build
