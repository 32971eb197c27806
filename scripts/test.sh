#!/usr/bin/env bash
# `make test`: install with the test extras, start the database if needed, and run pytest
# (extra arguments go to pytest).
source "$(dirname "$0")/lib.sh"

ensure_venv test
ensure_chromium
ensure_secret_key
ensure_database
# tests/live/pgbouncer runs the server behind Debian's PgBouncer, as docker/compose.yaml does.
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    [ "$(id -u)" = 0 ] || die "PgBouncer is not installed: apt-get install pgbouncer (as root)."
    echo "Installing PgBouncer ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer) \
        >/dev/null || die "installing PgBouncer failed (apt-get install pgbouncer)."
fi
# tests/live/test_edge.py runs the edge proxy of docker/edge: Debian's nginx with its Lua module.
if ! command -v nginx >/dev/null || [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
    [ "$(id -u)" = 0 ] || die "nginx is not installed: apt-get install nginx libnginx-mod-http-lua (as root)."
    echo "Installing nginx ..." >&2
    (apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-lua) \
        >/dev/null || die "installing nginx failed (apt-get install nginx libnginx-mod-http-lua)."
fi
cd "$ROOT"
# The admin pages and the live server read the collected, hashed static files, as in production.
"$VENV/bin/python" manage.py collectstatic --noinput -v0
exec "$VENV/bin/pytest" "$@"
