"""The one gunicorn configuration: `make run`, the container and the live tests all serve with it
(gunicorn reads ./gunicorn.conf.py from the working directory). bench/README.md has the
measurements behind each choice; the README's configuration table lists the variables.
"""

import multiprocessing
import os

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
