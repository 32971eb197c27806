"""The real server: granian (scimserver/server.py) serving the project over HTTP against the test database."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest

from provisioning import tokens

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start listening in time")


@pytest.fixture(scope="session")
def live_server_url(django_db_setup) -> str:
    """Start the server (as `make run` does, with two workers) on the test database; return its
    base URL.

    It depends on `django_db_setup` so it stops before the test database is dropped.
    """
    from django.db import connection

    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path=f"/{connection.settings_dict['NAME']}"
    )
    port = _free_port()
    process = subprocess.Popen(
        # scimserver/server.py, as `make run` serves, with two workers.
        [sys.executable, "-m", "scimserver.server"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": urlunsplit(database),
            "LOG_LEVEL": "WARNING",
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
        },
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def live_client(live_server_url, transactional_db, tenant):
    """Return an httpx2 client for the live server's SCIM root, with a token of `tenant`.

    The test's rows are committed (transactional_db) so that the server's workers see them.
    """
    _, secret = tokens.issue(tenant, name="live")
    with httpx2.Client(
        base_url=f"{live_server_url}/scim/v2",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
        limits=httpx2.Limits(max_connections=100),
    ) as client:
        yield client
