#!/bin/sh
# Container entrypoint: migrate, make SCIM_BOOTSTRAP_TOKEN valid when set, then serve; or,
# given `worker`, deliver webhook events.
set -eu
: "${DATABASE_URL:?DATABASE_URL must point at the PostgreSQL database}"
: "${SECRET_KEY:?SECRET_KEY must be set}"
python manage.py migrate --noinput -v0
# `docker run ... scimserver worker`: the webhook worker, as a process (container) of its own.
if [ "${1:-}" = worker ]; then
    exec python manage.py scim_webhook run
fi
if [ -n "${SCIM_BOOTSTRAP_TOKEN:-}" ]; then
    python manage.py scim_token bootstrap
fi
# Workers: scimserver/server.py, which `make run` serves with too.
HOST=0.0.0.0 exec python -m scimserver.server
