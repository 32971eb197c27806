"""HTTP to the server under test: one request, the server and its preflight, and many requests
run in threads, bounded by a number and by a duration.
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2

from .results import Result
from .watch import ServerWatch

DEFAULT_BASE_URL = "http://127.0.0.1:8000/scim/v2"


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Reply:
    """One answer, or the transport error that stood in for it."""

    status: int | None
    body: object
    ms: float
    error: str = ""
    # The body's length in bytes, and the client's time to parse it as JSON (not in `ms`).
    size: int = 0
    parse_ms: float = 0.0

    @property
    def scim_type(self) -> str:
        return self.body.get("scimType", "") if isinstance(self.body, dict) else ""

    @property
    def ok(self) -> bool:
        """Tell whether this is a 200 with a JSON object, the answer to every GET here."""
        return self.status == 200 and isinstance(self.body, dict)

    def reason(self) -> str:
        """Return a short, countable description of a failed answer."""
        if self.status is None:
            return self.error
        if self.status == 200 and not isinstance(self.body, dict):
            return "HTTP 200 without a JSON object"
        return f"HTTP {self.status}" + (f" {self.scim_type}" if self.scim_type else "")

    def sample(self) -> str:
        """Return the failure with the server's detail, for the report."""
        detail = self.body.get("detail", "") if isinstance(self.body, dict) else ""
        text = " ".join(str(detail or self.body).split())
        return f"{self.reason()}: {text[:160]}"


class Server:
    """A SCIM service root on this machine, and a bearer token for it."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float, watch: ServerWatch | None = None
    ):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOCAL_HOSTS:
            raise SystemExit(
                f"scimbench: refusing to benchmark {base_url!r}: only http(s) servers on "
                f"{', '.join(sorted(LOCAL_HOSTS))} are accepted."
            )
        if not token:
            raise SystemExit("scimbench: no token; pass --token or set SCIM_TOKEN.")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.watch = watch or ServerWatch()

    def client(self, connections: int = 1) -> httpx2.Client:
        """Return a client with a pool of `connections`; proxies from the environment are
        ignored, since the target is always local."""
        return httpx2.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/scim+json",
            },
            timeout=self.timeout,
            limits=httpx2.Limits(
                max_connections=connections, max_keepalive_connections=connections
            ),
            trust_env=False,
            follow_redirects=False,
        )


def send(client: httpx2.Client, method: str, path: str, **kwargs) -> Reply:
    """Send one request and time it (until the whole body is read)."""
    started = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
    except httpx2.HTTPError as exc:
        return Reply(None, None, (time.perf_counter() - started) * 1000, type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    parse_started = time.perf_counter()
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text[:1000]
    parse_ms = (time.perf_counter() - parse_started) * 1000
    return Reply(response.status_code, body, ms, size=len(response.content), parse_ms=parse_ms)


def population(client: httpx2.Client) -> int:
    """Return how many users the server holds (`GET /Users?count=0`)."""
    reply = send(client, "GET", "/Users", params={"count": 0})
    if not reply.ok:
        raise SystemExit(f"scimbench: GET /Users?count=0 failed: {reply.sample()}")
    return int(reply.body.get("totalResults", 0))


def preflight(server: Server) -> dict:
    """Check that the server answers and accepts the token; return its ServiceProviderConfig."""
    with server.client() as client:
        reply = send(client, "GET", "/ServiceProviderConfig")
    if reply.status is None:
        raise SystemExit(f"scimbench: cannot reach {server.base_url}: {reply.error}")
    if reply.status == 401:
        raise SystemExit(f"scimbench: {server.base_url} rejected the token (401).")
    if not reply.ok:
        raise SystemExit(f"scimbench: GET /ServiceProviderConfig failed: {reply.sample()}")
    return reply.body


def filter_unsupported(reply: Reply) -> bool:
    """Tell whether the server refused a valid filter as a feature it does not have."""
    return reply.status == 501 or (reply.status == 400 and reply.scim_type == "invalidFilter")


def run_bounded(
    result: Result,
    tasks: Iterable,
    check: Callable[[httpx2.Client, object], None],
    *,
    server: Server,
    concurrency: int,
    duration: float,
    progress_every: float = 0.0,
) -> None:
    """Run `check(client, task)` for each task on `concurrency` threads until the tasks run
    out or `duration` seconds pass; `check` records into `result` itself."""
    task_iter = iter(tasks)
    lock = threading.Lock()
    stop = threading.Event()
    started = deadline = 0.0

    def worker(client: httpx2.Client) -> None:
        while not stop.is_set() and time.perf_counter() < deadline:
            with lock:
                task = next(task_iter, None)
            if task is None:
                return
            try:
                check(client, task)
            except Exception as exc:  # an answer the checks did not foresee: count it, go on
                result.fail(f"unexpected answer ({type(exc).__name__})", f"{task}: {exc}")

    # The server's CPU and statements are read around the requests, outside the timed part: a
    # scan of /proc takes tens of milliseconds on a busy machine.
    with (
        server.watch.measure(result),
        server.client(concurrency) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        started = time.perf_counter()
        deadline = started + duration
        futures = [pool.submit(worker, client) for _ in range(concurrency)]
        try:
            last_report = started
            while not all(f.done() for f in futures):
                time.sleep(0.05)
                now = time.perf_counter()
                if progress_every and now - last_report >= progress_every:
                    last_report = now
                    done = result.requests
                    print(
                        f"  {result.name}: {done} requests, {done / (now - started):.0f} req/s",
                        file=sys.stderr,
                        flush=True,
                    )
        except KeyboardInterrupt:
            stop.set()
            raise
        for future in futures:
            future.result()
        result.seconds = time.perf_counter() - started
    if time.perf_counter() >= deadline and next(task_iter, None) is not None:
        result.note = f"stopped at the {duration:g} s time bound"
