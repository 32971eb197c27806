#!/usr/bin/env python3
"""Benchmark a SCIM 2.0 server over real HTTP: seed Users, then time lookups by userName,
random offset pages, RFC 9865 cursor paging, full exports and substring searches.

Standalone: the standard library and `httpx2` only. `bench/run.sh` runs the whole thing against
a throwaway server; `scimbench.py SUBCOMMAND --help` describes each step. Only servers on this
machine (127.0.0.1, localhost, ::1) are accepted as targets.

Every loop is bounded twice: by a number of requests and by a duration. Every answer that is
not what SCIM promises (a non-2xx status, a wrong totalResults, a user missing from an export)
is counted and reported, and makes the exit status 1. A feature the server refuses as not
implemented (`filter=` answered with 400 invalidFilter, `cursor=` with 400) is reported as
"not supported" and is not a failure.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:
    import httpx2
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit(
        "scimbench: the 'httpx2' package is missing; run it with the project's virtualenv "
        "(.venv/bin/python bench/scimbench.py) or `pip install httpx2`."
    )

DEFAULT_BASE_URL = "http://127.0.0.1:8000/scim/v2"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
RESULTS_DIR = Path(__file__).resolve().parent / "results"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PAGE_SIZE = 100
EXPORT_LARGE_PAGE_SIZE = 1000
# How many failure details (status, scimType, detail) to keep per operation for the report.
SAMPLES_KEPT = 5


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN_NAMES = _words(
    """
    Aaliyah Aiden Akira Alejandro Amara Ana Andrei Anika Arjun Ava Beatriz Benjamin Carlos
    Chen Chloe Daniel Dmitri Elena Emeka Emma Fatima Felix Grace Hana Hiroshi Ibrahim Ingrid
    Isabella Jamal Javier Kai Kenji Laila Liam Lucia Mateo Maya Mei Mohammed Nadia Noah Olga
    Omar Priya Rafael Sakura Samuel Sofia Tariq Wei Yusuf Zoe
    """
)
FAMILY_NAMES = _words(
    """
    Abara Adams Ahmed Alvarez Andersen Baker Bianchi Brown Campbell Castillo Chen Cohen
    Costa Dubois Edwards Evans Fernandez Fischer Garcia Gonzalez Haddad Hansen Hernandez Ito
    Ivanova Jackson Jensen Johnson Kim Kowalski Kumar Larsen Lee Lopez Martin Martinez Meyer
    Miller Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Park Patel Petrov Quinn Rossi
    Sato Schmidt Silva Singh Smith Sousa Tanaka Taylor Thompson Walker Wang Williams Wilson
    Yamamoto Young Zhang
    """
)
DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Legal",
    "Customer Success",
    "Operations",
    "Product",
    "IT",
)
OKTA_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- The users the benchmark creates -------------------------------------------------------


def user_name(i: int) -> str:
    """Return the userName of seeded user number `i` (1-based)."""
    return f"user{i:06d}@example.com"


def user_document(i: int) -> dict:
    """Return the body Okta would POST to create seeded user number `i`.

    The body depends on `i` alone, so that a resumed or repeated seeding sends the same users.
    """
    rng = random.Random(f"scimbench-user-{i}")
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    name = user_name(i)
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": "00u" + "".join(rng.choice(OKTA_ID_ALPHABET) for _ in range(17)),
        "active": rng.random() < 0.95,
        ENTERPRISE_SCHEMA: {
            "employeeNumber": f"E{i:07d}",
            "department": rng.choice(DEPARTMENTS),
        },
    }


# --- Measurements --------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Return the `fraction` percentile of `sorted_values`, interpolating between ranks."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


@dataclass
class Result:
    """What one operation measured: latencies of good answers, counted failures, wall time."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: collections.Counter = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    supported: bool = True
    # Why the operation stopped early, or why it did not run.
    note: str = ""
    # Operation-specific figures (created/skipped users, export verification, ...).
    extra: dict = field(default_factory=dict)
    # The server's side (ServerWatch): CPU seconds per process tree (--server-pid), and the
    # sql= of each request line it logged (--server-log); None when not measured.
    server_cpu_s: dict[str, float] | None = None
    sql: list[int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, ms: float) -> None:
        with self._lock:
            self.latencies_ms.append(ms)

    def fail(self, reason: str, sample: str = "") -> None:
        with self._lock:
            self.failures[reason] += 1
            if sample and len(self.samples) < SAMPLES_KEPT:
                self.samples.append(sample)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.failed

    @property
    def throughput(self) -> float | None:
        return self.requests / self.seconds if self.seconds > 0 else None

    def server_cpu_ms(self) -> dict[str, float] | None:
        """Return the server's CPU milliseconds per request: in total, and per process tree."""
        if self.server_cpu_s is None or not self.requests:
            return None
        per_tree = {k: 1000 * v / self.requests for k, v in self.server_cpu_s.items()}
        return {"total": sum(per_tree.values()), **per_tree}

    def sql_per_request(self) -> dict | None:
        """Return the mean and max of the SQL statements the server logged per request."""
        if not self.sql:
            return None
        return {"mean": sum(self.sql) / len(self.sql), "max": max(self.sql), "lines": len(self.sql)}

    def quantiles(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies_ms)
        return {
            "p50": percentile(ordered, 0.50),
            "p95": percentile(ordered, 0.95),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else None,
        }

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "supported": self.supported,
            "requests": self.requests,
            "failed": self.failed,
            "failures": dict(self.failures),
            "failure_samples": self.samples,
            "seconds": round(self.seconds, 3),
            "throughput_rps": _round(self.throughput),
            "latency_ms": {k: _round(v) for k, v in self.quantiles().items()},
            "server_cpu_ms_per_request": _round_values(self.server_cpu_ms()),
            "sql_per_request": _round_values(self.sql_per_request()),
            "note": self.note,
            **self.extra,
        }

    def summary(self) -> str:
        if not self.supported:
            return f"{self.name}: {self.note}"
        q = self.quantiles()
        line = (
            f"{self.name}: {self.requests} requests in {self.seconds:.2f} s, "
            f"{_fmt(self.throughput)} req/s, p50 {_fmt(q['p50'])} ms, "
            f"p95 {_fmt(q['p95'])} ms, p99 {_fmt(q['p99'])} ms, {self.failed} failed"
        )
        cpu, sql = self.server_cpu_ms(), self.sql_per_request()
        if cpu:
            trees = ", ".join(f"{k} {_fmt(v)}" for k, v in cpu.items() if k != "total")
            line += f"; server CPU {_fmt(cpu['total'])} ms/request ({trees})"
        if sql:
            line += f"; SQL {sql['mean']:.1f}/request (max {sql['max']})"
        if self.note:
            line += f" ({self.note})"
        for reason, count in self.failures.most_common():
            line += f"\n  failed: {count} x {reason}"
        for sample in self.samples:
            line += f"\n  e.g. {sample}"
        return line


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _round_values(values: dict | None) -> dict | None:
    return None if values is None else {k: _round(v) for k, v in values.items()}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


# --- The server's side: CPU time and SQL statements ----------------------------------------

# One request log line of the server (provisioning/middleware.py, format of settings.LOGGING):
# `... provisioning.requests GET /scim/v2/Users 200 3.1ms tenant=default sql=3`.
SERVER_LOG_LINE = re.compile(
    r"^\S+ \S+ \w+ provisioning\.requests (?P<method>[A-Z]+) (?P<path>\S+) "
    r"(?P<status>\d{3}) (?P<ms>[0-9.]+)ms\b(?: tenant=\S+)?(?: sql=(?P<sql>\d+))?"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_table() -> dict[int, tuple[int, int]]:
    """Return the parent pid and CPU clock ticks of every process (Linux /proc).

    The ticks are the process's own (utime, stime) and those of the children it has waited for
    (cutime, cstime): a PostgreSQL backend or an autovacuum worker that ends during an operation
    is gone from /proc by its end, and its time is then in its parent's.
    """
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:  # ended since the listing
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after the name, which may hold spaces
        table[int(name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def tree_cpu_seconds(roots: Iterable[int]) -> dict[int, float]:
    """Return the CPU seconds of each root process and all its descendants alive now.

    Descendants are found by parent pid over all of /proc: `/proc/PID/task/*/children` would be
    shorter, but kernels built without CONFIG_PROC_CHILDREN (this machine's) lack it.
    """
    table = process_table()
    children = collections.defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    seconds = {}
    for root in roots:
        if root not in table:
            continue
        ticks, stack = 0, [root]
        while stack:
            pid = stack.pop()
            ticks += table[pid][1]
            stack.extend(children[pid])
        seconds[root] = ticks / CLOCK_TICKS
    return seconds


def logged_statements(log_path: Path, offset: int) -> list[int]:
    """Return the `sql=` of each request line the server logged after byte `offset`."""
    counts = []
    with log_path.open("rb") as log:
        log.seek(offset)
        for raw in log:
            match = SERVER_LOG_LINE.match(raw.decode("utf-8", "replace"))
            if match and match["sql"] is not None and raw.endswith(b"\n"):
                counts.append(int(match["sql"]))
    return counts


@dataclass
class ServerWatch:
    """The server's processes and log, read before and after an operation's requests: the CPU
    time the server spent on them, and the SQL statements it counted per request."""

    # Roots of the server's process trees: the server's main process, PostgreSQL's postmaster.
    pids: tuple[int, ...] = ()
    log: Path | None = None
    names: dict[int, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for pid in self.pids:
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                raise SystemExit(f"scimbench: --server-pid {pid}: no such process.") from None
            self.names[pid] = name if name not in self.names.values() else f"{name} {pid}"

    @contextlib.contextmanager
    def measure(self, result: Result, *, log: bool = True):
        """Set `result.server_cpu_s` and (with `log`) `result.sql` from what the server did
        while the block ran. The block should hold only the operation's requests."""
        cpu = tree_cpu_seconds(self.pids) if self.pids else None
        log_path = self.log if log and self.log and self.log.exists() else None
        offset = log_path.stat().st_size if log_path else 0
        yield
        if cpu is not None:
            end = tree_cpu_seconds(self.pids)
            # A root that ended (the server stopped) has no figure.
            result.server_cpu_s = {
                self.names[pid]: end[pid] - cpu[pid]
                for pid in self.pids
                if pid in cpu and pid in end
            }
        if log_path:
            # The server writes a request's line before its answer: no line is still to come.
            result.sql = logged_statements(log_path, offset)


# --- HTTP ----------------------------------------------------------------------------------


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


# --- Running many requests ------------------------------------------------------------------


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


# --- Operations ------------------------------------------------------------------------------


def seed(server: Server, *, users: int, start: int, concurrency: int, duration: float) -> Result:
    """Create users `start`..`users` with `POST /Users`; a 409 (already there) is skipped."""
    result = Result("seed")
    counts = collections.Counter()

    def check(client, i):
        reply = send(client, "POST", "/Users", json=user_document(i))
        if reply.status == 201:
            result.ok(reply.ms)
            counts["created"] += 1
        elif reply.status == 409:
            result.ok(reply.ms)
            counts["skipped"] += 1
        else:
            result.fail(reply.reason(), f"{user_name(i)}: {reply.sample()}")

    run_bounded(
        result,
        range(start, users + 1),
        check,
        server=server,
        concurrency=concurrency,
        duration=duration,
        progress_every=10,
    )
    result.extra = {
        "created": counts["created"],
        "skipped_existing": counts["skipped"],
        "users_per_s": _round(counts["created"] / result.seconds if result.seconds else None),
    }
    return result


def lookup(
    server: Server,
    rng: random.Random,
    *,
    users: int,
    requests: int,
    concurrency: int,
    duration: float,
) -> Result:
    """Look users up by userName, as an IdP does before it creates or updates one."""
    result = Result("lookup")

    def check(client, i):
        expected = user_name(i)
        reply = send(client, "GET", "/Users", params={"filter": f'userName eq "{expected}"'})
        if not reply.ok:
            result.fail(reply.reason(), reply.sample())
            return
        total = reply.body.get("totalResults")
        resources = reply.body.get("Resources") or []
        if total != 1 or len(resources) != 1:
            result.fail(
                "totalResults is not 1",
                f"{expected}: totalResults {total}, {len(resources)} resources",
            )
        elif str(resources[0].get("userName", "")).lower() != expected:
            result.fail("wrong user", f"{expected}: got {resources[0].get('userName')!r}")
        else:
            result.ok(reply.ms)

    if not _probe_filter(server, result, 'userName eq "' + user_name(1) + '"'):
        return result
    tasks = [rng.randint(1, users) for _ in range(requests)]
    run_bounded(result, tasks, check, server=server, concurrency=concurrency, duration=duration)
    return result


def pages(
    server: Server,
    rng: random.Random,
    *,
    users: int,
    requests: int,
    concurrency: int,
    duration: float,
) -> Result:
    """Fetch pages of 100 users at random offsets (`startIndex=K&count=100`)."""
    result = Result("pages")

    def check(client, start_index):
        reply = send(
            client, "GET", "/Users", params={"startIndex": start_index, "count": PAGE_SIZE}
        )
        if not reply.ok:
            result.fail(reply.reason(), reply.sample())
            return
        expected = max(0, min(PAGE_SIZE, users - start_index + 1))
        got = len(reply.body.get("Resources") or [])
        if got != expected or reply.body.get("itemsPerPage", got) != got:
            result.fail(
                "wrong page size",
                f"startIndex {start_index}: {got} resources, itemsPerPage "
                f"{reply.body.get('itemsPerPage')}, expected {expected}",
            )
        else:
            result.ok(reply.ms)

    tasks = [rng.randint(1, users) for _ in range(requests)]
    run_bounded(result, tasks, check, server=server, concurrency=concurrency, duration=duration)
    return result


def search(
    server: Server, rng: random.Random, *, requests: int, concurrency: int, duration: float
) -> Result:
    """Search by family-name prefix and email fragment; check every match really matches."""
    result = Result("search")
    matches: list[int] = []
    matches_lock = threading.Lock()

    def check(client, task):
        prefix, fragment = task
        reply = send(
            client,
            "GET",
            "/Users",
            params={
                "filter": f'name.familyName sw "{prefix}" and emails co "{fragment}"',
                "count": PAGE_SIZE,
            },
        )
        if not reply.ok:
            result.fail(reply.reason(), reply.sample())
            return
        resources = reply.body.get("Resources") or []
        for resource in resources:
            family = str((resource.get("name") or {}).get("familyName", ""))
            emails = [str(e.get("value", "")) for e in resource.get("emails") or []]
            if not family.lower().startswith(prefix.lower()) or not any(
                fragment.lower() in email.lower() for email in emails
            ):
                result.fail(
                    "resource does not match the filter",
                    f"sw {prefix!r} co {fragment!r}: got {family!r} {emails}",
                )
                return
        if len(resources) > PAGE_SIZE or reply.body.get("totalResults", 0) < len(resources):
            result.fail("inconsistent ListResponse", f"sw {prefix!r} co {fragment!r}")
            return
        result.ok(reply.ms)
        with matches_lock:
            matches.append(reply.body.get("totalResults", 0))

    if not _probe_filter(server, result, 'name.familyName sw "A" and emails co "example.com"'):
        return result
    tasks = [(_family_prefix(rng), _email_fragment(rng)) for _ in range(requests)]
    run_bounded(result, tasks, check, server=server, concurrency=concurrency, duration=duration)
    if matches:
        result.extra["total_results_median"] = percentile(sorted(matches), 0.5)
    return result


def _family_prefix(rng: random.Random) -> str:
    """Return 1 to 3 leading letters of a family name, in a random case."""
    prefix = rng.choice(FAMILY_NAMES)[: rng.randint(1, 3)]
    return prefix.lower() if rng.random() < 0.3 else prefix


def _email_fragment(rng: random.Random) -> str:
    """Return a fragment of a seeded email, from very common to rare."""
    kind = rng.randrange(4)
    if kind == 0:
        return "example.com"
    if kind == 1:
        return f"user0{rng.randint(0, 9)}"
    if kind == 2:
        return f"{rng.randint(0, 99):02d}@"
    return f"{rng.randint(0, 999):03d}"


def _probe_filter(server: Server, result: Result, filter_: str) -> bool:
    """Send one filter request; when the server has no filtering, mark `result` unsupported."""
    with server.client() as client:
        reply = send(client, "GET", "/Users", params={"filter": filter_, "count": 1})
    if filter_unsupported(reply):
        result.supported = False
        result.note = f"filter not supported by server ({reply.sample()})"
        return False
    return True


def walk_cursor(
    server: Server, result: Result, *, max_pages: int, duration: float, page_size: int = PAGE_SIZE
) -> dict:
    """Follow `nextCursor` from `cursor=` to the end (RFC 9865); return ids seen and totals.

    A 400 to the first request, or a first page without `nextCursor` although more users
    exist, means the server does not do cursor paging: `result` is marked unsupported.
    """
    seen: collections.Counter = collections.Counter()
    total = None
    params = {"count": page_size, "cursor": ""}
    with server.watch.measure(result), server.client() as client:
        started = time.perf_counter()
        for page_number in range(max_pages):
            if time.perf_counter() - started > duration:
                result.note = f"stopped at the {duration:g} s time bound"
                break
            reply = send(client, "GET", "/Users", params=params)
            if page_number == 0 and reply.status in (400, 501):
                result.supported = False
                result.note = f"cursor paging: not supported by server ({reply.sample()})"
                return {}
            if not reply.ok:
                result.fail(reply.reason(), reply.sample())
                break
            resources = reply.body.get("Resources") or []
            next_cursor = reply.body.get("nextCursor")
            if page_number == 0:
                total = reply.body.get("totalResults")
                if not next_cursor and total is not None and total > len(resources):
                    result.supported = False
                    result.note = (
                        "cursor paging: not supported by server (it ignored `cursor` and "
                        "sent no nextCursor)"
                    )
                    return {}
            result.ok(reply.ms)
            seen.update(r.get("id") for r in resources)
            if not next_cursor:
                break
            params = {"count": page_size, "cursor": next_cursor}
        else:
            result.note = f"stopped at the {max_pages} pages bound"
        result.seconds = time.perf_counter() - started
    return {"seen": seen, "total": total}


def walk_index(
    server: Server, result: Result, *, max_pages: int, duration: float, page_size: int = PAGE_SIZE
) -> dict:
    """Page through all users with `startIndex`/`count`; return ids seen and totals."""
    seen: collections.Counter = collections.Counter()
    total = None
    start_index = 1
    with server.watch.measure(result), server.client() as client:
        started = time.perf_counter()
        for _ in range(max_pages):
            if time.perf_counter() - started > duration:
                result.note = f"stopped at the {duration:g} s time bound"
                break
            reply = send(
                client, "GET", "/Users", params={"startIndex": start_index, "count": page_size}
            )
            if not reply.ok:
                result.fail(reply.reason(), reply.sample())
                break
            result.ok(reply.ms)
            resources = reply.body.get("Resources") or []
            if total is None:
                total = reply.body.get("totalResults")
            seen.update(r.get("id") for r in resources)
            start_index += len(resources)
            if not resources or start_index > (total or 0):
                break
        else:
            result.note = f"stopped at the {max_pages} pages bound"
        result.seconds = time.perf_counter() - started
    return {"seen": seen, "total": total}


def cursor(server: Server, *, users: int, duration: float) -> Result:
    """Time each page of a cursor walk over all users."""
    result = Result("cursor")
    walk_cursor(server, result, max_pages=_max_pages(users), duration=duration)
    return result


def export(server: Server, *, users: int, duration: float) -> list[Result]:
    """Export every user, by startIndex pages and by cursor pages when the server has them;
    verify that each user is seen exactly once."""
    results = []
    # Okta's page size, and the server's largest (filter.maxResults).
    for page_size in (PAGE_SIZE, EXPORT_LARGE_PAGE_SIZE):
        for kind, walk in (("startIndex", walk_index), ("cursor", walk_cursor)):
            result = Result(f"export ({kind}, {page_size}/page)")
            walked = walk(
                server,
                result,
                max_pages=_max_pages(users, page_size),
                duration=duration,
                page_size=page_size,
            )
            if result.supported:
                _verify_export(result, walked)
            results.append(result)
    return results


def _max_pages(users: int, page_size: int = PAGE_SIZE) -> int:
    """Return a page bound for a full walk: every page, and some slack for concurrent creates."""
    return math.ceil(users / page_size) + 10


def _verify_export(result: Result, walked: dict) -> None:
    seen, total = walked["seen"], walked["total"]
    distinct = len(seen)
    repeated = sum(n - 1 for n in seen.values() if n > 1)
    exact = not result.failed and not result.note and total == distinct and repeated == 0
    # A walk cut short by a bound says nothing about the server; a finished one must be exact.
    if not exact and not result.failed and not result.note:
        result.fail(
            "export incomplete or repeated",
            f"totalResults {total}, {distinct} distinct users seen, {repeated} repeats",
        )
    users_per_s = distinct / result.seconds if result.seconds else None
    result.extra = {
        "total_results": total,
        "users_seen": distinct,
        "repeats": repeated,
        "users_per_s": _round(users_per_s),
        "exactly_once": exact,
    }


def export_line(result: Result) -> str:
    """Return the one-line verdict of an export."""
    if not result.supported:
        return f"{result.name}: {result.note}"
    e = result.extra
    if e.get("exactly_once"):
        verdict = "every user seen exactly once"
    elif result.note:
        verdict = f"incomplete, {result.note} (totalResults {e.get('total_results')})"
    else:
        verdict = (
            f"NOT exact: totalResults {e.get('total_results')}, {e.get('users_seen')} distinct "
            f"users seen, {e.get('repeats')} repeats"
        )
    line = (
        f"{result.name}: {e.get('users_seen')} users in {result.seconds:.2f} s "
        f"({_fmt(e.get('users_per_s'))} users/s, {result.requests} pages); {verdict}"
    )
    for reason, count in result.failures.most_common():
        line += f"\n  failed: {count} x {reason}"
    for sample in result.samples:
        line += f"\n  e.g. {sample}"
    return line


# --- Groups ---------------------------------------------------------------------------------

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# The group sizes at which membership PATCHes and GETs are measured (those up to --members).
GROUP_CHECKPOINTS = (100, 1_000, 10_000, 100_000)
# Members per PATCH when a group is grown, and in the "100-member add" measurement.
MEMBER_BATCH = 100
# Users per page when the benchmark reads the population's ids.
ID_PAGE_SIZE = 1000


class GroupRunOver(Exception):
    """The group run cannot go on: its time bound passed, or the group is in an unknown state."""


def members_patch(op: str, member_ids: Iterable[str]) -> dict:
    """Return a PatchOp adding or removing these users (RFC 7644 §3.5.2.1, §3.5.2.2).

    A removal names its members in `value`, as Entra does; this server, like Entra's targets,
    accepts it alongside `members[value eq "..."]`.
    """
    return {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": op, "path": "members", "value": [{"value": i} for i in member_ids]}],
    }


def read_user_ids(server: Server, *, limit: int, duration: float) -> list[str]:
    """Return up to `limit` user ids, read 1000 at a time (`attributes=id`), by cursor paging
    (RFC 9865), or by `startIndex` when the server refuses cursors."""
    ids: list[str] = []
    seen: set[str] = set()
    started = time.perf_counter()
    by_cursor = True
    params: dict = {"attributes": "id", "count": ID_PAGE_SIZE, "cursor": ""}
    with server.client() as client:
        for _ in range(math.ceil(limit / ID_PAGE_SIZE) + 10):
            if len(ids) >= limit:
                break
            if time.perf_counter() - started > duration:
                raise SystemExit(
                    f"scimbench: reading user ids: {len(ids)} read in the {duration:g} s bound."
                )
            reply = send(client, "GET", "/Users", params=params)
            if by_cursor and not ids and reply.status in (400, 501):
                by_cursor = False
                params = {"attributes": "id", "count": ID_PAGE_SIZE, "startIndex": 1}
                continue
            if not reply.ok:
                raise SystemExit(f"scimbench: reading user ids failed: {reply.sample()}")
            resources = reply.body.get("Resources") or []
            for resource in resources:
                user_id = resource.get("id")
                if user_id and user_id not in seen:
                    seen.add(user_id)
                    ids.append(user_id)
            if by_cursor:
                if not reply.body.get("nextCursor"):
                    break
                params = {**params, "cursor": reply.body["nextCursor"]}
            else:
                params = {**params, "startIndex": params["startIndex"] + len(resources)}
                if not resources or params["startIndex"] > reply.body.get("totalResults", 0):
                    break
    return ids[:limit]


class GroupBench:
    """One fresh group on the server, grown through the population's first users.

    The group's members are always `ids[:size]` (the tail is lent out for a measurement when
    no user is left outside the group). Every request to the group is appended to `trace`
    under the name of the result it belongs to, so that the server log can be matched to it.
    """

    def __init__(self, server: Server, client: httpx2.Client, ids: list[str], *, deadline: float):
        self.server = server
        self.client = client
        self.ids = ids
        self.deadline = deadline
        self.size = 0
        self.group_id = ""
        self.path = ""
        self.setup = Result("group setup")  # create, grow, lend, restore, delete
        self.grow = Result(f"grow by {MEMBER_BATCH}")
        self.trace: list[str] = []
        self.rows: list[dict] = []

    # requests

    def _send(self, result: Result, method: str, **kwargs) -> Reply:
        """Send one request to the group, within the time bound, and trace it."""
        if time.perf_counter() > self.deadline:
            raise GroupRunOver("stopped at the time bound")
        self.trace.append(result.name)
        return send(self.client, method, self.path, **kwargs)

    def patch(self, result: Result, op: str, member_ids: list[str]) -> bool:
        """PATCH the group's members and record it; a 204 (or a 200) is success."""
        reply = self._send(result, "PATCH", json=members_patch(op, member_ids))
        if reply.status in (200, 204):
            result.ok(reply.ms)
            return True
        result.fail(reply.reason(), f"{result.name}: {reply.sample()}")
        return False

    def create(self, display_name: str) -> None:
        reply = send(
            self.client,
            "POST",
            "/Groups",
            json={"schemas": [GROUP_SCHEMA], "displayName": display_name},
        )
        if reply.status != 201 or not isinstance(reply.body, dict) or not reply.body.get("id"):
            raise SystemExit(f"scimbench: POST /Groups failed: {reply.sample()}")
        self.setup.ok(reply.ms)
        self.group_id = reply.body["id"]
        self.path = f"/Groups/{self.group_id}"

    def delete(self) -> None:
        if not self.group_id:
            return
        self.trace.append("delete")
        reply = send(self.client, "DELETE", self.path)
        if reply.status == 204:
            self.setup.ok(reply.ms)
        else:
            self.setup.fail(reply.reason(), f"DELETE {self.path}: {reply.sample()}")

    def grow_to(self, size: int) -> None:
        """Add the next users, 100 per PATCH, until the group has `size` members."""
        while self.size < size:
            batch = self.ids[self.size : min(size, self.size + MEMBER_BATCH)]
            if not self.patch(self.grow, "add", batch):
                raise GroupRunOver(f"growing the group failed at {self.size} members")
            self.size += len(batch)

    # measurements at one size

    def measure_reads(self, size: int, *, excluded_gets: int, full_gets: int) -> dict:
        """GET the group without its members, then whole; verify every full answer."""
        excluded = Result(f"GET excludedAttributes=members @{size}")
        # The server's CPU per read; its statements are matched to the requests in `groups`.
        with self.server.watch.measure(excluded, log=False):
            for _ in range(excluded_gets):
                reply = self._send(excluded, "GET", params={"excludedAttributes": "members"})
                if not reply.ok:
                    excluded.fail(reply.reason(), reply.sample())
                elif reply.body.get("id") != self.group_id or "members" in reply.body:
                    excluded.fail("wrong group or members present", str(list(reply.body))[:160])
                else:
                    excluded.ok(reply.ms)
        full = Result(f"GET with members @{size}")
        expected = set(self.ids[:size])
        sizes, parse_ms = [], []
        # The checks run between the GETs, while the server waits: they add no server CPU.
        with self.server.watch.measure(full, log=False):
            for _ in range(full_gets):
                reply = self._send(full, "GET")
                if not reply.ok:
                    full.fail(reply.reason(), reply.sample())
                    continue
                members = reply.body.get("members") or []
                got = {m.get("value") for m in members if isinstance(m, dict)}
                if reply.body.get("id") != self.group_id or len(members) != size or got != expected:
                    full.fail(
                        "wrong members",
                        f"{len(members)} members ({len(got)} distinct), expected {size}; "
                        f"{len(expected - got)} missing, {len(got - expected)} unexpected",
                    )
                    continue
                full.ok(reply.ms)
                sizes.append(reply.size)
                parse_ms.append(reply.parse_ms)
        full.extra = {
            "members_verified": bool(sizes) and not full.failed,
            "response_bytes": max(sizes) if sizes else None,
            "client_parse_ms_p50": _round(percentile(sorted(parse_ms), 0.5)),
        }
        return {"excluded_get": excluded, "full_get": full}

    def measure_adds(
        self, size: int, *, single_adds: int, batch_adds: int, reference: GroupBench | None
    ) -> dict:
        """Time PATCHes adding 1 and 100 members while the group holds about `size`.

        Each measured add is undone by a PATCH removing the same members (timed apart), so
        that the size stays put. They are users outside the group; when fewer than 100 are
        left, the group's last members are removed first and lent out, and `base_size` says
        how many members the group then held.

        Each add and its removal are repeated on `reference`, a group of 100 members, right
        after: the ratio between the two is not blurred by whatever else the machine is doing
        while the big group grows.
        """
        pool = self.ids[size : size + MEMBER_BATCH]
        short = MEMBER_BATCH - len(pool)
        lent = self.ids[max(0, size - short) : size] if short else []
        if lent:
            if not self.patch(self.setup, "remove", lent):
                raise GroupRunOver(f"removing {len(lent)} members to lend them out failed")
            self.size -= len(lent)
        pool = pool + lent
        base = self.size
        results = {
            f"{prefix}{key}": Result(f"{label}{op} {n} member{'s' * (n > 1)} @{size}")
            for prefix, label in (("", ""), ("ref_", "reference "))
            for key, op, n in (
                ("add_1", "add", 1),
                ("remove_1", "remove", 1),
                ("add_100", "add", len(pool)),
                ("remove_100", "remove", len(pool)),
            )
        }
        if reference is None or not reference.size or set(pool) & set(self.ids[: reference.size]):
            reference = None  # no reference group, or the pool's users are its members
        targets = [("", self)] + ([("ref_", reference)] if reference else [])
        if pool:
            for k in range(single_adds):
                member = pool[k % len(pool)]
                for prefix, group in targets:
                    group.patch(results[f"{prefix}add_1"], "add", [member])
                    group.patch(results[f"{prefix}remove_1"], "remove", [member])
            for _ in range(batch_adds):
                for prefix, group in targets:
                    group.patch(results[f"{prefix}add_100"], "add", pool)
                    group.patch(results[f"{prefix}remove_100"], "remove", pool)
        if lent:
            if not self.patch(self.setup, "add", lent):
                raise GroupRunOver(f"adding back {len(lent)} lent members failed")
            self.size += len(lent)
        if reference is None:
            results = {k: (None if k.startswith("ref_") else v) for k, v in results.items()}
        return {"base_size": base, "outside": len(pool) - len(lent), **results}


def concurrent_adds(
    server: Server, ids: list[str], *, display_name: str, threads: int
) -> tuple[Result, list[str], str]:
    """Add `threads` distinct users to a fresh group at once, one PATCH per thread, then check
    that the group holds exactly them: a member missing is a lost update.

    Return the result, the trace of requests to the group, and the group's path."""
    users = ids[:threads]
    trace = ["concurrent"] * len(users)
    result = Result(f"{len(users)} concurrent 1-member adds")
    with server.client() as client:
        reply = send(
            client,
            "POST",
            "/Groups",
            json={"schemas": [GROUP_SCHEMA], "displayName": display_name},
        )
        if reply.status != 201 or not isinstance(reply.body, dict) or not reply.body.get("id"):
            result.fail(reply.reason(), f"POST /Groups: {reply.sample()}")
            return result, [], ""
        path = f"/Groups/{reply.body['id']}"
    released: list[float] = []
    barrier = threading.Barrier(len(users), action=lambda: released.append(time.perf_counter()))

    def add_one(client: httpx2.Client, user_id: str) -> None:
        # Should not all threads start within a minute, send anyway; the wall time says so.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=60)
        reply = send(client, "PATCH", path, json=members_patch("add", [user_id]))
        if reply.status in (200, 204):
            result.ok(reply.ms)
        else:
            result.fail(reply.reason(), reply.sample())

    try:
        started = time.perf_counter()
        with server.client(len(users)) as client, ThreadPoolExecutor(len(users)) as pool:
            futures = [pool.submit(add_one, client, user_id) for user_id in users]
            for future in futures:
                future.result()
        result.seconds = time.perf_counter() - (released[0] if released else started)
        trace.append("verify")
        with server.client() as client:
            reply = send(client, "GET", path)
        if not reply.ok:
            result.fail(reply.reason(), f"GET {path}: {reply.sample()}")
            lost = extra = None
        else:
            got = {m.get("value") for m in reply.body.get("members") or []}
            lost, extra = len(set(users) - got), len(got - set(users))
            if lost or extra:
                result.fail(
                    "lost or unexpected members",
                    f"{lost} of {len(users)} adds lost, {extra} unexpected members",
                )
        result.extra = {
            "threads": len(users),
            "wall_seconds": round(result.seconds, 3),
            "lost_updates": lost,
            "unexpected_members": extra,
        }
    finally:
        trace.append("delete")
        with server.client() as client:
            reply = send(client, "DELETE", path)
        if reply.status != 204:
            result.fail(reply.reason(), f"DELETE {path}: {reply.sample()}")
    return result, trace, path


def server_times(
    log_path: Path, offset: int, traces: dict[str, list[str]]
) -> dict[str, list[tuple[float, int | None]]]:
    """Read the server's own time and SQL statements of each request to the benchmark's groups
    from its log.

    `traces` maps a group's path to the result names of its requests, in the order sent; the
    requests were sequential, so the log holds their lines in that same order. Return the
    server milliseconds and statements per result name; a group whose line count does not
    match is skipped.
    """
    lines: dict[str, list[tuple[float, int | None]]] = {path: [] for path in traces}
    with log_path.open("rb") as log:
        log.seek(offset)
        for raw in log:
            match = SERVER_LOG_LINE.match(raw.decode("utf-8", "replace"))
            if match:
                for path in traces:
                    if match["path"].endswith(path):
                        sql = None if match["sql"] is None else int(match["sql"])
                        lines[path].append((float(match["ms"]), sql))
    times: dict[str, list] = collections.defaultdict(list)
    for path, names in traces.items():
        if len(lines[path]) != len(names):
            print(
                f"scimbench: the server log has {len(lines[path])} lines for {path}, "
                f"{len(names)} requests were sent; its server times are left out",
                file=sys.stderr,
            )
            continue
        for name, line in zip(names, lines[path], strict=True):
            times[name].append(line)
    return times


def groups(
    server: Server,
    *,
    members: int | None,
    single_adds: int,
    batch_adds: int,
    excluded_gets: int,
    full_gets: int,
    concurrent: int,
    duration: float,
    server_log: Path | None,
) -> dict:
    """Grow a fresh group through the checkpoint sizes, measuring membership PATCHes and GETs
    at each, then run the concurrent adds; delete the groups. Return everything measured."""
    started = time.perf_counter()
    deadline = started + duration
    with server.client() as client:
        have = population(client)
    wanted = members if members is not None else min(have, GROUP_CHECKPOINTS[-1])
    if have < 1 or wanted < 1:
        raise SystemExit("scimbench: groups needs users; run `scimbench.py seed` first.")
    print(f"reading up to {wanted + MEMBER_BATCH} user ids ...", file=sys.stderr, flush=True)
    # 100 users more than the group will hold, when there are: the users the timed adds add.
    ids = read_user_ids(server, limit=wanted + MEMBER_BATCH, duration=duration)
    checkpoints = [size for size in GROUP_CHECKPOINTS if size <= min(wanted, len(ids))]
    if not checkpoints:
        print(
            f"scimbench: groups: fewer than {GROUP_CHECKPOINTS[0]} members; only the concurrent "
            "adds are measured",
            file=sys.stderr,
        )
    log_offset = server_log.stat().st_size if server_log and server_log.exists() else 0
    run_id = (
        f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{random.SystemRandom().randrange(16**6):06x}"
    )
    note = ""
    sizes: list[dict] = []
    with server.client() as client:
        bench = GroupBench(server, client, ids, deadline=deadline)
        reference = GroupBench(server, client, ids, deadline=deadline)
        reference.setup, reference.grow = bench.setup, Result("grow reference")
        try:
            bench.create(f"scimbench {run_id}")
            if checkpoints:
                reference.create(f"scimbench {run_id} reference")
                reference.grow_to(GROUP_CHECKPOINTS[0])
            for size in checkpoints:
                print(f"  group at {size} members ...", file=sys.stderr, flush=True)
                bench.grow_to(size)
                row = {"size": size}
                row.update(
                    bench.measure_reads(size, excluded_gets=excluded_gets, full_gets=full_gets)
                )
                row.update(
                    bench.measure_adds(
                        size,
                        single_adds=single_adds,
                        batch_adds=batch_adds,
                        reference=reference,
                    )
                )
                sizes.append(row)
        except GroupRunOver as exc:
            note = str(exc)
            print(f"scimbench: groups: {note}", file=sys.stderr)
        finally:
            bench.delete()
            reference.delete()
    traces = {g.path: g.trace for g in (bench, reference) if g.path}
    concurrency = None
    if concurrent > 0 and time.perf_counter() < deadline:
        print(f"  {min(concurrent, len(ids))} concurrent adds ...", file=sys.stderr, flush=True)
        concurrency, trace, path = concurrent_adds(
            server, ids, display_name=f"scimbench {run_id} concurrent", threads=concurrent
        )
        if path:
            traces[path] = trace
    if server_log and server_log.exists():
        time.sleep(0.2)  # let the last lines reach the file
        by_name = server_times(server_log, log_offset, traces)
        for row in sizes:
            for value in row.values():
                if isinstance(value, Result) and value.name in by_name:
                    # The server logs a full GET before it streams the members (whose
                    # statements its sql= leaves out too).
                    key = "server_ms_before_streaming" if value is row["full_get"] else "server_ms"
                    value.extra[key] = _server_quantiles([ms for ms, _ in by_name[value.name]])
                    value.sql = [n for _, n in by_name[value.name] if n is not None] or None
        if bench.grow.name in by_name:
            bench.grow.sql = [n for _, n in by_name[bench.grow.name] if n is not None] or None
        if concurrency and "concurrent" in by_name:
            lines = by_name["concurrent"]
            concurrency.extra["server_ms"] = _server_quantiles([ms for ms, _ in lines])
            concurrency.sql = [n for _, n in lines if n is not None] or None
    return {
        "population": have,
        "members": min(wanted, len(ids)),
        "checkpoints": checkpoints,
        "sizes": sizes,
        "grow": bench.grow,
        "setup": bench.setup,
        "concurrency": concurrency,
        "note": note,
        "seconds": time.perf_counter() - started,
        "run_id": run_id,
    }


def _server_quantiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "requests": len(ordered),
        **{f"p{int(f * 100)}": _round(percentile(ordered, f)) for f in (0.5, 0.95, 0.99)},
    }


def _q3(result: Result | None, *, server: bool = False) -> str:
    """Return "p50 / p95 / p99" of a result, client-side or from the server log."""
    if result is None or (not result.latencies_ms and not server):
        return "-"
    if server:
        s = result.extra.get("server_ms")
        return " / ".join(_fmt(s[k]) for k in ("p50", "p95", "p99")) if s else "-"
    q = result.quantiles()
    return " / ".join(_fmt(q[k]) for k in ("p50", "p95", "p99"))


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _p50(result: Result | None, *, server: bool) -> float | None:
    """Return the median latency of a result, client-side or from the server log."""
    if result is None:
        return None
    if server:
        return (result.extra.get("server_ms") or {}).get("p50")
    return result.quantiles()["p50"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def groups_report(run: dict) -> str:
    """Return the group run as Markdown tables and target verdicts."""
    rows = run["sizes"]
    has_server = any("server_ms" in r["add_1"].extra for r in rows)
    out = []
    head = "| group size | 1-member add p50 / p95 / p99 ms | 100-member add p50 / p95 / p99 ms |"
    rule = "| ---: | ---: | ---: |"
    if has_server:
        head += " server: 1-member / 100-member add p50 ms |"
        rule += " ---: |"
    head += (
        f" p50 ÷ 100-member group's, same moment{' (server)' if has_server else ''}: "
        "1-member / 100-member |"
    )
    rule += " ---: |"
    out += [head + " failed |", rule + " ---: |"]
    lent = [r for r in rows if r["base_size"] != r["size"]]
    for r in rows:
        size = f"{r['size']}" + ("*" if r in lent else "")
        line = f"| {size} | {_q3(r['add_1'])} | {_q3(r['add_100'])} |"
        if has_server:
            line += (
                f" {_fmt(_p50(r['add_1'], server=True))} / "
                f"{_fmt(_p50(r['add_100'], server=True))} |"
            )
        ratios = [
            _ratio(_p50(r[k], server=has_server), _p50(r[f"ref_{k}"], server=has_server))
            for k in ("add_1", "add_100")
        ]
        line += " " + " / ".join("-" if x is None else f"{x:.2f}" for x in ratios) + " |"
        failed = sum(
            v.failed
            for k, v in r.items()
            if isinstance(v, Result) and k not in ("excluded_get", "full_get")
        )
        out.append(line + f" {failed} |")
    for r in lent:
        out.append(
            f"\n\\* {r['size']}: "
            + (f"only {r['outside']} of the users read are" if r["outside"] else "no user read is")
            + f" outside the group at this size, so the timed adds re-add "
            f"{r['size'] - r['base_size']} of its members, removed first: the group held "
            f"{r['base_size']} members before each timed add."
        )
    out.append(f"\n{_grow_line(run['grow'])}")
    out.append("")
    head = "| group size | GET excludedAttributes=members p50 / p95 ms |"
    rule = "| ---: | ---: |"
    if has_server:
        head += " server p50 / p95 ms |"
        rule += " ---: |"
    out += [
        head + " GET with members p50 / p95 ms | response | members verified | failed |",
        rule + " ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        ex, full = r["excluded_get"], r["full_get"]
        q, fq = ex.quantiles(), full.quantiles()
        line = f"| {r['size']} | {_fmt(q['p50'])} / {_fmt(q['p95'])} |"
        if has_server:
            s = ex.extra.get("server_ms")
            line += f" {_fmt(s and s['p50'])} / {_fmt(s and s['p95'])} |"
        verified = "yes" if full.extra.get("members_verified") else "NO"
        out.append(
            line + f" {_fmt(fq['p50'])} / {_fmt(fq['p95'])} | "
            f"{_bytes(full.extra.get('response_bytes'))} | {verified} | "
            f"{ex.failed + full.failed} |"
        )
    c = run["concurrency"]
    if c is not None:
        e = c.extra
        line = (
            f"| {e.get('threads', '-')} | {e.get('wall_seconds', '-')} | {_q3(c)} |"
            f" {_q3(c, server=True)} | {c.failed} |"
            f" {'-' if e.get('lost_updates') is None else e['lost_updates']} |"
        )
        out += [
            "",
            "| concurrent 1-member adds | wall s | p50 / p95 / p99 ms | server p50 / p95 / p99 ms "
            "| failed | lost updates |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            line,
        ]
    out += ["", *groups_verdicts(run)]
    return "\n".join(out)


def _grow_line(grow: Result) -> str:
    q = grow.quantiles()
    return (
        f"growing: {grow.requests} PATCH{'es' * (grow.requests != 1)} of up to {MEMBER_BATCH} "
        f"members, p50 {_fmt(q['p50'])} ms, "
        f"p95 {_fmt(q['p95'])} ms, max {_fmt(q['max'])} ms, {grow.failed} failed"
    )


def groups_verdicts(run: dict) -> list[str]:
    """Return one line per target: add latency flat with size, excluded GET under 5 ms."""
    rows = run["sizes"]
    lines = []

    if rows:
        first, last = rows[0], rows[-1]
        for key, label in (("add_1", "1-member"), ("add_100", "100-member")):
            ratios = {
                (against, side): _ratio(
                    _p50(last[key], server=side == "server"),
                    _p50(
                        first[key] if against == "earlier" else last[f"ref_{key}"],
                        server=side == "server",
                    ),
                )
                for against in ("earlier", "alongside")
                for side in ("client", "server")
            }
            if last is first:
                ratios = {k: v for k, v in ratios.items() if k[0] == "alongside"}
            shown = {k: v for k, v in ratios.items() if v is not None}
            if not shown:
                continue
            # The verdict: the comparison made at the same moment, by the server's own time
            # when the log was read (it leaves out the client and the connection).
            decisive = next(
                (
                    shown[k]
                    for k in (("alongside", "server"), ("alongside", "client"))
                    if k in shown
                ),
                None,
            )
            parts = []
            if any(against == "earlier" for against, _ in shown):
                parts.append(
                    f"÷ the same at {first['size']}, measured earlier: "
                    + ", ".join(f"{v:.2f}x {k[1]}" for k, v in shown.items() if k[0] == "earlier")
                )
            parts.append(
                f"÷ a {GROUP_CHECKPOINTS[0]}-member group measured alongside: "
                + ", ".join(f"{v:.2f}x {k[1]}" for k, v in shown.items() if k[0] == "alongside")
            )
            met = "-" if decisive is None else ("met" if decisive <= 1.2 else "NOT met")
            lines.append(
                f"{label} add p50 at {last['size']} members {'; '.join(parts)}; "
                f"target <= 1.2x: {met}"
            )
    # The worst p50 and p95 over the sizes, client-side and by the server's own time.
    worst: dict[tuple[str, str], tuple[float, int]] = {}
    for r in rows:
        ex = r["excluded_get"]
        server = ex.extra.get("server_ms") or {}
        for side, quantiles in (("client", ex.quantiles()), ("server", server)):
            for q in ("p50", "p95"):
                value = quantiles.get(q)
                if value is not None and ((side, q) not in worst or value > worst[side, q][0]):
                    worst[side, q] = (value, r["size"])
    if worst:
        figures = "; ".join(
            f"{side} "
            + ", ".join(
                f"{q} {_fmt(worst[side, q][0])} ms (at {worst[side, q][1]})"
                for q in ("p50", "p95")
                if (side, q) in worst
            )
            for side in ("server", "client")
            if (side, "p50") in worst
        )
        decisive = worst.get(("server", "p50"))
        met = "-" if decisive is None else ("met" if decisive[0] < 5 else "NOT met")
        lines.append(
            f"GET excludedAttributes=members, worst over sizes: {figures}; target < 5 ms server "
            f"time (p50): {met} (client time adds connecting, the round trip and parsing)"
        )
    if run["note"]:
        lines.append(f"incomplete: {run['note']}")
    return lines


def groups_json(run: dict) -> dict:
    """Return the group run for the results file."""

    def result(r: Result | None):
        return None if r is None else r.to_json()

    return {
        "population": run["population"],
        "members": run["members"],
        "checkpoints": run["checkpoints"],
        "seconds": round(run["seconds"], 3),
        "note": run["note"],
        "group_display_name": f"scimbench {run['run_id']}",
        "sizes": [
            {k: (result(v) if isinstance(v, Result) else v) for k, v in row.items()}
            for row in run["sizes"]
        ],
        "grow": result(run["grow"]),
        "setup": result(run["setup"]),
        "concurrency": result(run["concurrency"]),
        "verdicts": groups_verdicts(run),
    }


def groups_failed(run: dict) -> int:
    results = [run["grow"], run["setup"], run["concurrency"]]
    for row in run["sizes"]:
        results += [v for v in row.values() if isinstance(v, Result)]
    return sum(r.failed for r in results if r is not None)


# --- Reporting ------------------------------------------------------------------------------


# --- Bulk (RFC 7644 §3.7) against single requests --------------------------------------------

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk_user(i: int, tag: str) -> dict:
    """Return seeded user `i`'s body under a userName of its own for run `tag`."""
    document = user_document(i)
    name = f"bulk-{tag}-{i}@example.com"
    document["userName"] = name
    document["emails"] = [{"primary": True, "value": name, "type": "work"}]
    return document


def bulk_compare(
    server: Server,
    rng: random.Random,
    *,
    operations: int,
    rounds: int,
    concurrency: int,
    duration: float,
) -> list[dict]:
    """Measure, `rounds` times, the server CPU of: N users created by single POSTs (at
    `concurrency`) and by one Bulk of N POSTs; one PATCH adding N members to a fresh group,
    and one Bulk of N PATCHes adding one member each to another fresh group."""
    rows = []
    for round_ in range(rounds):
        tag = f"{rng.randrange(16**8):08x}"
        single = Result(f"create {operations} by POST /Users")
        ids: list[str] = []

        def check(client, i, result=single, ids=ids, tag=tag):
            reply = send(client, "POST", "/Users", json=bulk_user(i, tag + "s"))
            if reply.status == 201:
                result.ok(reply.ms)
                ids.append(reply.body["id"])
            else:
                result.fail(reply.reason(), reply.sample())

        run_bounded(
            single,
            range(operations),
            check,
            server=server,
            concurrency=concurrency,
            duration=duration,
        )
        creates = [
            {"method": "POST", "path": "/Users", "bulkId": str(i), "data": bulk_user(i, tag + "b")}
            for i in range(operations)
        ]
        bulk_create = _one_bulk(server, f"create {operations} by one Bulk", creates, 201)
        with server.client() as client:
            groups = []
            for name in ("patch", "bulk"):
                reply = send(
                    client,
                    "POST",
                    "/Groups",
                    json={"schemas": [GROUP_SCHEMA], "displayName": f"bulk-{tag}-{name}"},
                )
                if reply.status != 201:
                    raise SystemExit(f"scimbench: POST /Groups failed: {reply.sample()}")
                groups.append(reply.body["id"])
            patch = Result(f"add {len(ids)} members by one PATCH")
            with server.watch.measure(patch, log=False):
                started = time.perf_counter()
                reply = send(
                    client, "PATCH", f"/Groups/{groups[0]}", json=members_patch("add", ids)
                )
                patch.seconds = time.perf_counter() - started
            if reply.status in (200, 204):
                patch.ok(reply.ms)
            else:
                patch.fail(reply.reason(), reply.sample())
        adds = [
            {"method": "PATCH", "path": f"/Groups/{groups[1]}", "data": members_patch("add", [i])}
            for i in ids
        ]
        bulk_adds = _one_bulk(server, f"add {len(ids)} members by one Bulk", adds, 204)
        rows.append({"round": round_ + 1, "results": [single, bulk_create, patch, bulk_adds]})
        for result in rows[-1]["results"]:
            print(f"  round {round_ + 1}: {_bulk_line(result)}", file=sys.stderr, flush=True)
    return rows


def _one_bulk(server: Server, name: str, operations: list[dict], status: int) -> Result:
    """Send one Bulk request; every operation must answer `status`."""
    result = Result(name)
    body = {"schemas": [BULK_REQUEST_SCHEMA], "Operations": operations}
    with server.client() as client, server.watch.measure(result, log=False):
        started = time.perf_counter()
        reply = send(client, "POST", "/Bulk", json=body)
        result.seconds = time.perf_counter() - started
    answered = reply.body.get("Operations", []) if isinstance(reply.body, dict) else []
    wrong = [op for op in answered if op.get("status") != str(status)]
    if reply.status != 200 or len(answered) != len(operations) or wrong:
        result.fail(
            reply.reason() if reply.status != 200 else "operation failed",
            reply.sample() if reply.status != 200 else json.dumps(wrong[:2]),
        )
    else:
        result.ok(reply.ms)
    return result


def _cpu_ms(result: Result) -> float | None:
    return None if result.server_cpu_s is None else 1000 * sum(result.server_cpu_s.values())


def _bulk_line(result: Result) -> str:
    cpu = _cpu_ms(result)
    cpu_text = "-" if cpu is None else f"{cpu:.0f} ms"
    return (
        f"{result.name}: {result.seconds:.2f} s wall, server CPU {cpu_text}, {result.failed} failed"
    )


def _two(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def bulk_report(rows: list[dict]) -> str:
    """Return the medians of each measurement over the rounds, and the two ratios."""
    names = [r.name for r in rows[0]["results"]]
    medians = []
    for k, name in enumerate(names):
        values = sorted(c for row in rows if (c := _cpu_ms(row["results"][k])) is not None)
        walls = sorted(row["results"][k].seconds for row in rows)
        medians.append((name, percentile(values, 0.5), percentile(walls, 0.5)))
    lines = ["| measurement | server CPU ms (median) | wall s (median) |", "| --- | --- | --- |"]
    lines += [f"| {name} | {_fmt(cpu)} | {wall:.2f} |" for name, cpu, wall in medians]
    create = _ratio(medians[1][1], medians[0][1])
    adds = _ratio(medians[3][1], medians[2][1])
    lines.append("")
    lines.append(f"Bulk create / single POSTs: {_two(create)} (target at most 0.33)")
    lines.append(f"Bulk of member-add PATCHes / one PATCH: {_two(adds)} (target about 1)")
    for name, (k, against) in {"creates": (1, 0), "member adds": (3, 2)}.items():
        ratios = [
            _two(_ratio(_cpu_ms(row["results"][k]), _cpu_ms(row["results"][against])))
            for row in rows
        ]
        lines.append(f"  {name}, round by round: {', '.join(ratios)}")
    return "\n".join(lines)


def markdown_table(results: list[Result]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| operation | requests | throughput req/s | p50 ms | p95 ms | p99 ms "
        "| server CPU ms/req | SQL/req mean (max) | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if not r.supported:
            label = r.note.split(" (")[0]  # e.g. "filter not supported by server"
            lines.append(f"| {r.name} | {label} | - | - | - | - | - | - | - |")
            continue
        q = r.quantiles()
        cpu, sql = r.server_cpu_ms(), r.sql_per_request()
        lines.append(
            f"| {r.name} | {r.requests} | {_fmt(r.throughput)} | {_fmt(q['p50'])} | "
            f"{_fmt(q['p95'])} | {_fmt(q['p99'])} | {_fmt(cpu and cpu['total'])} | "
            f"{_sql_cell(sql)} | {r.failed} |"
        )
    return "\n".join(lines)


def _sql_cell(sql: dict | None) -> str:
    return f"{sql['mean']:.1f} ({sql['max']})" if sql else "-"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


# --- Command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help=f"SCIM service root on this machine (default {DEFAULT_BASE_URL}).",
    )
    common.add_argument(
        "--token", default=None, help="Bearer token (default: the SCIM_TOKEN environment variable)."
    )
    common.add_argument("--seed", type=int, help="Seed for the random choices (default: random).")
    common.add_argument(
        "--duration",
        type=float,
        help=(
            "Time bound in seconds, per operation (default 60; 600 for seed, cursor, export; "
            "1800 for the whole of groups)."
        ),
    )
    common.add_argument(
        "--requests",
        type=int,
        help="Requests per operation for lookup, pages, search (default 2000, 1000, 1000).",
    )
    common.add_argument(
        "--concurrency", type=int, default=4, help="Client threads for lookup, pages, search."
    )
    common.add_argument(
        "--users",
        type=int,
        help="Population to pick lookups and offsets from (default: the server's totalResults).",
    )
    common.add_argument(
        "--timeout", type=float, default=30.0, help="Per-request timeout in seconds (default 30)."
    )
    common.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        metavar="PID",
        help=(
            "A server process on this machine whose CPU time, with its descendants', is read "
            "before and after each operation (repeatable: the server's main process, the postmaster)."
        ),
    )
    common.add_argument(
        "--server-log",
        type=Path,
        help=(
            "The server's log (LOG_LEVEL=INFO request lines): adds the SQL statements per "
            "request, and for groups the server's own time per request."
        ),
    )

    parser = argparse.ArgumentParser(
        prog="scimbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("seed", parents=[common], help="Create users through POST /Users.")
    p.add_argument("--batch-concurrency", type=int, default=8, help="Threads (default 8).")
    p.add_argument("--start", type=int, default=1, help="First user number (default 1).")
    sub.add_parser("lookup", parents=[common], help='GET /Users?filter=userName eq "..."')
    sub.add_parser("pages", parents=[common], help="GET /Users?startIndex=K&count=100")
    sub.add_parser("cursor", parents=[common], help="RFC 9865 cursor paging over all users.")
    sub.add_parser("export", parents=[common], help="Export all users, verify exactly once.")
    sub.add_parser("search", parents=[common], help="filter=name.familyName sw .. and emails co ..")
    p = sub.add_parser("all", parents=[common], help="All of the above but seed; table and JSON.")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help=f"Where to write JSON ({RESULTS_DIR}).",
    )
    p = sub.add_parser("wait", parents=[common], help="Wait until the server answers.")
    p.add_argument("--wait-seconds", type=float, default=60.0)
    sub.add_parser("count", parents=[common], help="Print how many users the server holds.")
    p = sub.add_parser(
        "bulk",
        parents=[common],
        help="Server CPU of N creates and N member adds: single requests against one Bulk.",
    )
    p.add_argument("--operations", type=int, default=1000, help="Operations per Bulk (1000).")
    p.add_argument("--rounds", type=int, default=5, help="Rounds; medians are reported (5).")
    p = sub.add_parser(
        "groups",
        parents=[common],
        help="Grow a fresh group to N members: PATCH and GET latency by size, concurrent adds.",
    )
    p.add_argument(
        "--members",
        type=int,
        help="Grow the group to this many users (default: the population, at most 100000).",
    )
    p.add_argument(
        "--single-adds", type=int, default=200, help="1-member adds timed per size (200)."
    )
    p.add_argument(
        "--batch-adds", type=int, default=50, help="100-member adds timed per size (50)."
    )
    p.add_argument(
        "--excluded-gets",
        type=int,
        default=50,
        help="GETs with excludedAttributes=members per size (50).",
    )
    p.add_argument("--full-gets", type=int, default=5, help="Full GETs per size (5).")
    p.add_argument(
        "--concurrent-adds",
        type=int,
        default=200,
        help="Threads adding one member each to one group at once (200; 0 skips).",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help=f"Where to write JSON ({RESULTS_DIR}).",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = Server(
        args.base_url,
        args.token or os.environ.get("SCIM_TOKEN", ""),
        timeout=args.timeout,
        watch=ServerWatch(tuple(args.server_pid), args.server_log),
    )
    if args.command == "wait":
        return wait_for(server, args.wait_seconds)
    seed_value = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed_value)
    config = preflight(server)

    def duration(default: float) -> float:
        return args.duration if args.duration is not None else default

    def requests(default: int) -> int:
        return args.requests if args.requests is not None else default

    if args.command == "count":
        with server.client() as client:
            print(population(client))
        return 0
    if args.command == "groups":
        return run_groups(server, args, duration(1800))
    if args.command == "bulk":
        if not 1 <= args.operations <= 100_000 or not 1 <= args.rounds <= 100:
            raise SystemExit("scimbench: --operations 1..100000 and --rounds 1..100.")
        rows = bulk_compare(
            server,
            rng,
            operations=args.operations,
            rounds=args.rounds,
            concurrency=args.concurrency,
            duration=duration(600),
        )
        print(bulk_report(rows))
        failed = sum(r.failed for row in rows for r in row["results"])
        return 1 if failed else 0
    if args.command == "seed":
        if not args.users:
            raise SystemExit("scimbench: seed needs --users N.")
        result = seed(
            server,
            users=args.users or 0,
            start=args.start,
            concurrency=args.batch_concurrency,
            duration=duration(600),
        )
        e = result.extra
        print(result.summary())
        print(
            f"seed: {e['created']} created, {e['skipped_existing']} already present (409), "
            f"{result.failed} failed; {_fmt(e['users_per_s'])} users created/s"
        )
        return 1 if result.failed else 0

    with server.client() as client:
        users = args.users or population(client)
    if users < 1:
        raise SystemExit("scimbench: the server holds no users; run `scimbench.py seed` first.")
    print(f"population: {users} users; random seed {seed_value}", file=sys.stderr)
    operations = {
        "lookup": lambda: [
            lookup(
                server,
                rng,
                users=users,
                requests=requests(2000),
                concurrency=args.concurrency,
                duration=duration(60),
            )
        ],
        "pages": lambda: [
            pages(
                server,
                rng,
                users=users,
                requests=requests(1000),
                concurrency=args.concurrency,
                duration=duration(60),
            )
        ],
        "cursor": lambda: [cursor(server, users=users, duration=duration(600))],
        "export": lambda: export(server, users=users, duration=duration(600)),
        "search": lambda: [
            search(
                server,
                rng,
                requests=requests(1000),
                concurrency=args.concurrency,
                duration=duration(60),
            )
        ],
    }
    names = list(operations) if args.command == "all" else [args.command]
    results: list[Result] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        for result in operations[name]():
            results.append(result)
            print(
                export_line(result) if result.name.startswith("export") else result.summary(),
                flush=True,
            )

    if args.command == "all":
        print()
        print(markdown_table(results))
        print()
        for result in results:
            if result.name.startswith("export"):
                print(export_line(result))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = args.results_dir / f"{stamp}.json"
        write_json(
            path,
            {
                "timestamp": stamp,
                "base_url": server.base_url,
                "population": users,
                "random_seed": seed_value,
                "concurrency": args.concurrency,
                "page_size": PAGE_SIZE,
                "server_filter_supported": (config.get("filter") or {}).get("supported"),
                "client": {
                    "python": platform.python_version(),
                    "httpx2": httpx2.__version__,
                    "cpus": os.cpu_count(),
                },
                "results": [r.to_json() for r in results],
            },
        )
        print(f"\nresults written to {path}")
    failed = sum(r.failed for r in results)
    if failed:
        print(f"\n{failed} requests or checks failed unexpectedly", file=sys.stderr)
    return 1 if failed else 0


def run_groups(server: Server, args: argparse.Namespace, duration: float) -> int:
    """Run `groups`: print the tables, write bench/results/groups-<timestamp>.json."""
    counts = {
        "--single-adds": args.single_adds,
        "--batch-adds": args.batch_adds,
        "--excluded-gets": args.excluded_gets,
        "--full-gets": args.full_gets,
    }
    for option, value in counts.items():
        if not 0 <= value <= 100_000:
            raise SystemExit(f"scimbench: {option} must be between 0 and 100000.")
    if not 0 <= args.concurrent_adds <= 1000:
        raise SystemExit("scimbench: --concurrent-adds must be between 0 and 1000.")
    if args.members is not None and not 1 <= args.members <= 1_000_000:
        raise SystemExit("scimbench: --members must be between 1 and 1000000.")
    run = groups(
        server,
        members=args.members,
        single_adds=args.single_adds,
        batch_adds=args.batch_adds,
        excluded_gets=args.excluded_gets,
        full_gets=args.full_gets,
        concurrent=args.concurrent_adds,
        duration=duration,
        server_log=args.server_log,
    )
    print()
    print(
        f"groups: one fresh group grown to {max(run['checkpoints'], default=0)} members "
        f"(population {run['population']}) in {run['seconds']:.0f} s"
    )
    print()
    print(groups_report(run))
    failures = [run["grow"], run["setup"], run["concurrency"]]
    for row in run["sizes"]:
        failures += [v for v in row.values() if isinstance(v, Result)]
    for result in failures:
        if result is not None and result.failed:
            print(result.summary())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"groups-{stamp}.json"
    write_json(
        path,
        {
            "timestamp": stamp,
            "base_url": server.base_url,
            "page_size": MEMBER_BATCH,
            "client": {
                "python": platform.python_version(),
                "httpx2": httpx2.__version__,
                "cpus": os.cpu_count(),
            },
            "groups": groups_json(run),
        },
    )
    print(f"\nresults written to {path}")
    failed = groups_failed(run)
    if failed:
        print(f"\n{failed} requests or checks failed unexpectedly", file=sys.stderr)
    return 1 if failed or run["note"] else 0


def wait_for(server: Server, seconds: float) -> int:
    """Poll /ServiceProviderConfig until it answers 200, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    with server.client() as client:
        while time.monotonic() < deadline:
            reply = send(client, "GET", "/ServiceProviderConfig")
            if reply.status == 200:
                return 0
            if reply.status is not None and reply.status != 503:
                print(f"scimbench: server answered {reply.sample()}", file=sys.stderr)
                return 1
            time.sleep(0.25)
    print(f"scimbench: {server.base_url} did not answer within {seconds:g} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
