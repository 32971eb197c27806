#!/usr/bin/env bash
# Run a Django management command with the same setup as `make run`, e.g.
#   scripts/manage.sh scim_token create --name okta
#   scripts/manage.sh createsuperuser
source "$(dirname "$0")/lib.sh"

ensure_venv ""
ensure_secret_key
ensure_database
cd "$ROOT"
"$VENV/bin/python" manage.py migrate --noinput -v0
exec "$VENV/bin/python" manage.py "$@"
