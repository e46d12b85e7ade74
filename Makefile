# Slipway — `make run` starts the demo, `make test` runs the tests.
# Both set up everything they need (virtualenv, packages, database) and are
# quick when nothing changed.

VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# The first Python 3.12 or newer (Django 6 needs it): on PATH, else one pyenv installed.
PYTHON := $(shell for p in python3.14 python3.13 python3.12 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: run test test-unit test-browser check-deploy worker lint migrate demo clean lock fuzz system-packages

$(VENV)/.installed: requirements.lock pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "Slipway needs Python 3.12 or newer and none was found on PATH."; \
		echo "Install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv') and run make again."; \
		exit 1; fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

migrate: $(VENV)/.installed
	@$(BIN)/python manage.py migrate --no-input -v 0

demo: migrate
	@PATH="$$PATH:/usr/sbin" $(BIN)/python manage.py load_demo --url http://127.0.0.1:$(PORT)

run: demo
	@echo "Slipway is serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	@PATH="$$PATH:/usr/sbin" $(BIN)/daphne -b 127.0.0.1 -p $(PORT) dashboard.asgi:application

# Deployments on Celery (needs REDIS_URL, as the web server does). -B runs beat in the same
# process: the reaper of stale deployments (several such workers only reap more often).
worker: $(VENV)/.installed
	@[ -n "$$REDIS_URL" ] || { echo "make worker needs REDIS_URL (e.g. redis://127.0.0.1:6379/0);"; \
		echo "without it, make run deploys inside the server and needs no worker."; exit 1; }
	$(BIN)/celery -A dashboard worker -B -Q deploys,celery -l info --concurrency 2

# Browser tests run in their own pytest invocation: Playwright's sync API
# claims the main thread's event loop. Exit code 5 means "nothing collected" and is not a failure.
test: system-packages test-unit test-browser

# Debian packages the browser and nginx tests use (Playwright drives Debian's Chromium; the
# nginx suites start Debian's nginx). Installed when missing and this user may (root with
# apt-get); otherwise those tests skip with a loud reason, or fail under REQUIRE_SERVICES=1.
SYSTEM_PACKAGES := chromium chromium-driver nginx fonts-noto-color-emoji
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
			|| echo "WARNING: could not install$$missing; the tests that need them will skip"; \
	else echo "WARNING: Debian packages missing:$$missing (not root, or no apt-get); the tests that need them will skip"; fi

# With DATABASE_URL or REDIS_URL set Slipway is in production mode and needs SECRET_KEY:
# the tests get one of their own unless one is set.
TEST_ENV := SECRET_KEY="$${SECRET_KEY:-slipway-tests-only-$$(id -u)-not-a-secret-0123456789abcdef}"

test-unit: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-browser: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/pytest -m browser $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Django's deployment checks with the README's production settings (CI runs this).
check-deploy: $(VENV)/.installed
	$(BIN)/python scripts/check_deploy.py

# Ruff, then the import contracts of pyproject.toml (the layers of docs/architecture.md).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# The REST API under schemathesis, against a real daphne (scripts/fuzz_api.py). Not part of
# make test: it takes a few minutes. schemathesis lives in its own virtualenv.
FUZZ_VENV := .venv-fuzz
SCHEMATHESIS := schemathesis==4.32.5

$(FUZZ_VENV)/.installed:
	@[ -x $(FUZZ_VENV)/bin/python ] || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(SCHEMATHESIS)
	@touch $@

fuzz: $(VENV)/.installed $(FUZZ_VENV)/.installed
	$(BIN)/python scripts/fuzz_api.py --schemathesis $(FUZZ_VENV)/bin/schemathesis

# Re-pin dependencies after editing pyproject.toml. The lock holds every package installed
# (hence --no-deps above): [tool.uv] override-dependencies in pyproject.toml leaves some out.
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) $(FUZZ_VENV) var .pytest_cache
