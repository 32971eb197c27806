"""What a client meets at the edges of HTTP, over a real socket to the server: requests it refuses
before the application sees them, chunked bodies, and a database that goes away and comes back.
Every answer the application gives under /scim/v2 is a SCIM error body (RFC 7644 §3.12), and
none is an HTML page."""

import contextlib
import json
import os
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import (
    ERROR_SCHEMA,
    SCIM_JSON,
    USER_SCHEMA,
    _free_port,
    group_body,
    live_database_url,
    serve,
    user_body,
)

pytestmark = pytest.mark.live


def exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the server (the request says `Connection: close`); return the status,
    headers and body of its answer."""
    address = urlsplit(base_url)
    received = b""
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    headers = _headers(head)
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return int(head.split(b" ", 2)[1]), headers, body


def _unchunk(body: bytes) -> bytes:
    decoded = b""
    while True:
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            return decoded
        decoded, body = decoded + rest[:length], rest[length + 2 :]


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def assert_scim_error_over_http(answer, status: int) -> dict:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"].startswith(SCIM_JSON), headers
    error = json.loads(body)
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == str(status)
    assert error["detail"]
    return error


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("GET", "/scim/v2/Users?filter=" + "a" * 100_000), 414),
        (request("GET", "/scim/v2/Users", *(f"X-Extra-{i}: 1" for i in range(150))), 431),
        (request("G(T", "/scim/v2/Users"), 400),
        (request("GET", "/scim/v2/Users", "X-Nul: a\x00b"), 400),
    ],
    ids=["huge-request-line", "many-headers", "malformed-method", "nul-in-header"],
)
def test_requests_that_are_not_http_are_refused_without_a_page(live_server_url, raw, status):
    """What the server cannot read as an HTTP request never reaches the application: granian
    answers with the status alone, an empty body (no HTML page), and closes the connection.
    The deployment's edge proxy gives these answers SCIM bodies (test_edge.py)."""
    got, headers, body = exchange(live_server_url, raw)

    assert got == status
    assert body == b""
    assert headers["connection"] == "close"


def test_long_requests_within_the_limits_reach_scim(live_server_url, live_client):
    """A long request line or a large header within the server's limits is the application's
    to answer, with SCIM error bodies: here a 9,000-character filter that is no filter."""
    token = live_client.headers["Authorization"]
    raw = request(
        "GET",
        "/scim/v2/Users?filter=" + "a" * 9000,
        f"Authorization: {token}",
        "X-Big: " + "b" * 9000,
    )

    error = assert_scim_error_over_http(exchange(live_server_url, raw), 400)

    assert error["scimType"] == "invalidFilter"


def test_host_not_allowed_is_a_scim_400(live_server_url, live_client):
    """Django refuses a Host outside ALLOWED_HOSTS; under /scim/v2 the answer is SCIM's."""
    raw = request("GET", "/scim/v2/Users").replace(b"Host: 127.0.0.1", b"Host: evil.example")

    error = assert_scim_error_over_http(exchange(live_server_url, raw), 400)

    assert "evil" not in error["detail"]


def chunked(payload: bytes, size: int = 7) -> bytes:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def chunked_post(live_client, payload: bytes, size: int) -> bytes:
    """Return a POST /Users of `payload` in chunks of `size` bytes, with the client's token."""
    return request(
        "POST",
        "/scim/v2/Users",
        f"Authorization: {live_client.headers['Authorization']}",
        f"Content-Type: {SCIM_JSON}",
        "Transfer-Encoding: chunked",
        body=chunked(payload, size),
    )


def test_chunked_body_is_read(live_server_url, live_client):
    """A body sent with Transfer-Encoding: chunked (RFC 9112 §7.1) is a body like any other."""
    payload = json.dumps({"schemas": [USER_SCHEMA], "userName": "chunky"}).encode()
    raw = chunked_post(live_client, payload, 7)

    status, _, body = exchange(live_server_url, raw)

    assert status == 201, body
    assert json.loads(body)["userName"] == "chunky"


def test_oversized_chunked_body_is_413(live_server_url, live_client):
    """The payload limit holds for chunked bodies too, though they announce no length."""
    payload = json.dumps(
        {"schemas": [USER_SCHEMA], "userName": "big", "displayName": "x" * (11 * 1024 * 1024)}
    ).encode()
    raw = chunked_post(live_client, payload, 1024 * 1024)

    assert_scim_error_over_http(exchange(live_server_url, raw), 413)
    assert (
        live_client.get("/Users", params={"filter": 'userName eq "big"'}).json()["totalResults"]
        == 0
    )


class Cable:
    """A TCP proxy in front of PostgreSQL that a test can cut and mend: the database going
    away and coming back, as the server's workers see it."""

    def __init__(self, database) -> None:
        host = unquote(database.netloc.rpartition("@")[2])
        if host.startswith("/"):  # a Unix socket directory, as `make test` sets it up
            self.family, self.address = socket.AF_UNIX, f"{host}/.s.PGSQL.5432"
        else:
            self.family, self.address = socket.AF_INET, (database.hostname, database.port or 5432)
        self.port = _free_port()
        self.connections: list[socket.socket] = []
        self.mend()

    def mend(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        # shutdown(), not close() alone: it wakes the threads blocked in accept() and recv().
        for sock in (self.listener, *self.connections):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(self.family)
            upstream.connect(self.address)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server_through_cable(live_client):
    """A second server whose database connections run through a `Cable`."""
    from django.db import connection

    database = urlsplit(os.environ["DATABASE_URL"])
    cable = Cable(database)
    user = f"{database.username}:{database.password}" if database.password else database.username
    url = f"postgresql://{user}@127.0.0.1:{cable.port}/{connection.settings_dict['NAME']}"
    try:
        with serve(url, workers=1) as base:
            yield base, cable
    finally:
        cable.cut()


def test_database_outage_is_503_then_recovers(server_through_cable, live_client):
    """While PostgreSQL cannot be reached every request is a 503 SCIM error with Retry-After;
    once it is back the same worker answers again, without a restart."""
    base, cable = server_through_cable
    token = live_client.headers["Authorization"]
    get = request("GET", "/scim/v2/Users?count=1", f"Authorization: {token}")
    assert exchange(base, get)[0] == 200

    cable.cut()
    for _ in range(3):
        answer = exchange(base, get)
        assert_scim_error_over_http(answer, 503)
        assert int(answer[1]["retry-after"]) > 0

    cable.mend()
    deadline = time.monotonic() + 10
    while exchange(base, get)[0] != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "path", ["/ServiceProviderConfig", "/Users?filter=userName%20eq%20%22bjensen%22"]
)
def test_revocation_holds_on_the_next_request_on_every_worker(live_client, tenant, path):
    """Once revoked, a token is refused by the very next request, whichever worker takes it,
    though every worker knows the token (a lookup then carries the token's check in its own
    statement) and has prepared its statements."""
    from provisioning import tokens

    token, secret = tokens.issue(tenant, name="to revoke")
    # A new connection per request, so the requests spread over the server's workers.
    headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}
    for _ in range(8):
        assert live_client.get(path, headers=headers).status_code == 200

    tokens.revoke(token)

    answers = [live_client.get(path, headers=headers) for _ in range(8)]
    assert [a.status_code for a in answers] == [401] * 8


def test_a_streamed_group_read_by_a_changed_token_leaves_its_worker_sound(live_client, tenant):
    """A group's members stream from a transaction that the response closes. When the check
    of a known token finds it changed after such a read (its last use due, revoked, its
    tenant changed), that answer is dropped and closed, its transaction with it: the worker
    (one, here) goes on answering the next requests, by any token."""
    import datetime as dt

    from provisioning import tokens
    from provisioning.models import Token

    user = live_client.post("/Users", json=user_body("bjensen")).json()
    group = live_client.post("/Groups", json=group_body("G", members=[{"value": user["id"]}]))
    _, other = tokens.issue(tenant, name="other")
    with serve(live_database_url(), workers=1) as base:
        for change in ("last use due", "revoked", "tenant changed"):
            token, secret = tokens.issue(tenant, name=change)
            read = request(
                "GET", f"/scim/v2/Groups/{group.json()['id']}", f"Authorization: Bearer {secret}"
            )
            assert exchange(base, read)[0] == 200  # the worker knows the token now
            if change == "last use due":
                earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
                Token.objects.filter(pk=token.pk).update(last_used_at=earlier)
            elif change == "revoked":
                tokens.revoke(token)
            else:
                tenant.name = f"{tenant.name}+"
                tenant.save()

            status = exchange(base, read)[0]
            assert status == (401 if change == "revoked" else 200), change
            users = request("GET", "/scim/v2/Users", f"Authorization: Bearer {other}")
            assert [exchange(base, users)[0] for _ in range(3)] == [200] * 3, change


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_the_database_dropped_costs_no_request(server_through_cable, tenant, method):
    """The first request after the database dropped a worker's connection (a restart, a
    failover) is answered on a new connection, not with a 503: a read, whose first statement
    carries its token's check, as well as a write."""
    from provisioning import tokens

    base, cable = server_through_cable
    _, secret = tokens.issue(tenant, name="cable")
    authorization = f"Authorization: Bearer {secret}"
    get = request("GET", "/scim/v2/Users?count=1", authorization)
    assert exchange(base, get)[0] == 200  # the worker knows the token and has a connection

    cable.cut()
    cable.mend()

    if method == "GET":
        assert exchange(base, get)[0] == 200
    else:
        body = json.dumps({"schemas": [USER_SCHEMA], "userName": "after-the-drop"}).encode()
        post = request(
            "POST",
            "/scim/v2/Users",
            authorization,
            f"Content-Type: {SCIM_JSON}",
            f"Content-Length: {len(body)}",
            body=body,
        )
        assert exchange(base, post)[0] == 201
