# Slipway: `make run` (the portal with an embedded AWS emulator) and `make test` (lint + suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q

# Embedded mode (default): boto3 talks to the moto server started by `make run`.
# `make run SLIPWAY_AWS=real` uses real AWS through the standard credential chain instead.
SLIPWAY_AWS ?= embedded
EMULATOR_PORT ?= 5055
ifneq ($(SLIPWAY_AWS),real)
export AWS_ENDPOINT_URL ?= http://127.0.0.1:$(EMULATOR_PORT)
export SLIPWAY_EMULATOR_PORT := $(EMULATOR_PORT)
endif
export SLIPWAY_AWS

.PHONY: run test lint check venv test-prereqs clean

$(VENV)/.run-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	touch $@

venv: $(VENV)/.run-installed

# DEBUG stays off (friendly error pages, never a traceback); `make run DEBUG=1` for Django's
# debug pages. Plain http on loopback, so cookies are not HTTPS-only here.
run: export DEBUG ?= 0
run: export SLIPWAY_SECURE_COOKIES ?= 0
run: $(VENV)/.run-installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data
	$(PY) bin/run.py

# Services and packages the suite needs that a fresh machine may lack.
test-prereqs:
	bash bin/test-prereqs.sh

# mypy (with django-stubs) checks the typed core listed in pyproject.toml [tool.mypy].
lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: $(VENV)/.test-installed
	DJANGO_SETTINGS_MODULE=portal.settings_test $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=portal.settings_test $(PY) manage.py makemigrations --check --dry-run

test: $(VENV)/.test-installed test-prereqs lint check
	# Production settings pass Django's deployment checklist (a throwaway key, HTTPS on).
	DEBUG=0 ALLOWED_HOSTS=slipway.example.com SECURE_SSL_REDIRECT=1 \
	  SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(60))') \
	  $(PY) manage.py check --deploy --fail-level WARNING
	# The suite includes api/tests/test_schemathesis.py: the OpenAPI schema fuzzed, 10
	# derandomized examples per operation, 120 s limit, any 5xx fails.
	env -u AWS_ENDPOINT_URL $(VENV)/bin/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
