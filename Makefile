# Developer entry points. Both targets work on a fresh clone with only Python 3.11 installed.
#   make run   - set up everything and start the portal with its worker, beat and the Okta emulator
#   make test  - run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install; older than a requirements file means reinstall.
INSTALLED := $(VENV)/.requirements-installed
EMULATOR_STATE := var/okta_emulator.sqlite3
PROCESSES := web worker beat emulator
# Loopback ports of the portal and the emulator: `make run WEB_PORT=8100 EMULATOR_PORT=8101`.
WEB_PORT ?= 8000
EMULATOR_PORT ?= 8001

.PHONY: install run test lint clean

# Poll the emulator's OpenID discovery document for up to 30 seconds.
define WAIT_FOR_EMULATOR
import sys, time, urllib.request
url = "http://127.0.0.1:$(EMULATOR_PORT)/oauth2/default/.well-known/openid-configuration"
for _ in range(60):
    try:
        urllib.request.urlopen(url, timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit(f"The Okta emulator did not answer at {url} within 30 s: see var/emulator-setup.log")
endef
export WAIT_FOR_EMULATOR

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements.txt -r requirements-dev.txt
	touch $@

var:
	mkdir -p var

# The Procfile reads the ports. The portal's settings default to ports 8000 and 8001, so these
# point it at the chosen ones unless the environment already sets them.
run: export WEB_PORT := $(WEB_PORT)
run: export EMULATOR_PORT := $(EMULATOR_PORT)
run: export PORTAL_URL ?= http://127.0.0.1:$(WEB_PORT)
run: export OKTA_ORG_URL ?= http://127.0.0.1:$(EMULATOR_PORT)
run: $(INSTALLED) | var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	@# Copy Okta's users and catalog into the portal now instead of at beat's first run, which
	@# is up to an hour away. That needs the emulator, so a temporary one serves these steps.
	@# After the first seed, a demo set of groups and apps is also made requestable.
	@set -e; \
	first_seed=; \
	if ! test -f $(EMULATOR_STATE); then \
		$(BIN)/python -m okta_emulator seed --state $(EMULATOR_STATE); \
		first_seed=yes; \
	fi; \
	$(BIN)/python -m okta_emulator serve --port $(EMULATOR_PORT) --state $(EMULATOR_STATE) \
		>var/emulator-setup.log 2>&1 & emulator=$$!; \
	trap 'kill $$emulator; wait $$emulator 2>/dev/null || true' EXIT; \
	$(BIN)/python -c "$$WAIT_FOR_EMULATOR"; \
	$(BIN)/python manage.py sync_okta_users; \
	$(BIN)/python manage.py sync_catalog; \
	if test -n "$$first_seed"; then $(BIN)/python manage.py load_demo_catalog_settings; fi
	@echo
	@echo "Access Portal: open http://127.0.0.1:$(WEB_PORT)/ (readiness: http://127.0.0.1:$(WEB_PORT)/readyz)"
	@echo "Okta emulator: http://127.0.0.1:$(EMULATOR_PORT)/. Some ACTIVE demo users (password Demo-Passw0rd!):"
	@$(BIN)/python -m okta_emulator show users --state $(EMULATOR_STATE) 2>/dev/null \
		| awk '$$2 == "ACTIVE" { print "  " $$3 }' | head -n 8
	@echo "All users: $(BIN)/python -m okta_emulator show users --state $(EMULATOR_STATE)"
	@echo "Starting: $(PROCESSES). Stop with Ctrl-C."
	@echo "Once web responds, it registers the Okta event hook with the emulator (manage.py register_event_hook)."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile $(PROCESSES)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
