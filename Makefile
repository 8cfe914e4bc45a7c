# Developer entry points. Both targets work on a fresh clone with only Python 3.11 installed.
#   make run   - set up everything and start the portal with its worker, beat and the Okta emulator
#   make test  - run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install; older than a requirements file means reinstall.
INSTALLED := $(VENV)/.requirements-installed
EMULATOR_STATE := var/okta_emulator.sqlite3
# The emulator process joins once its package can be run with `python -m okta_emulator`.
EMULATOR_READY := $(wildcard okta_emulator/__main__.py)
PROCESSES := web worker beat $(if $(EMULATOR_READY),emulator)

.PHONY: install run test lint clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements.txt -r requirements-dev.txt
	touch $@

var:
	mkdir -p var

run: $(INSTALLED) | var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
ifneq ($(EMULATOR_READY),)
	test -f $(EMULATOR_STATE) || $(BIN)/python -m okta_emulator seed --state $(EMULATOR_STATE)
endif
	@echo
	@echo "Access Portal: open http://127.0.0.1:8000/ (readiness: http://127.0.0.1:8000/readyz)"
ifneq ($(EMULATOR_READY),)
	@echo "Okta emulator: http://127.0.0.1:8001/. Some ACTIVE demo users (password Demo-Passw0rd!):"
	@$(BIN)/python -m okta_emulator show users --state $(EMULATOR_STATE) 2>/dev/null \
		| awk '$$2 == "ACTIVE" { print "  " $$3 }' | head -n 8
	@echo "All users: $(BIN)/python -m okta_emulator show users --state $(EMULATOR_STATE)"
else
	@echo "The Okta emulator is not in this checkout yet, so sign-in cannot work."
endif
	@echo "Starting: $(PROCESSES). Stop with Ctrl-C."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile $(PROCESSES)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
