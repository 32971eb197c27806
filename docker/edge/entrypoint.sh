#!/bin/sh
# Run the edge proxy (nginx.conf beside this file) in the foreground, configured from:
#   EDGE_LISTEN             address:port or port to listen on (8000)
#   EDGE_UPSTREAM           the granian server, host:port (app:8000)
#   SCIM_MAX_PAYLOAD_BYTES  the largest request body, as the application's setting (10485760)
#   SCIM_BULK_MAX_PAYLOAD_BYTES  the largest /Bulk body, as the application's setting (1048576)
#   EDGE_WORKERS            nginx worker processes (auto: one per core)
#   EDGE_STATE              a writable directory for the pid and temporary files (/tmp/edge)
#   EDGE_TRUSTED_PROXIES    addresses or CIDRs of proxies in front (a TLS terminator), separated
#                           by spaces or commas, whose X-Forwarded-For and -Proto are believed
set -eu
here=$(dirname "$0")
state=${EDGE_STATE:-/tmp/edge}
mkdir -p "$state"
# A body is refused here only when no endpoint could take it: /Bulk may take more or less.
body=${SCIM_MAX_PAYLOAD_BYTES:-10485760}
bulk=${SCIM_BULK_MAX_PAYLOAD_BYTES:-1048576}
if [ "$bulk" -gt "$body" ]; then
    body=$bulk
fi
: >"$state/trusted.conf"
: >"$state/trusted-geo.conf"
for proxy in $(echo "${EDGE_TRUSTED_PROXIES:-}" | tr ',' ' '); do
    echo "set_real_ip_from $proxy;" >>"$state/trusted.conf"
    echo "$proxy 1;" >>"$state/trusted-geo.conf"
done
if [ -s "$state/trusted.conf" ]; then
    printf 'real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n' >>"$state/trusted.conf"
fi
sed -e "s|@LISTEN@|${EDGE_LISTEN:-8000}|" \
    -e "s|@UPSTREAM@|${EDGE_UPSTREAM:-app:8000}|" \
    -e "s|@MAX_BODY@|$body|g" \
    -e "s|@WORKERS@|${EDGE_WORKERS:-auto}|" \
    -e "s|@STATE@|$state|g" \
    "$here/nginx.conf" >"$state/nginx.conf"
exec nginx -e stderr -p "$state" -c "$state/nginx.conf" -g 'daemon off;'
