"""Shared fixtures. Fixtures are factories where a test may want several of a thing."""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest
from django.test import Client

from provisioning import tokens
from provisioning.models import Tenant

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """Give each test run a database of its own, so runs side by side do not collide."""
    from django.conf import settings

    default = settings.DATABASES["default"]
    default["TEST"] = {**default.get("TEST", {}), "NAME": f"test_{default['NAME']}_{os.getpid()}"}


@pytest.fixture
def make_tenant(db):
    """Return a factory of tenants with distinct slugs."""
    counter = iter(range(1, 10_000))

    def make(slug: str | None = None) -> Tenant:
        slug = slug or f"tenant-{next(counter)}"
        return Tenant.objects.create(slug=slug, name=slug.title())

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant("acme")


class SCIMClient(Client):
    """An API client that speaks application/scim+json under /scim/v2 with a bearer token."""

    base = "/scim/v2"

    def __init__(self, secret: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if secret:
            self.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"

    def _url(self, path: str) -> str:
        return path if path.startswith("/scim/") else f"{self.base}{path}"

    def get(self, path, data=None, **extra):
        return super().get(self._url(path), data, HTTP_ACCEPT=SCIM_JSON, **extra)

    def delete(self, path, **extra):
        return super().delete(self._url(path), HTTP_ACCEPT=SCIM_JSON, **extra)

    def _send(self, method, path, body, **extra):
        """Send `body` as JSON; a str or bytes body is sent as it is (for malformed input)."""
        extra.setdefault("content_type", SCIM_JSON)
        extra.setdefault("HTTP_ACCEPT", SCIM_JSON)
        if not isinstance(body, str | bytes):
            body = json.dumps(body)
        return getattr(super(), method)(self._url(path), body, **extra)

    def post(self, path, body=None, **extra):
        return self._send("post", path, body, **extra)

    def put(self, path, body=None, **extra):
        return self._send("put", path, body, **extra)

    def patch(self, path, body=None, **extra):
        return self._send("patch", path, body, **extra)


@pytest.fixture
def make_client(db):
    """Return a factory of SCIM clients authenticated as a (new) token of a tenant."""

    def make(tenant: Tenant) -> SCIMClient:
        _, secret = tokens.issue(tenant, name="test")
        return SCIMClient(secret)

    return make


@pytest.fixture
def scim(make_client, tenant) -> SCIMClient:
    """A SCIM client of the `acme` tenant."""
    return make_client(tenant)


@pytest.fixture
def anonymous(db) -> SCIMClient:
    """A SCIM client without credentials."""
    return SCIMClient()


def user_body(user_name: str = "bjensen", **attributes) -> dict:
    """Return a minimal User creation body with extra attributes."""
    return {"schemas": [USER_SCHEMA], "userName": user_name, **attributes}


@pytest.fixture
def make_user(scim):
    """Return a factory that creates users through the API and returns their JSON."""

    def make(user_name: str = "bjensen", client: SCIMClient | None = None, **attributes) -> dict:
        response = (client or scim).post("/Users", user_body(user_name, **attributes))
        assert response.status_code == 201, response.content
        return response.json()

    return make


def assert_scim_error(
    response, status: int, scim_type: str | None = None, detail: str | None = None
):
    """Assert that `response` is a SCIM error (RFC 7644 §3.12) with this status and scimType."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert isinstance(body["detail"], str) and body["detail"]
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    return body


GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def group_body(display_name: str = "Tour Guides", **attributes) -> dict:
    """Return a Group creation body with extra attributes."""
    return {"schemas": [GROUP_SCHEMA], "displayName": display_name, **attributes}


def patch_body(*operations: dict) -> dict:
    """Return a PatchOp body (RFC 7644 §3.5.2) with these operations."""
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


@pytest.fixture
def make_group(scim):
    """Return a factory that creates groups through the API and returns their JSON."""

    def make(
        display_name: str = "Tour Guides", client: SCIMClient | None = None, **attributes
    ) -> dict:
        response = (client or scim).post("/Groups", group_body(display_name, **attributes))
        assert response.status_code == 201, response.content
        return response.json()

    return make


def streamed_json(response) -> dict:
    """Return the JSON body of a response, streamed or not."""
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


# --- The real server: granian (scimserver/server.py) serving the test database over HTTP ---

ROOT = Path(__file__).resolve().parents[1]


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


def live_database_url() -> str:
    """Return the URL of the test database (the one pytest-django created)."""
    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


@contextmanager
def serve(database_url: str, *, workers: int = 2, env: dict | None = None, log=None):
    """Run the server as `make run` does, on a free local port against `database_url`, with
    `env` added to its environment and its output to `log` (a file); yield its base URL."""
    with server_process(database_url, workers=workers, env=env, log=log) as (url, _):
        yield url


@contextmanager
def server_process(
    database_url: str,
    *,
    workers: int = 2,
    env: dict | None = None,
    log=None,
    own_group: bool = False,
):
    """Like `serve`, but yield the base URL and the server's main process; with `own_group`,
    the server and its workers are a process group of their own (whose id is the main
    process's), which a test may signal as a whole without signalling itself."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scimserver.server"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            **(env or {}),
        },
        stdout=log,
        stderr=log,
        start_new_session=own_group,
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def app_database_url(django_db_setup) -> str:
    """The URL by which the processes of the application that live tests start (servers, the
    webhook worker) reach the test database: the database itself here. tests/live/pgbouncer
    overrides it, and `app_env`, so that the tests it runs again go through PgBouncer."""
    return live_database_url()


@pytest.fixture(scope="session")
def app_env() -> dict[str, str]:
    """More environment of those processes (none here; PgBouncer's needs one)."""
    return {}


@pytest.fixture(scope="session")
def app_server(app_database_url, app_env):
    """Return a factory of servers (`server_process`) on the test database, reached as
    `app_database_url` or the `database_url` given says."""
    return server_factory(app_database_url, app_env)


def server_factory(app_database_url: str, app_env: dict[str, str]):
    """Return `app_server`'s factory for servers that reach the database as given.

    tests/live/pgbouncer defines an `app_server` of its own with it: a session fixture is made
    once, with the overrides of the directory that first asks for it, so overriding only
    `app_database_url` would send one directory's servers the other's way.
    """

    def start(
        database_url: str | None = None, *, workers: int = 2, env=None, log=None, own_group=False
    ):
        env = {**app_env, **(env or {})}
        return server_process(
            database_url or app_database_url, workers=workers, env=env, log=log, own_group=own_group
        )

    return start


@pytest.fixture(scope="session")
def live_server_url(django_db_setup) -> str:
    """Start the server (two workers, as `make run` serves) on the test database; return its
    base URL.

    It depends on `django_db_setup` so it stops before the test database is dropped.
    """
    with serve(live_database_url()) as url:
        yield url


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
