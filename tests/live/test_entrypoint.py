"""docker/entrypoint.sh's commands run here as the image runs them, against a new, empty
database of the local PostgreSQL (no Docker engine is needed): `migrate` makes the schema and
the secret key and prints a first token once (a later one applies SCIM_BOOTSTRAP_TOKEN),
`serve` answers to those tokens, `worker` serves its metrics, and each stops on SIGTERM."""

import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager

import httpx2
import pytest
from django.db import connection

from tests.conftest import ROOT, _free_port, _wait_for, live_database_url

pytestmark = pytest.mark.live

ENTRYPOINT = str(ROOT / "docker" / "entrypoint.sh")


@pytest.fixture
def empty_database(django_db_setup, django_db_blocker):
    """Return the URL of a new database without any table; drop it afterwards."""
    name = f"{connection.settings_dict['NAME']}_entrypoint"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield live_database_url().rsplit("/", 1)[0] + f"/{name}"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def environment(database_url: str, tmp_path, **extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "SCIM_BOOTSTRAP_TOKEN", "PROMETHEUS_MULTIPROC_DIR")
    }
    return {
        **env,
        # `python` is the project's, as in the image.
        "PATH": f"{os.path.dirname(sys.executable)}:{env['PATH']}",
        "DATABASE_URL": database_url,
        "SECRET_KEY_FILE": str(tmp_path / "secret_key"),
        **extra,
    }


def entrypoint(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", ENTRYPOINT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@contextmanager
def running(env: dict, port: int, *args: str):
    process = subprocess.Popen(["sh", ENTRYPOINT, *args], cwd=ROOT, env=env)
    try:
        _wait_for(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_migrate_then_serve_and_work_from_an_empty_database(empty_database, tmp_path):
    env = environment(empty_database, tmp_path, METRICS_TOKEN="entrypoint-metrics-token")
    migrated = entrypoint(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    (token,) = migrated.stdout.split()
    assert re.fullmatch(r"scim_[\w-]{43}", token)
    assert "First start" in migrated.stderr
    key = tmp_path / "secret_key"
    assert len(key.read_text().strip()) > 50 and key.stat().st_mode & 0o777 == 0o600

    # The next deployment's migrate, now with a chosen token: applied, never printed.
    chosen = "b" * 40
    again = entrypoint({**env, "SCIM_BOOTSTRAP_TOKEN": chosen}, "migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Bootstrap token bootstrap… is valid for tenant 'default'.\n"
    assert chosen not in again.stderr

    port = _free_port()
    with running({**env, "PORT": str(port), "WEB_CONCURRENCY": "1"}, port):  # the default: serve
        base = f"http://127.0.0.1:{port}"
        assert httpx2.get(f"{base}/health/ready").status_code == 200
        for secret in (token, chosen):
            users = httpx2.get(
                f"{base}/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"}
            )
            assert users.status_code == 200 and users.json()["totalResults"] == 0

    metrics_port = _free_port()
    with running(env, metrics_port, "worker", "--metrics-port", str(metrics_port)):
        scrape = httpx2.get(
            f"http://127.0.0.1:{metrics_port}/metrics",
            headers={"Authorization": "Bearer entrypoint-metrics-token"},
        )
        assert scrape.status_code == 200
        assert "scim_webhook_backlog_events 0.0" in scrape.text
        unauthorized = httpx2.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert unauthorized.status_code == 401


def test_serve_needs_a_secret_key_and_an_unknown_command_is_refused(tmp_path):
    env = environment("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    refused = entrypoint(env, "serve")
    assert refused.returncode == 1
    assert "is missing; run migrate first" in refused.stderr
    unknown = entrypoint({**env, "SECRET_KEY": "x"}, "shell")
    assert unknown.returncode == 64 and unknown.stderr.startswith("usage: ")
