#!/usr/bin/env bash
# `make test`: install with the test extras, start the database if needed, and run pytest
# (extra arguments go to pytest).
source "$(dirname "$0")/lib.sh"

ensure_venv test
ensure_chromium
ensure_secret_key
ensure_database
cd "$ROOT"
# The admin pages and the live server read the collected, hashed static files, as in production.
"$VENV/bin/python" manage.py collectstatic --noinput -v0
exec "$VENV/bin/pytest" "$@"
