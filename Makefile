# minimall: `make run` starts the whole suite, `make test` runs every test against real servers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TOOLS  := .tools
VENV   := .venv
UV     := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint bench format clean demo k8s-validate

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# checkov (heavy dependencies) lives in a tool venv of its own, pinned by its requirements file.
CHECKOV_VENV := $(TOOLS)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
K8S_RENDERED := $(TOOLS)/k8s-rendered

$(CHECKOV): $(UV) deploy/k8s/checkov-requirements.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	VIRTUAL_ENV=$(CHECKOV_VENV) $(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r deploy/k8s/checkov-requirements.txt
	touch $@

$(VENV)/.installed: $(UV) uv.lock pyproject.toml shared/pyproject.toml gateway/pyproject.toml devstack/pyproject.toml $(wildcard services/*/pyproject.toml simulators/*/pyproject.toml)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(UV) sync --frozen --all-packages --python $(VENV)/bin/python
	touch $@

run: install
	$(VENV)/bin/python -m devstack run

demo: install
	$(VENV)/bin/python -m devstack.demo

test: install k8s-validate
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Offline: render the chart (helm-python-sdk, no helm binary), helm lint --strict, validate with
# kubernetes-validate --strict for 1.30, then checkov over the rendered YAML and the Dockerfile.
k8s-validate: install $(CHECKOV)
	rm -rf $(K8S_RENDERED)
	$(VENV)/bin/python deploy/k8s/validate.py --out $(K8S_RENDERED)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --skip-download -d $(K8S_RENDERED) --config-file deploy/k8s/checkov.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --skip-download -f Dockerfile --framework dockerfile --compact --quiet

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src gateway/src devstack/src services/*/src simulators/*/src tests bench deploy/k8s/validate.py
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .data
