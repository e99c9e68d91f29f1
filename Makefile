# sweeplab — `make sweep` sets everything up and runs the offline demo sweep; `make test` tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.sweeplab-installed
WORDNET := $(VENV)/nltk_data/corpora/wordnet/lexnames
DEMO_DATA := data/demo/.complete
DEMO_MODEL := models/demo-llama/demo_model.json
# Exact wheels of what a promoted model requires: its offline install test installs from here.
WHEELHOUSE := .wheelhouse/.complete
DEMO_MINI := models/demo-llama-mini/demo_model.json
NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)
PYTEST_ARGS ?=
# Test files run two at a time (pytest-xdist; a file stays on one worker, so its shared
# fixtures are built once): the integration suite is mostly waiting on processes. 0: serial.
PYTEST_JOBS ?= 2
BENCH_ARGS ?=
# gpu-check runs on a GPU machine without `make setup`: its own python; what that python lacks
# comes from the wheelhouse `make gpu-wheelhouse` builds here (scripts/gpu_wheelhouse.py:
# wheels for CPython 3.12 and 3.11, rouge_score's built here, WordNet zipped). On the lent
# machine the whole check is `bash scripts/device_gpu_check.sh` (README "Trials on a GPU").
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
DRY ?=

PORT ?= 5000

.PHONY: setup sweep test test-fast lint format demo-data demo-model server postgres clean help \
	bench gpu-check gpu-wheelhouse wheelhouse ui

help:
	@echo "make sweep      install what is missing, build demo data + model, run the demo sweep"
	@echo "make test       the whole test suite (unit + integration)"
	@echo "make test-fast  unit tests only"
	@echo "make lint       ruff check + format check"
	@echo "make bench      measure the platform's speed: bench/results.json + bench/RESULTS.md"
	@echo "                (about 15 min on 2 cores; BENCH_QUICK=1 for a smoke run of minutes)"
	@echo "make gpu-check  on a GPU machine: sweeplab's run_trial on a TinyLlama-shaped model,"
	@echo "                1 trial then 2 sharing the GPU (DRY=1: toy sizes on the CPU)"
	@echo "make gpu-wheelhouse  what gpu-check brings to a GPU machine without network (< 64 MiB)"
	@echo "make ui         the MLflow UI on the sweeps run here (runs/mlflow.db), port PORT=5000"

# The CPU torch wheel is pinned here: an unpinned torch would download GBs of CUDA.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 -e '.[dev]'
	touch $@

$(WORDNET): $(STAMP) scripts/setup_wordnet.py
	$(PY) scripts/setup_wordnet.py

# Headless Chromium (Debian's) for the MLflow UI tests.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# PostgreSQL on 127.0.0.1:5432 (trust auth) for the team-server tests: started if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1 -p 5432

setup: $(STAMP) $(WORDNET)

$(DEMO_DATA): $(STAMP) $(wildcard demo/*.py)
	$(PY) -m demo.corpus --out data/demo
	touch $@

$(DEMO_MODEL): $(STAMP) $(DEMO_DATA) $(wildcard demo/*.py)
	$(PY) -m demo.model --out models/demo-llama

$(WHEELHOUSE): $(STAMP) sweeps/promote/shipping.py
	$(PY) -m sweeps.promote.shipping .wheelhouse
	touch $@

wheelhouse: $(WHEELHOUSE)

# A smaller second base model: model scale as a search dimension (configs/demo-scale.yaml).
$(DEMO_MINI): $(STAMP) $(DEMO_DATA) $(wildcard demo/*.py)
	$(PY) -m demo.model --out models/demo-llama-mini --size mini

demo-data: $(DEMO_DATA)
demo-model: $(DEMO_MODEL) $(DEMO_MINI)

sweep: setup demo-data demo-model
	$(BIN)/sweeplab sweep configs/demo.yaml --name $(NAME)

test: setup demo-data demo-model $(WHEELHOUSE) $(CHROMIUM) postgres
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

bench: setup demo-data demo-model
	$(PY) -m bench $(BENCH_ARGS)

gpu-check:
	$(GPU_PYTHON) scripts/gpu_check.py $(if $(DRY),--dry-run)

# The packages gpu-check needs that the lent machine's image lacks, at the versions installed
# here (never its own transformers, huggingface-hub, torch, ...), and WordNet zipped; < 64 MiB.
gpu-wheelhouse: $(STAMP) $(WORDNET)
	$(PY) scripts/gpu_wheelhouse.py --out bench/gpu

server: setup
	$(BIN)/sweeplab server --port $(PORT)

# The venv's own mlflow (not on PATH unless the venv is activated) on the default store,
# without MLflow's job runner (eight idle processes for jobs sweeplab never submits).
ui:
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/runs/mlflow.db --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf runs data/demo models/demo-llama models/demo-llama-mini .wheelhouse
