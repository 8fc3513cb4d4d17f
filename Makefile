# minimall: `make run` starts the whole suite, `make test` runs every test against real servers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TOOLS  := .tools
VENV   := .venv
UV     := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint bench format clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) uv.lock pyproject.toml shared/pyproject.toml gateway/pyproject.toml devstack/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(UV) sync --frozen --all-packages --python $(VENV)/bin/python
	touch $@

run: install
	$(VENV)/bin/python -m devstack run

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src gateway/src devstack/src services/*/src tests bench
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .data
