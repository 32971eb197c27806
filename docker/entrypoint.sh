#!/bin/sh
# Container entrypoint; docker/compose.yaml runs each command as a service of its own.
#   migrate   apply the migrations, then make SCIM_BOOTSTRAP_TOKEN valid, or on a first start
#             (no token yet) issue a token and print it once. Run it once per deployment, as a
#             one-shot service or job, never from each replica: replicas starting together
#             would race to migrate.
#   serve     (the default) serve the API with granian (scimserver/server.py) on $PORT (8000).
#   worker    deliver webhook events; further arguments go to `scim_webhook run`.
# SECRET_KEY, or SECRET_KEY_FILE: a file holding it (scimserver/settings.py reads it), which
# `migrate` creates when missing.
set -eu
command=${1:-serve}
[ $# -gt 0 ] && shift
: "${DATABASE_URL:?DATABASE_URL must point at the PostgreSQL database}"
if [ -z "${SECRET_KEY:-}" ]; then
    : "${SECRET_KEY_FILE:?SECRET_KEY or SECRET_KEY_FILE must be set}"
    if [ "$command" = migrate ] && [ ! -s "$SECRET_KEY_FILE" ]; then
        (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(50))' \
            >"$SECRET_KEY_FILE")
    fi
    if [ ! -s "$SECRET_KEY_FILE" ]; then
        echo "SECRET_KEY_FILE $SECRET_KEY_FILE is missing; run migrate first" >&2
        exit 1
    fi
fi
case "$command" in
migrate)
    python manage.py migrate --noinput -v0
    python manage.py scim_token bootstrap --issue-when-none
    ;;
serve)
    HOST=0.0.0.0 exec python -m scimserver.server
    ;;
worker)
    exec python manage.py scim_webhook run "$@"
    ;;
*)
    echo "usage: scimserver-entrypoint [migrate | serve | worker [scim_webhook run options]]" >&2
    exit 64
    ;;
esac
