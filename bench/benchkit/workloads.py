"""What an IdP does all day, timed: lookups by userName, offset pages, substring searches,
cursor walks and full exports.
"""

from __future__ import annotations

import collections
import math
import random
import threading
import time

from .client import Server, filter_unsupported, run_bounded, send
from .results import Result, percentile, rounded
from .seeding import FAMILY_NAMES, user_name

PAGE_SIZE = 100


EXPORT_LARGE_PAGE_SIZE = 1000


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
        "users_per_s": rounded(users_per_s),
        "exactly_once": exact,
    }
