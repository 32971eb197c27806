#!/bin/sh
# Run the edge proxy (nginx.conf beside this file) in the foreground, configured from:
#   EDGE_LISTEN             address:port or port to listen on (8000)
#   EDGE_UPSTREAM           the granian server, host:port (app:8000)
#   SCIM_MAX_PAYLOAD_BYTES  the largest request body, as the application's setting (10485760)
#   EDGE_WORKERS            nginx worker processes (auto: one per core)
#   EDGE_STATE              a writable directory for the pid and temporary files (/tmp/edge)
set -eu
here=$(dirname "$0")
state=${EDGE_STATE:-/tmp/edge}
mkdir -p "$state"
sed -e "s|@LISTEN@|${EDGE_LISTEN:-8000}|" \
    -e "s|@UPSTREAM@|${EDGE_UPSTREAM:-app:8000}|" \
    -e "s|@MAX_BODY@|${SCIM_MAX_PAYLOAD_BYTES:-10485760}|g" \
    -e "s|@WORKERS@|${EDGE_WORKERS:-auto}|" \
    -e "s|@STATE@|$state|g" \
    "$here/nginx.conf" >"$state/nginx.conf"
exec nginx -e stderr -p "$state" -c "$state/nginx.conf" -g 'daemon off;'
