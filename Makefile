# The two commands a newcomer needs: `make demo` and `make test`.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST = .venv/bin/python -m pytest

.PHONY: demo test test-sqlite test-postgres lint benchmarks

demo:
	./scripts/bootstrap
	.venv/bin/patron demo

test: 
	./scripts/bootstrap dev
	$(MAKE) lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

test-sqlite:
	@echo "=== test suite on SQLite ==="
	env -u DATABASE_URL $(PYTEST)

test-postgres:
	@echo "=== test suite on PostgreSQL ($(POSTGRES_URL)) ==="
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST)
