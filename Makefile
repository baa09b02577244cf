# Minqing: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test install install-test frontend translations migrate demo lint format browser-test bench clean

run: install frontend translations migrate demo
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

# Production: gunicorn (minqing/gunicorn_conf.py), static files by whitenoise; put nginx in
# front (README "Production server"). DEBUG=0 SECRET_KEY=... ALLOWED_HOSTS=... DATABASE_URL=...
serve: install frontend translations migrate
	$(PY) manage.py collectstatic --noinput -v0
	WEB_BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn minqing.wsgi:application -c minqing/gunicorn_conf.py

test: install-test frontend translations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	env -u REDIS_URL $(VENV)/bin/pytest

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-browser: pyproject.toml $(VENV)/.installed-test
	$(PIP) install --quiet -e '.[test,browser]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

frontend: node_modules/.installed

translations: install
	$(PY) manage.py compiletranslations

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

lint: install-test
	$(VENV)/bin/ruff check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

browser-test: $(VENV)/.installed-browser frontend translations
	env -u REDIS_URL $(VENV)/bin/pytest browser_tests -p no:randomly

bench: install
	$(PY) bench/generate.py

clean:
	rm -rf $(VENV) node_modules var
