# Learn JAX by Running It. The two commands a contributor needs (README.md):
#   make html   build the book into _build/html (creates .venv on first use)
#   make test   build it if needed, then lint and run the test suite (installs the
#               test tools, and Debian's Chromium when it is missing)
# Also: make serve (live preview), make clean, make lock (refresh the four locks),
# make linkcheck (external links), make pdf (the whole book as one PDF), make drift
# JAX=<version>|latest (what another JAX changes in the book; after make html;
# MAINTAINING.md, "Drift watch").
# GPU build (the publish workflow): make html JAX_BACKEND=cuda12 (MAINTAINING.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --require-virtualenv --require-hashes --no-deps
BOOK_STAMP := $(VENV)/.installed-book
TEST_STAMP := $(VENV)/.installed-test
GPU_STAMP := $(VENV)/.installed-cuda12

# Python 3.13, the Python of Colab's runtime: $(PYTHON) if given, else the first
# python3.13 that really is 3.13 (on the PATH, or pyenv's).
find_python = for p in python3.13 "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 \
  /usr/local/bin/python3.13 /usr/bin/python3.13; do \
  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 \
  && { echo "$$p"; break; }; done
PYTHON ?= $(shell $(find_python))

# cpu (the default) or cuda12. scripts/build.py does the switch: it runs the GPU check,
# and drops the execution cache when it was made with the other backend.
JAX_BACKEND ?= cpu
export JAX_BACKEND
ifeq ($(JAX_BACKEND),cuda12)
BACKEND_DEPS := $(GPU_STAMP)
else ifeq ($(JAX_BACKEND),cpu)
BACKEND_DEPS :=
else
$(error JAX_BACKEND must be cpu or cuda12, not '$(JAX_BACKEND)')
endif

.PHONY: html test lint chromium serve clean lock check-gpu linkcheck drift pdf

html: $(BOOK_STAMP) $(BACKEND_DEPS)
	$(PY) scripts/build.py

test: $(TEST_STAMP) $(BACKEND_DEPS) chromium lint
	$(PY) -m pytest

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

chromium:
	@scripts/ensure_chromium.sh

# Every external link of the built book still answers (the weekly Link check workflow).
linkcheck: html
	$(VENV)/bin/jupyter-book build . --path-output _build/.staging --builder linkcheck

# Drift watch: build the book with another JAX (JAX=0.10.2, or JAX=latest: the newest
# release) in its own environment and folder (_build/drift/<version>/), and write a
# report comparing it with the pinned build (run make html first). Touches nothing
# of the pinned build: not .venv, not _build/html, not the execution cache.
drift: $(BOOK_STAMP)
	@test -n "$(JAX)" || { echo "Say which JAX: make drift JAX=<version>, or JAX=latest" >&2; exit 2; }
	$(PY) scripts/drift.py --jax "$(JAX)"

# The whole book as one PDF, from the executed build (scripts/make_pdf.py; nothing is
# executed again): _build/pdf/learn-jax.pdf, also served by the site (learn-jax.pdf).
# Printed by the system Chromium with Playwright (test tools); MAINTAINING.md says why.
pdf: html $(TEST_STAMP) chromium
	$(PY) scripts/make_pdf.py

check-gpu: $(BOOK_STAMP) $(GPU_STAMP)
	$(PY) scripts/check_gpu.py

serve: $(TEST_STAMP)
	$(VENV)/bin/jupyter-book config sphinx . >/dev/null
	JAXBOOK_BUILD=1 PYTHONPATH=extensions $(VENV)/bin/sphinx-autobuild . _build/serve \
	  --re-ignore '(^|/)(_build|\.venv|\.git|tests|extensions|scripts|\.pytest_cache)(/|$$)' \
	  --watch chapters --host 127.0.0.1 --port 8000

clean:
	rm -rf _build conf.py .pytest_cache .ruff_cache

# The environment, from the hash-locked requirements (re-created when the lock
# changes). --no-deps: each lock is complete, so nothing unlocked gets in.
$(BOOK_STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is needed and none was found (looked for python3.13 on the PATH and in pyenv). Install it (e.g. 'pyenv install 3.13', or your system's python3.13 package) or run: make PYTHON=/path/to/python3.13 ..." >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(TEST_STAMP): $(BOOK_STAMP) requirements-test.txt
	$(PIP) -r requirements-test.txt
	touch $@

$(GPU_STAMP): $(BOOK_STAMP) requirements-gpu.txt
	$(PIP) -r requirements-gpu.txt
	touch $@

# The four locks, resolved for Linux x86-64 and Python 3.13 whatever machine runs
# this, with hashes (uv pip compile). The test and CUDA locks take requirements.txt
# as constraints, so shared packages have one version; the CUDA lock leaves out
# what requirements.txt already has.
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet --python-version 3.13 \
  --python-platform x86_64-manylinux_2_28 --generate-hashes --custom-compile-command "make lock"
lock: $(TEST_STAMP)
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-test.in -c requirements.txt -o requirements-test.txt
	$(UV_COMPILE) requirements-gpu.in -c requirements.txt -o requirements-gpu.txt \
	  $$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/--no-emit-package \1/p' requirements.txt)
	$(UV_COMPILE) requirements-colab.in -o requirements-colab.txt
