"""The server as docker/compose.yaml deploys it: two application instances (granian servers)
behind a round-robin balancer, reaching one database through a real PgBouncer in transaction
mode (Debian's package, docker/pgbouncer/pgbouncer.ini), with DATABASE_PREPARED_STATEMENTS=false.

`live_server_url` is overridden here, and so are `app_database_url`, `app_env` and
`app_server`, by which tests start servers and webhook workers of their own: every test of
this directory, including those it imports from tests/live, runs against that deployment.
"""

import configparser
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import ROOT, _free_port, _wait_for, live_database_url, server_factory

PGBOUNCER_INI = ROOT / "docker" / "pgbouncer" / "pgbouncer.ini"
# The application's settings behind Debian 12's PgBouncer (1.18), as docker/compose.yaml sets them.
POOLED = {"DATABASE_PREPARED_STATEMENTS": "false"}


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if not found:
        pytest.fail("PgBouncer is not installed: apt-get install pgbouncer (scripts/test.sh does)")
    return found


@contextmanager
def pgbouncer(database_url: str):
    """Run PgBouncer with the deployment's settings on a free local port in front of the
    database of `database_url`; yield the URL of that database through it."""
    target = conninfo_to_dict(database_url)
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    config = configparser.ConfigParser()
    config.read(PGBOUNCER_INI)
    port = _free_port()
    host = target.get("host", "/var/run/postgresql")
    config["databases"] = {
        "*": f"host={host} port={target.get('port', 5432)}",
    }
    config["pgbouncer"].update(
        listen_addr="127.0.0.1",
        listen_port=str(port),
        # Trust from 127.0.0.1 in the test; the deployment's password goes on to the server.
        auth_type="trust",
        auth_file=str(directory / "userlist.txt"),
        logfile=str(directory / "pgbouncer.log"),
        admin_users=target.get("user", "postgres"),  # for SHOW POOLS
    )
    with (directory / "pgbouncer.ini").open("w") as file:
        config.write(file)
    user, password = target.get("user", "postgres"), target.get("password", "")
    (directory / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    # PgBouncer refuses to run as root; as root, it runs as PostgreSQL's system user.
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user:
        for path in (directory, *directory.iterdir()):
            shutil.chown(path, as_user)
    process = subprocess.Popen(
        [pgbouncer_binary(), str(directory / "pgbouncer.ini")], user=as_user, cwd=directory
    )
    try:
        _wait_for(port, process)
        credentials = quote(user) + (f":{quote(password)}" if password else "")
        yield f"postgresql://{credentials}@127.0.0.1:{port}/{target['dbname']}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


class RoundRobin:
    """A TCP balancer on a free local port: each connection goes to the next backend."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.turn = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            backend = self.backends[self.turn % len(self.backends)]
            self.turn += 1
            server = socket.create_connection(("127.0.0.1", backend))
            for sock in (client, server):  # pass each write on at once, as the peers wrote it
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="session")
def pgbouncer_url(django_db_setup) -> str:
    """The test database through PgBouncer in transaction mode."""
    with pgbouncer(live_database_url()) as url:
        yield url


@pytest.fixture(scope="session")
def app_database_url(pgbouncer_url) -> str:
    """Every server and worker process the tests start here goes through PgBouncer."""
    return pgbouncer_url


@pytest.fixture(scope="session")
def app_env() -> dict[str, str]:
    return POOLED


@pytest.fixture(scope="session")
def app_server(app_database_url, app_env):
    """Servers through PgBouncer: this directory's own, whichever directory runs first."""
    return server_factory(app_database_url, app_env)


@pytest.fixture(scope="session")
def instances(app_server) -> list[str]:
    """The base URLs of two application instances, both through PgBouncer."""
    with ExitStack() as stack:
        yield [stack.enter_context(app_server(workers=1))[0] for _ in range(2)]


@pytest.fixture(scope="session")
def live_server_url(instances) -> str:
    """Both instances behind one round-robin balancer: what a client of the deployment sees."""
    balancer = RoundRobin([int(url.rsplit(":", 1)[1]) for url in instances])
    yield f"http://127.0.0.1:{balancer.port}"
    balancer.close()
