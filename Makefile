# The two commands a newcomer needs: `make run` and `make test`. Both create .venv and install into it first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := DEBUG=true
ADMIN_USER ?= admin
ADMIN_PASSWORD ?= admin

.PHONY: install run test lint typecheck format check migrate worker beat clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Serve the product on http://127.0.0.1:8000 on the embedded default (SQLite, in-process tasks, console SMS/WhatsApp).
run: install
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) DJANGO_SUPERUSER_USERNAME=$(ADMIN_USER) DJANGO_SUPERUSER_PASSWORD=$(ADMIN_PASSWORD) \
		$(BIN)/python manage.py ensure_superuser
	@echo "Admin: http://127.0.0.1:8000/admin/ (user '$(ADMIN_USER)', password '$(ADMIN_PASSWORD)'); API docs: http://127.0.0.1:8000/api/docs"
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

## The whole test suite, on PostgreSQL and Redis when they can be reached (DATABASE_URL / REDIS_URL or local defaults).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## mypy with the django-stubs and DRF plugins on the modules pyproject.toml lists ([tool.mypy] files); the plugin
## loads the settings, hence DEBUG=true.
typecheck: install
	$(DEV_ENV) $(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## One worker for every queue (no -Q: the default and the urgent one); production runs one per queue (Procfile).
worker: install
	$(DEV_ENV) $(BIN)/celery -A contactcenter worker --loglevel INFO --pool threads --concurrency 8

beat: install
	$(DEV_ENV) $(BIN)/celery -A contactcenter beat --loglevel INFO

## Refresh the Spanish catalog after changing texts (needs gettext's msgfmt): translate the new entries in
## locale/es/LC_MESSAGES/django.po, then run it again to compile the .mo (both files are committed).
messages: install
	$(DEV_ENV) $(BIN)/python manage.py makemessages -l es --no-obsolete --ignore=.venv --ignore=tests --ignore=bench \
		--ignore=simulators --ignore=artifacts --ignore=staticfiles
	$(DEV_ENV) $(BIN)/python manage.py compilemessages -l es --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
