"""Serve the project with granian: the one server configuration, used by `make run`, the
container and the live tests (`python -m scimserver.server`).

granian was chosen by measurement over gunicorn's sync and threaded workers (bench/README.md):
its HTTP handling, in Rust, costs a tenth of gunicorn's CPU per request here, and it keeps
connections alive. Settings come from the environment, as the README's table lists.
"""

import os

from granian import Granian
from granian.constants import Interfaces
from granian.log import LogLevels

# In-flight requests get this long to finish on SIGTERM; each write is one transaction, so a
# request cut off after that leaves nothing half-applied.
GRACEFUL_SECONDS = 10


def workers() -> int:
    """Return the number of worker processes: WEB_CONCURRENCY, else one per core."""
    return int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)


def main() -> None:
    Granian(
        "scimserver.wsgi:application",
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        interface=Interfaces.WSGI,
        workers=workers(),
        # One request at a time per worker: a SCIM request is short and CPU-bound, and more
        # threads only added CPU per request (bench/README.md).
        blocking_threads=1,
        workers_kill_timeout=GRACEFUL_SECONDS,
        respawn_failed_workers=True,
        log_level=LogLevels(os.environ.get("LOG_LEVEL", "INFO").lower()),
    ).serve()


if __name__ == "__main__":
    main()
