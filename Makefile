# The two commands of the README: `make run` serves the API, `make test` runs the test suite.
# Both install what they need into .venv and, without DATABASE_URL, start a local PostgreSQL.

.PHONY: run test db-stop

run:
	@scripts/run.sh

test:
	@scripts/test.sh $(PYTEST_ARGS)

db-stop:
	@bash -c 'source scripts/lib.sh && stop_database'
