# The two commands a newcomer needs: `make demo` and `make test`.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST = .venv/bin/python -m pytest

.PHONY: demo test test-sqlite test-postgres test-base test-future lint benchmarks

demo:
	./scripts/bootstrap
	.venv/bin/patron demo

test: 
	./scripts/bootstrap dev
	$(MAKE) lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) test-base
	$(MAKE) test-future

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test-sqlite:
	@echo "=== test suite on SQLite ==="
	env -u DATABASE_URL $(PYTEST) --ignore=tests/install

test-postgres:
	@echo "=== test suite on PostgreSQL ($(POSTGRES_URL)) ==="
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) --ignore=tests/install

# A venv with no extras: `pip install patron` alone must run the demo, server, worker, scheduler.
test-base:
	@echo "=== the base install (no extras) ==="
	env -u DATABASE_URL $(PYTEST) tests/install

# The suite again with the wall clock a year ahead (libfaketime; the monotonic clock stays real,
# see scripts/faketime/sitecustomize.py for why and for the one thing that needs patching).
test-future:
	@echo "=== test suite on SQLite, a year from today ==="
	@if command -v faketime >/dev/null; then \
	  env -u DATABASE_URL PYTHONPATH=$(CURDIR)/scripts/faketime FAKETIME_DONT_FAKE_MONOTONIC=1 \
	    faketime -f '+365d' $(PYTEST) --ignore=tests/install -m "not browser"; \
	elif [ "$$CI" = true ]; then \
	  echo "*** faketime is missing (apt-get install faketime); CI=true makes that a failure" >&2; exit 1; \
	else echo "(skipped: faketime is not installed; apt-get install faketime)"; fi
