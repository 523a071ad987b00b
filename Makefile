# Entry points: `make lab` (learners), `make test` (developers and CI) and `make hub` (the course on a
# JupyterHub on this machine, as root). All create .venv/ on first use and reuse it afterwards.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HUB_STAMP := $(VENV)/.installed-hub
# make hub: where the hub keeps its files, its port, and who may log in (deploy/README.md).
HUB_DIR   ?= /srv/optimizers-hands-on
HUB_PORT  ?= 8000
HUB_USERS ?= deploy/demo-users.txt
# Learners get no instructor tools (formgrader, Create Assignment, course and assignment lists).
LEARNER_JUPYTER := $(CURDIR)/deploy/jupyter/learner

# Jupyter refuses to run as root (a container, a CI machine) unless told that it is meant.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test setup bench clean hub hub-setup hub-remove lite

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python 3.10 or newer is needed; set PYTHON=python3.x")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Learners work in my_copies/ (student versions, solutions stripped); existing copies are kept.
lab: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m autograder mycopies
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(LEARNER_JUPYTER)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(BIN)/jupyter lab --notebook-dir=my_copies $(ALLOW_ROOT)

# The course on a JupyterHub on this machine, on 127.0.0.1:$(HUB_PORT), for a trial (as root: it
# creates the accounts of $(HUB_USERS) and prints their passwords). Ctrl-C stops it.
hub: $(HUB_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python deploy/hub.py --state $(HUB_DIR) up --port $(HUB_PORT) --users $(HUB_USERS)

hub-setup: $(HUB_STAMP)

$(HUB_STAMP): $(STAMP)
	@test "$$(id -u)" = 0 || { echo "make hub runs as root: it creates accounts and starts servers as them"; exit 2; }
	$(BIN)/python -m pip install --quiet -e '.[dev,hub]'
	command -v configurable-http-proxy >/dev/null || { command -v npm >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }; \
		npm install --global --silent configurable-http-proxy; }
	touch $(HUB_STAMP)

# Delete the accounts that `make hub` created (and their homes, the course directory with them).
hub-remove:
	$(BIN)/python deploy/hub.py --state $(HUB_DIR) remove

# The course as a static site that runs in the browser (lite/build.py): site/, with Pyodide bundled, or
# loaded from the CDN with LITE_PYODIDE=cdn. Downloads are kept in .lite-cache/.
lite: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[lite]'
	$(BIN)/python lite/build.py

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench

clean:
	rm -rf $(VENV) course my_copies .pytest_cache .hypothesis
