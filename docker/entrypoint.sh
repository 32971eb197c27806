#!/bin/sh
# Container entrypoint: migrate, make SCIM_BOOTSTRAP_TOKEN valid when set, then serve.
set -eu
: "${DATABASE_URL:?DATABASE_URL must point at the PostgreSQL database}"
: "${SECRET_KEY:?SECRET_KEY must be set}"
python manage.py migrate --noinput -v0
if [ -n "${SCIM_BOOTSTRAP_TOKEN:-}" ]; then
    python manage.py scim_token bootstrap
fi
exec gunicorn scimserver.wsgi \
    --bind "0.0.0.0:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --threads "${WEB_THREADS:-4}" \
    --timeout "${GUNICORN_TIMEOUT:-60}" \
    --graceful-timeout 10 \
    --no-control-socket
