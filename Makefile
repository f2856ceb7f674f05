# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := app

.PHONY: run test test-browser setup serve scheduler bench-small init demo translations assets i18n-extract i18n-update clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# the test and development tools (pytest, Playwright, ruff, import-linter…), only for `make test`
DEV_STAMP := $(VENV)/.installed-dev
$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $(DEV_STAMP)

# Front-end assets (ECharts, Air Datepicker) from the npm registry, pinned by package-lock.json; the app serves them.
ASSETS := node_modules/.installed
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(ASSETS)

assets: $(ASSETS)

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d app/translations

# After adding user-visible strings: make i18n-update, translate the new zh entries, commit.
i18n-extract: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k _l \
	  --project=property-crm --copyright-holder=property-crm \
	  -o app/translations/messages.pot app

i18n-update: i18n-extract
	$(BIN)/pybabel -q update -i app/translations/messages.pot -d app/translations \
	  --ignore-obsolete --no-fuzzy-matching

setup: $(STAMP) translations $(ASSETS)

init: setup
	@mkdir -p instance
	CRM_ADMIN_PASSWORD=$${CRM_ADMIN_PASSWORD:-admin-demo-2026} $(BIN)/flask crm init

demo: init
	CRM_DEMO_PASSWORD=$${CRM_DEMO_PASSWORD:-staff-demo-2026} $(BIN)/flask crm demo --if-empty

run: demo
	@echo ""
	@echo "  物业CRM is at http://127.0.0.1:5000 (web server and job scheduler; Ctrl-C stops both)"
	@echo "  Demo login: admin / $${CRM_ADMIN_PASSWORD:-admin-demo-2026}  (staff: manager, supervisor, service, tech / $${CRM_DEMO_PASSWORD:-staff-demo-2026})"
	@echo ""
	$(BIN)/flask crm run --host 127.0.0.1 --port 5000

serve: init
	$(BIN)/gunicorn --workers $${WORKERS:-4} --bind $${BIND:-127.0.0.1:8000} "app:create_app()"

# the job scheduler; start one per host if you like, only the lock holder schedules
scheduler: init
	$(BIN)/flask crm scheduler

# the benchmarks at the small size on a temporary SQLite (as CI); `--size large` by hand
bench-small: setup $(DEV_STAMP)
	$(BIN)/python bench/list_bench.py --size small --repeat 3 --fab-repeat 1 --new-tickets 200

# the suite in parallel on every core (pytest-xdist), then the browser journeys two at a time (each
# worker serves the app with its own database and drives its own Chromium)
TEST_WORKERS ?= auto
BROWSER_WORKERS ?= 2
test: setup $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not browser" --ignore=tests/browser $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -n $(BROWSER_WORKERS) -m browser tests/browser $(PYTEST_ARGS)

test-browser: setup $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n $(BROWSER_WORKERS) -m browser tests/browser $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/crm.sqlite*
