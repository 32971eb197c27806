"""A database outage that begins right after a write commits, over real HTTP (issue 8,
defect 2): the write succeeded, so its answer says so, built from what its transaction read.

The server reaches PostgreSQL here through `CutAfterCommit`, a proxy that drops each database
connection the moment PostgreSQL has confirmed a commit on it.
"""

import contextlib
import os
import socket
import struct
import tempfile
import threading
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx2
import pytest

from tests.conftest import USER_SCHEMA, group_body, patch_body

pytestmark = pytest.mark.live


def _receive(sock: socket.socket, size: int) -> bytes:
    """Return exactly `size` bytes from `sock`; raise ConnectionError at its end."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class CutAfterCommit:
    """A proxy on a Unix socket in front of PostgreSQL that closes a connection as soon as
    PostgreSQL has answered a commit sent on it (the ReadyForQuery after it, outside any
    transaction): to its client, the database is gone right after the write committed.

    A commit is a COMMIT, or a write that is a statement of its own outside a transaction (the
    storage layer sends a user's write, with its change record, so). It reads only the framing
    of the PostgreSQL protocol: a startup packet, then messages of a type byte and a length.
    psycopg sends COMMIT as a simple query ('Q'), other statements as Parse ('P'), with a name
    when prepared, and Bind ('B') naming the statement to run.
    """

    def __init__(self, database_url: str) -> None:
        url = urlsplit(database_url)
        credentials, at, location = url.netloc.rpartition("@")
        if unquote(location).startswith("/"):  # a socket directory, as `make test` uses
            self.upstream = (socket.AF_UNIX, f"{unquote(location)}/.s.PGSQL.5432")
        else:
            self.upstream = (socket.AF_INET, (url.hostname, url.port or 5432))
        self.directory = tempfile.mkdtemp()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(os.path.join(self.directory, ".s.PGSQL.5432"))
        self.listener.listen()
        self.cuts = 0
        self.url = urlunsplit(
            url._replace(netloc=f"{credentials}{at}{quote(self.directory, safe='')}")
        )
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        family, address = self.upstream
        server = socket.socket(family)
        server.connect(address)
        committed = threading.Event()
        threading.Thread(
            target=self._forward_queries, args=(client, server, committed), daemon=True
        ).start()
        with contextlib.suppress(OSError):  # either side may go first
            while True:
                header = _receive(server, 5)
                body = _receive(server, struct.unpack("!I", header[1:])[0] - 4)
                client.sendall(header + body)
                # ReadyForQuery's status: 'I' is outside a transaction.
                if header[:1] == b"Z" and body[:1] == b"I" and committed.is_set():
                    self.cuts += 1
                    break
        for sock in (client, server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @staticmethod
    def _forward_queries(client: socket.socket, server: socket.socket, committed) -> None:
        statements: dict[bytes, bytes] = {}  # prepared statements' SQL, by name
        with contextlib.suppress(OSError):  # closed by either side
            length = _receive(client, 4)
            server.sendall(length + _receive(client, struct.unpack("!I", length)[0] - 4))
            while True:
                header = _receive(client, 5)
                body = _receive(client, struct.unpack("!I", header[1:])[0] - 4)
                kind = header[:1]
                if kind == b"Q" and body.lstrip().upper().startswith(b"COMMIT"):
                    committed.set()
                elif kind == b"P":
                    name, query = body.split(b"\0")[:2]
                    statements[name] = query
                elif kind == b"B" and b"provisioning_changerecord" in statements.get(
                    body.split(b"\0")[1], b""
                ):
                    committed.set()  # a write; it commits now unless a transaction is open
                server.sendall(header + body)


@pytest.fixture
def cut_after_commit(live_client, app_database_url, app_server):
    """Return a client of a server whose database connections drop right after COMMIT,
    with the proxy, for the tenant of `live_client`."""
    proxy = CutAfterCommit(app_database_url)
    try:
        with (
            app_server(proxy.url, workers=1) as (url, _),
            httpx2.Client(
                base_url=f"{url}/scim/v2",
                headers={"Authorization": live_client.headers["Authorization"]},
                timeout=60,
            ) as client,
        ):
            yield client, proxy
    finally:
        proxy.close()


def _member_of_nested_groups(live_client) -> tuple[dict, dict, dict]:
    user = live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "alice"}).json()
    inner = live_client.post("/Groups", json=group_body("Inner", members=[{"value": user["id"]}]))
    outer = live_client.post(
        "/Groups", json=group_body("Outer", members=[{"value": inner.json()["id"]}])
    )
    return user, inner.json(), outer.json()


def test_writes_that_committed_are_answered_as_successes(live_client, cut_after_commit):
    """POST, PUT and PATCH of users and groups answer 200/201 with the resource, its `groups`
    and `members` included, though the database is gone once each has committed; each change
    is there afterwards."""
    client, proxy = cut_after_commit
    user, inner, outer = _member_of_nested_groups(live_client)
    groups = [(inner["id"], "direct"), (outer["id"], "indirect")]

    patched = client.patch(
        f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "A"})
    )
    replaced = client.put(
        f"/Users/{user['id']}", json={"schemas": [USER_SCHEMA], "userName": "alice", "title": "B"}
    )
    created = client.post("/Groups", json=group_body("New", members=[{"value": user["id"]}]))
    renamed = client.patch(
        f"/Groups/{inner['id']}",
        params={"attributes": "members"},
        json=patch_body({"op": "replace", "path": "displayName", "value": "Renamed"}),
    )

    assert [r.status_code for r in (patched, replaced, created, renamed)] == [200, 200, 201, 200]
    assert proxy.cuts >= 4
    for answer, title in ((patched, "A"), (replaced, "B")):
        assert answer.json()["title"] == title
        assert [(g["value"], g["type"]) for g in answer.json()["groups"]] == groups
    for answer in (created, renamed):
        assert [m["value"] for m in answer.json()["members"]] == [user["id"]]
    fetched = live_client.get(f"/Users/{user['id']}").json()
    assert fetched["title"] == "B"
    assert {g["display"] for g in fetched["groups"]} == {"New", "Renamed", "Outer"}
