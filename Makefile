# Thin wrappers over the README's commands. Everything installs into the project's own venvs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
MELTANO_VENV := .venv-meltano
MELTANO_VERSION := 4.4.1
DBT_VENV := .venv-dbt
PY := $(VENV)/bin/python

.PHONY: install meltano dbt test test-fast lint docs docs-serve package demo bench clean celery-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

meltano: $(MELTANO_VENV)/.installed

$(MELTANO_VENV)/.installed:
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'meltano==$(MELTANO_VERSION)'
	touch $@

# dbt in a venv of its own, as meltano: dbt-core pins (click, protobuf, networkx, ...) clash with
# Airflow's. Pins: dbt-core 1.11.16 (1.12 needs dbt-core-experimental-parser, whose build
# downloads a wheel from GitHub: no offline install); dbt-duckdb 1.11.1; duckdb 1.5.5, the last
# version with DuckDB extension wheels on PyPI (DuckLake, PostgreSQL catalog, S3), as the loader.
dbt: $(DBT_VENV)/.installed

$(DBT_VENV)/.installed:
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		'dbt-core==1.11.16' 'dbt-duckdb==1.11.1' 'duckdb==1.5.5' \
		'duckdb-extension-ducklake==1.5.5' 'duckdb-extension-postgres-scanner==1.5.5' \
		'duckdb-extension-httpfs==1.5.5' 'pytz'
	touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The docs site into site/: strict, so a broken link or a nav entry without its page fails.
# The settings page runs both plugins' --about and the charts read docs/benchmarks.json
# (scripts/mkdocs_hooks.py); about 5 s of CPU.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# The wheel and the sdist into dist/ (the wheel test, tests/packaging, builds its own).
package: install
	$(PY) -m build --outdir dist .

# The README's test command: lint, types, the docs build, then the whole suite (slow end-to-end tests included).
# Two workers: most tests wait on subprocesses and HTTP (Airflow, meltano, the sandbox), so two
# share CI's 2 cores well (about 22 min in one process, see docs/ARCHITECTURE.md "Tests");
# worksteal keeps both busy when the long end-to-end tests land on one of them.
test: install meltano dbt lint docs
	$(VENV)/bin/pytest -n 2 --dist worksteal

# Local convenience: skip the slow end-to-end tests.
test-fast: install dbt lint docs
	$(VENV)/bin/pytest -n 2 --dist worksteal --skip-slow

# The README's main command: sandbox -> tap -> Airflow DAG -> DuckDB, twice, then what landed.
demo: install dbt
	$(PY) scripts/demo.py

bench: install
	$(PY) benchmarks/run_all.py

# The hourly DAG on CeleryExecutor, two workers, PostgreSQL + Redis from wheels (README
# "Scaling out"); a few minutes on 2 cores, so not in CI. Its report: docs/celery-run.md.
celery-demo: install dbt
	$(PY) scripts/celery_demo.py --out docs/celery-run.md

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(DBT_VENV) site dist build .airflow .celery-demo .meltano .pytest_cache .mypy_cache .ruff_cache
