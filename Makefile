# The two commands of the README: `make run` serves the API, `make test` runs the test suite.
# Both install what they need into .venv and, without DATABASE_URL, start a local PostgreSQL.
# `make fuzz` is the long fuzz campaign: FUZZ_EXAMPLES generated requests per fuzz test, about
# 100,000 in all with the default; `make test` runs the same tests with a small fixed budget.

FUZZ_EXAMPLES ?= 12000

.PHONY: run test fuzz db-stop

run:
	@scripts/run.sh

test:
	@scripts/test.sh $(PYTEST_ARGS)

fuzz:
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) scripts/test.sh tests/fuzz $(PYTEST_ARGS)

db-stop:
	@bash -c 'source scripts/lib.sh && stop_database'
