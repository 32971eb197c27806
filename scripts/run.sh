#!/usr/bin/env bash
# `make run`: install, start the database if needed, migrate, and serve the SCIM API (scimserver/server.py).
source "$(dirname "$0")/lib.sh"

PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}

ensure_venv ""
ensure_secret_key
ensure_database
cd "$ROOT"
"$VENV/bin/python" manage.py migrate --noinput -v0
"$VENV/bin/python" manage.py collectstatic --noinput -v0
if [ -n "${SCIM_BOOTSTRAP_TOKEN:-}" ]; then
    "$VENV/bin/python" manage.py scim_token bootstrap
fi

BASE="http://$HOST:$PORT/scim/v2"
cat >&2 <<MSG

SCIM 2.0 API: $BASE
Get a token:  scripts/manage.sh scim_token create --name okta   (the secret is printed once)
Try it:       curl -H "Authorization: Bearer <token>" $BASE/Users
Admin:        http://$HOST:$PORT/admin/   (create a login: scripts/manage.sh createsuperuser)

MSG
# The webhook worker runs beside the server; whichever stops first (or Ctrl-C) stops both.
# Bind address and workers: scimserver/server.py, shared with docker/ and the tests.
export HOST PORT
"$VENV/bin/python" manage.py scim_webhook run &
worker=$!
"$VENV/bin/python" -m scimserver.server &
web=$!
trap 'kill -TERM $web $worker 2>/dev/null' INT TERM
wait -n $web $worker || true
kill -TERM $web $worker 2>/dev/null || true
wait
