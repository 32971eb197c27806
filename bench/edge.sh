#!/usr/bin/env bash
# What the edge proxy (docker/edge, nginx) costs per request, in one command:
#   bench/edge.sh [ROUNDS]        # default 3 rounds
# Serves a database of its own, `scim_bench_edge` (2000 users, seeded the first time), on the
# local PostgreSQL cluster of `make run` (or DATABASE_URL as given) with granian (2 workers)
# and the edge proxy (one nginx worker) in front of it, then runs `scimbench.py lookup` alternately
# straight to granian and through the edge, ROUNDS times each. Each run's "server CPU" column
# is granian's CPU per request, or granian's and nginx's; PostgreSQL, the same both ways,
# is left out.
source "$(dirname "$0")/../scripts/lib.sh"

ROUNDS=${1:-3}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer."
command -v nginx >/dev/null || die "nginx is missing: apt-get install nginx libnginx-mod-http-lua."
PG_DB_NAME=scim_bench_edge
ensure_venv test
ensure_secret_key
ensure_database
cd "$ROOT"
PY="$VENV/bin/python"
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$PY" manage.py migrate --noinput -v0
SCIM_BOOTSTRAP_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')
export SCIM_BOOTSTRAP_TOKEN
"$PY" manage.py scim_token bootstrap >/dev/null
export SCIM_TOKEN=$SCIM_BOOTSTRAP_TOKEN

APP_PORT=$(free_port)
EDGE_PORT=$(free_port)
EDGE_STATE=$(mktemp -d)
chmod 755 "$EDGE_STATE"  # nginx's workers (nobody, when run as root) write request bodies there
PIDS=()
stop() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$EDGE_STATE"
}
trap stop EXIT
trap 'exit 130' INT TERM

LOG_LEVEL=WARNING PORT=$APP_PORT WEB_CONCURRENCY=2 BEHIND_PROXY=true \
    "$PY" -m scimserver.server >/dev/null 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")
EDGE_LISTEN=127.0.0.1:$EDGE_PORT EDGE_UPSTREAM=127.0.0.1:$APP_PORT EDGE_WORKERS=1 \
    EDGE_STATE=$EDGE_STATE sh docker/edge/entrypoint.sh &
EDGE_PID=$!
PIDS+=("$EDGE_PID")

DIRECT="http://127.0.0.1:$APP_PORT/scim/v2"
THROUGH="http://127.0.0.1:$EDGE_PORT/scim/v2"
bench() {
    "$PY" bench/scimbench.py "$@"
}
bench wait --base-url "$DIRECT" --wait-seconds 60 || die "the server did not start."
bench wait --base-url "$THROUGH" --wait-seconds 10 || die "the edge proxy did not start."
HAVE=$(bench count --base-url "$DIRECT")
if [ "$HAVE" -lt 2000 ]; then
    bench seed --base-url "$DIRECT" --users 2000 --duration 600 >/dev/null
fi

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round: straight to granian" >&2
    bench lookup --base-url "$DIRECT" --requests 2000 --server-pid "$APP_PID"
    echo "== round $round: through the edge" >&2
    bench lookup --base-url "$THROUGH" --requests 2000 --server-pid "$APP_PID" --server-pid "$EDGE_PID"
done
