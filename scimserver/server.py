"""Serve the project with granian: the one server configuration, used by `make run`, the
container and the live tests (`python -m scimserver.server`).

granian was chosen by measurement over gunicorn's sync and threaded workers (bench/README.md):
its HTTP handling, in Rust, costs a tenth of gunicorn's CPU per request here, and it keeps
connections alive. Settings come from the environment, as the README's table lists.
"""

import os
import shutil
import tempfile
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces
from granian.log import LogLevels


def workers() -> int:
    """Return the number of worker processes: WEB_CONCURRENCY, else one per core."""
    return int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)


def graceful_seconds() -> int:
    """Return how long in-flight requests get to finish after SIGTERM (GRACEFUL_TIMEOUT).

    On SIGTERM granian stops accepting connections and each worker finishes the requests it
    has; a worker still busy after this long is killed. Each write is one transaction, so a
    request cut off then is rolled back whole by PostgreSQL: nothing is half-applied.

    It is at least a second: granian reads 0 as no limit at all, and would then wait for a
    worker that never stops (one that got SIGTERM while still starting ignores it, README
    "Graceful shutdown") for as long as the worker lives.
    """
    seconds = int(os.environ.get("GRACEFUL_TIMEOUT", "10"))
    if seconds < 1:
        raise SystemExit(f"GRACEFUL_TIMEOUT must be at least 1 second, not {seconds}.")
    return seconds


def metrics_directory() -> tuple[Path, bool]:
    """Return the directory where the workers record their metrics (prometheus_client's
    multiprocess mode), emptied, and whether it was made here (and is removed at exit).

    PROMETHEUS_MULTIPROC_DIR when set, else a new temporary directory; the workers inherit
    the variable. Files left by an earlier run would add its counts to this one's.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        path = Path(tempfile.mkdtemp(prefix="scimserver-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        return path, True
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False


def log_config() -> dict | None:
    """Return granian's logging configuration: its own lines (start, workers) as JSON too when
    LOG_FORMAT=json, like the application's (provisioning/logs.py); else its default."""
    if os.environ.get("LOG_FORMAT", "text").strip().lower() != "json":
        return None
    formatter = {"()": "provisioning.logs.JSONFormatter"}
    return {"formatters": {"generic": formatter, "access": formatter}}


def main() -> None:
    directory, made_here = metrics_directory()
    try:
        serve()
    finally:
        if made_here:
            shutil.rmtree(directory, ignore_errors=True)


def serve() -> None:
    Granian(
        "scimserver.wsgi:application",
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        interface=Interfaces.WSGI,
        workers=workers(),
        # One request at a time per worker: a SCIM request is short and CPU-bound, and more
        # threads only added CPU per request (bench/README.md).
        blocking_threads=1,
        workers_kill_timeout=graceful_seconds(),
        respawn_failed_workers=True,
        log_level=LogLevels(os.environ.get("LOG_LEVEL", "INFO").lower()),
        log_dictconfig=log_config(),
    ).serve()


if __name__ == "__main__":
    main()
