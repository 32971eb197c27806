#!/usr/bin/env bash
# What checking the foreign keys of membership and value rows costs before and after the
# migration that makes them carry the tenant (bench/tenant_keys.py), in one command:
#   bench/tenant_keys.sh [ROUNDS]
# It uses a database of its own, `scim_bench_tenant_keys`, on the local PostgreSQL cluster of
# `make run` (or DATABASE_URL as given), and leaves it fully migrated.
source "$(dirname "$0")/../scripts/lib.sh"

PG_DB_NAME=scim_bench_tenant_keys
ensure_venv test
ensure_secret_key
ensure_database
cd "$ROOT"
"$VENV/bin/python" manage.py migrate --noinput -v0
exec "$VENV/bin/python" bench/tenant_keys.py "$@"
