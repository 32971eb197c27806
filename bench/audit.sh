#!/usr/bin/env bash
# Benchmark issue 9's change records and webhooks on this machine, in one command:
#   bench/audit.sh cost         # server CPU of creates and PATCHes with and without records
#   bench/audit.sh throughput   # events/s the webhook worker delivers to a local receiver
# It uses a database of its own, `scim_bench_audit`, on the local PostgreSQL cluster of
# `make run` (or DATABASE_URL as given). `cost` compares this tree with BENCH_BASE_REF (the
# commit before change records, by default), both served as `make run` does.
source "$(dirname "$0")/../scripts/lib.sh"

PG_DB_NAME=scim_bench_audit
ensure_venv test
ensure_secret_key
ensure_database
cd "$ROOT"
"$VENV/bin/python" manage.py migrate --noinput -v0
exec "$VENV/bin/python" bench/audit.py "$@"
