# `make run` and `make test` work from a fresh clone: they make .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run migrate test lint bench bench-workers bench-10k bench-smoke soak clean image-test

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# The deployable set comes from requirements.lock, every file checked against its hash; the
# project itself goes on top without dependencies. The dev extras are held to the lock's versions.
$(VENV)/.runtime: requirements.lock pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime
	sed -e 's/ \\$$//' -e '/^ *--hash/d' -e '/^ *#/d' requirements.lock > $(VENV)/lock-constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' -c $(VENV)/lock-constraints.txt
	touch $@

install: $(VENV)/.installed

# requirements.lock, from pyproject.toml's dependencies: every platform's pins, with their hashes.
lock: install
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
		--custom-compile-command 'make lock' -o requirements.lock

migrate: $(VENV)/.runtime
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/uvicorn gateway.app:app --host $(HOST) --port $(PORT) --no-access-log --no-proxy-headers --timeout-graceful-shutdown 20

lint: install
	$(BIN)/ruff check gateway tests schema bench image
	$(BIN)/ruff format --check gateway tests schema bench image
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Two workers on both cores against one on one core; 10,000 concurrent paced streams on one worker.
bench-workers: install
	$(BIN)/python -m bench.run --rounds 3 --targets pg-text,pg-text-w2 --workloads throughput,short,paced,many

bench-10k: install
	$(BIN)/python -m bench.run --rounds 1 --targets pg-text,pg-text-mock --workloads tenk $(BENCH_ARGS)

bench-smoke: install
	$(BIN)/python -m bench.run --smoke --targets bare,fastapi,pg-text,pg-openai,pg-sse,pg-v1,sqlite-text,pg-text-httpx,pg-text-routed,pg-text-traced,pg-text-w2,pg-messages,pg-messages-anthropic,pg-v1-anthropic,pg-v1-gemini,pg-text-mock
	$(BIN)/python -m bench.search --records 20000
	$(BIN)/python -m bench.profile short --mode turns --requests 50
	$(BIN)/python -m bench.failover --requests 20 --rounds 1
	$(BIN)/python -m bench.history --records 20000

# The image (Containerfile) built on a base made from Debian's packages and run with podman against
# the local PostgreSQL and Redis: migrate, stream, history, SIGTERM mid-stream, restart (root, Debian).
image-test: install
	bash image/prepare.sh
	$(BIN)/python -m image.check

# The long reliability run (by hand): 500 leaving clients, 100 streams under SIGTERM, a PostgreSQL
# restart under load, and over 10,000 schemathesis examples a database; it ends by printing its figures.
soak: install
	rm -f tests/artifacts/soak.json
	SOAK=1 SCHEMATHESIS_EXAMPLES=800 $(BIN)/pytest -q tests/e2e/test_reliability.py tests/e2e/test_schemathesis.py
	$(BIN)/python -m bench.soak_report
