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
import datetime as dt
import json
import math
import os
import platform
import random
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
        if self.note:
            line += f" ({self.note})"
        for reason, count in self.failures.most_common():
            line += f"\n  failed: {count} x {reason}"
        for sample in self.samples:
            line += f"\n  e.g. {sample}"
        return line


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class Reply:
    """One answer, or the transport error that stood in for it."""

    status: int | None
    body: object
    ms: float
    error: str = ""

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

    def __init__(self, base_url: str, token: str, *, timeout: float):
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
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text[:1000]
    return Reply(response.status_code, body, ms)


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
    started = time.perf_counter()
    deadline = started + duration

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

    with server.client(concurrency) as client, ThreadPoolExecutor(concurrency) as pool:
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


def walk_cursor(server: Server, result: Result, *, max_pages: int, duration: float) -> dict:
    """Follow `nextCursor` from `cursor=` to the end (RFC 9865); return ids seen and totals.

    A 400 to the first request, or a first page without `nextCursor` although more users
    exist, means the server does not do cursor paging: `result` is marked unsupported.
    """
    seen: collections.Counter = collections.Counter()
    total = None
    started = time.perf_counter()
    params = {"count": PAGE_SIZE, "cursor": ""}
    with server.client() as client:
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
            params = {"count": PAGE_SIZE, "cursor": next_cursor}
        else:
            result.note = f"stopped at the {max_pages} pages bound"
    result.seconds = time.perf_counter() - started
    return {"seen": seen, "total": total}


def walk_index(server: Server, result: Result, *, max_pages: int, duration: float) -> dict:
    """Page through all users with `startIndex`/`count=100`; return ids seen and totals."""
    seen: collections.Counter = collections.Counter()
    total = None
    start_index = 1
    started = time.perf_counter()
    with server.client() as client:
        for _ in range(max_pages):
            if time.perf_counter() - started > duration:
                result.note = f"stopped at the {duration:g} s time bound"
                break
            reply = send(
                client, "GET", "/Users", params={"startIndex": start_index, "count": PAGE_SIZE}
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
    for name, walk in (("export (startIndex)", walk_index), ("export (cursor)", walk_cursor)):
        result = Result(name)
        walked = walk(server, result, max_pages=_max_pages(users), duration=duration)
        if result.supported:
            _verify_export(result, walked)
        results.append(result)
    return results


def _max_pages(users: int) -> int:
    """Return a page bound for a full walk: every page, and some slack for concurrent creates."""
    return math.ceil(users / PAGE_SIZE) + 10


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


# --- Reporting ------------------------------------------------------------------------------


def markdown_table(results: list[Result]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| operation | requests | throughput req/s | p50 ms | p95 ms | p99 ms | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if not r.supported:
            label = r.note.split(" (")[0]  # e.g. "filter not supported by server"
            lines.append(f"| {r.name} | {label} | - | - | - | - | - |")
            continue
        q = r.quantiles()
        lines.append(
            f"| {r.name} | {r.requests} | {_fmt(r.throughput)} | {_fmt(q['p50'])} | "
            f"{_fmt(q['p95'])} | {_fmt(q['p99'])} | {r.failed} |"
        )
    return "\n".join(lines)


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
        help="Time bound in seconds, per operation (default 60; 600 for seed, cursor, export).",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = Server(
        args.base_url, args.token or os.environ.get("SCIM_TOKEN", ""), timeout=args.timeout
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
