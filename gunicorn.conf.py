"""The one gunicorn configuration: `make run`, the container and the live tests all serve with it
(gunicorn reads ./gunicorn.conf.py from the working directory). bench/README.md has the
measurements behind each choice; the README's configuration table lists the variables.
"""

import json
import multiprocessing
import os

from gunicorn import util

from provisioning.scim.errors import ERROR_SCHEMA

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Sync workers: a SCIM request is short and CPU-bound, and a thread pool's bookkeeping cost
# more CPU per request than it saved (bench/README.md). Two per core keeps the cores busy
# while a worker waits on PostgreSQL.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# In-flight requests get this long to finish on SIGTERM; each write is one transaction, so a
# request cut off after that leaves nothing half-applied.
graceful_timeout = 10
control_socket_disable = True
# The request line and headers gunicorn accepts; beyond them it answers 414/431 itself.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def write_scim_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Write an error gunicorn answers itself (a request line over the limit, too many or too
    large headers, a malformed method) as a SCIM error body rather than its HTML page
    (RFC 7644 §3.12): these come before the application sees the request."""
    body = json.dumps(
        {"schemas": [ERROR_SCHEMA], "status": str(status_int), "detail": mesg or reason}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def on_starting(server) -> None:
    # Workers are forked after this, so each of them answers with the SCIM body.
    util.write_error = write_scim_error
