# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): a virtualenv with the project
# installed, a SECRET_KEY, and a database: DATABASE_URL when given, else a project-local
# PostgreSQL cluster under .local/ that is started on demand and reused between runs.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
PG_DB_NAME=scim

die() {
    echo "error: $*" >&2
    exit 1
}

# ensure_venv EXTRAS: create .venv and install the project with the given extras ("" or "test"),
# again only when pyproject.toml changes.
ensure_venv() {
    local extras=$1 python=${PYTHON:-python3} hash stamp
    command -v "$python" >/dev/null || die "python3 is not installed: install Python 3.11 or newer."
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is required; $python is $("$python" --version 2>&1)."
    hash=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)
    stamp="$VENV/.installed-$hash-${extras:-base}"
    [ -f "$stamp" ] && return
    if [ ! -x "$VENV/bin/python" ]; then
        "$python" -m venv "$VENV" \
            || die "could not create a virtualenv (on Debian: apt-get install python3-venv)."
    fi
    echo "Installing Python dependencies into .venv ..." >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -e "$ROOT${extras:+[$extras]}" \
        || die "installing the Python dependencies failed (see pip's message above)."
    find "$VENV" -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
    touch "$stamp"
}

# ensure_chromium: the browser of the admin's tests (tests/browser), Debian's own package;
# Playwright drives it and never downloads a browser.
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return
    command -v apt-get >/dev/null \
        || die "/usr/bin/chromium is missing and there is no apt-get to install it; install Chromium."
    echo "Installing chromium (Debian) for the admin's browser tests ..." >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null \
        || die "installing chromium failed (see apt-get's message above)."
}

ensure_secret_key() {
    if [ -z "${SECRET_KEY:-}" ]; then
        mkdir -p "$LOCAL"
        if [ ! -s "$LOCAL/secret_key" ]; then
            (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))' \
                >"$LOCAL/secret_key")
        fi
        SECRET_KEY=$(cat "$LOCAL/secret_key")
        export SECRET_KEY
    fi
}

# The newest PostgreSQL server binaries: Debian keeps them off PATH, in /usr/lib/postgresql/N/bin.
find_pg_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return
        fi
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    return 1
}

# as_pg CMD...: run CMD as the cluster's owner. PostgreSQL refuses to run as root, so when we
# are root the cluster belongs to the `postgres` system user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_home: where the cluster lives. .local/pg normally; when root and the `postgres` user cannot
# reach the checkout (e.g. under /root), a folder of its own under /var/tmp, linked from .local.
pg_home() {
    if [ "$(id -u)" != 0 ]; then
        echo "$LOCAL/pg"
        return
    fi
    id postgres >/dev/null 2>&1 \
        || die "running as root, but there is no 'postgres' system user to own the local PostgreSQL cluster; install PostgreSQL's Debian packages or set DATABASE_URL."
    mkdir -p "$LOCAL"
    if runuser -u postgres -- test -x "$LOCAL"; then
        echo "$LOCAL/pg"
    else
        echo "/var/tmp/scimserver-pg-$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
    fi
}

ensure_database() {
    if [ -n "${DATABASE_URL:-}" ]; then
        return
    fi
    local bin home data run
    bin=$(find_pg_bin) || die "DATABASE_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) were found; install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL."
    home=$(pg_home)
    data="$home/data"
    run="$home/run"
    mkdir -p "$home" "$run"
    [ "$home" = "$LOCAL/pg" ] || ln -sfn "$home" "$LOCAL/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$home" "$run"
    chmod 700 "$home"
    if [ ! -f "$data/PG_VERSION" ]; then
        echo "Creating a local PostgreSQL cluster in $data ..." >&2
        as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
            || die "initdb failed; see $home/initdb.log."
    fi
    if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        # Unix socket only: nothing listens on TCP, so clones never fight over a port.
        # Autovacuum looks for work every 10 s rather than every minute, so a large import
        # is planned with statistics within seconds (README, Deploy: "After a bulk load").
        as_pg "$bin/pg_ctl" -D "$data" -l "$home/server.log" -w -t 60 \
            -o "-c listen_addresses='' -k $run -c max_connections=300 -c autovacuum_naptime=10s" \
            start >/dev/null \
            || die "the local PostgreSQL server did not start; see $home/server.log."
    fi
    if [ -z "$(as_pg "$bin/psql" -h "$run" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB_NAME'")" ]; then
        as_pg "$bin/createdb" -h "$run" -U postgres "$PG_DB_NAME" \
            || die "could not create the database '$PG_DB_NAME'."
    fi
    DATABASE_URL="postgresql://postgres@$(printf %s "$run" | sed 's|/|%2F|g')/$PG_DB_NAME"
    export DATABASE_URL
}

stop_database() {
    local bin home
    bin=$(find_pg_bin) || return 0
    home=$(pg_home)
    if [ -f "$home/data/PG_VERSION" ]; then
        as_pg "$bin/pg_ctl" -D "$home/data" -m fast stop || true
    fi
}
