#!/usr/bin/env bash
# Benchmark the SCIM server over real HTTP on this machine, in one command:
#   bench/run.sh                             # 100000 users, then a group grown to 100000 members
#   BENCH_USERS=2000 bench/run.sh            # a quick run
#   BENCH_GROUPS=only bench/run.sh           # the group benchmark alone (BENCH_GROUPS=0: users only)
#   BENCH_BULK=only bench/run.sh             # Bulk against single requests alone, no seeding
# It uses a database of its own per population, `scim_bench_<BENCH_USERS>`, on the local
# PostgreSQL cluster of `make run`
# (or DATABASE_URL as given), serves it (scimserver/server.py, 2 workers) on a free port with a
# throwaway bootstrap token, seeds BENCH_USERS users unless they are already there, runs
# `scimbench.py all` and `scimbench.py groups`, and stops the server on exit. Results:
# bench/results/<timestamp>.json and groups-<timestamp>.json; the server's log:
# bench/results/server-<timestamp>.log (the SQL statements per request are read from it, and
# `groups` reads the server's own times). The server's CPU time per request counts the server's
# processes and, on the local cluster, PostgreSQL's.
source "$(dirname "$0")/../scripts/lib.sh"

BENCH_USERS=${BENCH_USERS:-100000}
BENCH_DIR="$ROOT/bench"
RESULTS="$BENCH_DIR/results"
# BENCH_GROUPS: 1 runs `groups` after `all`, only runs `groups` alone, 0 skips it.
BENCH_GROUPS=${BENCH_GROUPS:-1}
# BENCH_GROUP_MEMBERS: the group's size (default: the population, at most 100000).
BENCH_GROUP_MEMBERS=${BENCH_GROUP_MEMBERS:-}
# BENCH_BULK: 1 runs `bulk` after the others, only runs it alone (without seeding), 0 skips it.
BENCH_BULK=${BENCH_BULK:-0}
[[ "$BENCH_USERS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_USERS must be a positive integer."
[[ "$BENCH_GROUPS" =~ ^(0|1|only)$ ]] || die "BENCH_GROUPS must be 0, 1 or only."
[[ "$BENCH_BULK" =~ ^(0|1|only)$ ]] || die "BENCH_BULK must be 0, 1 or only."
[[ -z "$BENCH_GROUP_MEMBERS" || "$BENCH_GROUP_MEMBERS" =~ ^[1-9][0-9]*$ ]] \
    || die "BENCH_GROUP_MEMBERS must be a positive integer."

# ensure_database creates $PG_DB_NAME on the local cluster when missing and points DATABASE_URL
# at it; the benchmark's users get a database of their own, apart from `make run`'s `scim`.
# A DATABASE_URL set by the user is used as it is.
PG_DB_NAME=scim_bench_$BENCH_USERS
# The local cluster's CPU time is measured; a database elsewhere is not ours to watch.
USER_DATABASE_URL=${DATABASE_URL:-}
# The test extras carry httpx2, the benchmark client's HTTP library.
ensure_venv test
ensure_secret_key
ensure_database
cd "$ROOT"
PY="$VENV/bin/python"

"$PY" manage.py migrate --noinput -v0
SCIM_BOOTSTRAP_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')
export SCIM_BOOTSTRAP_TOKEN
"$PY" manage.py scim_token bootstrap >/dev/null
export SCIM_TOKEN=$SCIM_BOOTSTRAP_TOKEN

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT/scim/v2"
mkdir -p "$RESULTS"
SERVER_LOG="$RESULTS/server-$(date -u +%Y%m%dT%H%M%SZ).log"

SERVER_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || return 0
    # The server's graceful timeout is 10 s; give it a little more, then stop waiting politely.
    for _ in $(seq 1 60); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

echo "Starting the server (scimserver/server.py, 2 workers) on $BASE, database $(printf %s "$DATABASE_URL" | sed 's|.*/||'); log: $SERVER_LOG" >&2
# As `make run` serves, with two workers.
PORT=$PORT WEB_CONCURRENCY=2 "$VENV/bin/python" -m scimserver.server >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# What scimbench reads around each operation: the log's request lines (SQL statements), and
# the CPU time of the server's main process and of the postmaster, each with its descendants (workers,
# backends).
WATCH=(--server-log "$SERVER_LOG" --server-pid "$SERVER_PID")
if [ -z "$USER_DATABASE_URL" ]; then
    PG_PID=$(head -n 1 "$LOCAL/pg/data/postmaster.pid" 2>/dev/null || true)
    [[ "$PG_PID" =~ ^[0-9]+$ ]] || die "cannot read the postmaster's pid from $LOCAL/pg/data/postmaster.pid."
    WATCH+=(--server-pid "$PG_PID")
else
    echo "Note: DATABASE_URL is set: the server CPU column counts the server only, not the database." >&2
fi

bench() {
    "$PY" "$BENCH_DIR/scimbench.py" "$@" --base-url "$BASE"
}

if ! bench wait --wait-seconds 60; then
    tail -n 20 "$SERVER_LOG" >&2
    die "the server did not start; see $SERVER_LOG."
fi

HAVE=$(bench count)
if [ "$BENCH_BULK" = only ]; then
    bench bulk "${WATCH[@]}"
    exit
fi
if [ "$HAVE" -ge "$BENCH_USERS" ]; then
    echo "Seeding skipped: the database already holds $HAVE users (BENCH_USERS=$BENCH_USERS)." >&2
else
    echo "Seeding $BENCH_USERS users (the database holds $HAVE) ..." >&2
    # About 160 users/s on this machine: give 100k users the half hour they need.
    bench seed --users "$BENCH_USERS" --duration 1800 "${WATCH[@]}"
    HAVE=$(bench count)
    [ "$HAVE" -ge "$BENCH_USERS" ] || die "seeding stopped at $HAVE of $BENCH_USERS users; run again to go on."
    # After a bulk load, as an operator would (autovacuum gets there too, later): fresh
    # statistics, and a visibility map that lets COUNT and paging read the indexes alone.
    "$PY" manage.py shell -c "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')"
fi
if [ "$HAVE" -gt "$BENCH_USERS" ]; then
    echo "Note: benchmarking all $HAVE users; drop the $PG_DB_NAME database for a smaller population." >&2
fi

status=0
if [ "$BENCH_GROUPS" != only ]; then
    bench all "${WATCH[@]}" || status=1
fi
if [ "$BENCH_GROUPS" != 0 ]; then
    echo "Running the group benchmark ..." >&2
    bench groups "${WATCH[@]}" ${BENCH_GROUP_MEMBERS:+--members "$BENCH_GROUP_MEMBERS"} \
        || status=1
fi
if [ "$BENCH_BULK" = 1 ]; then
    bench bulk "${WATCH[@]}" || status=1
fi
exit "$status"
