"""`groups`: a fresh group grown to 100, 1k, 10k and 100k members, its PATCHes and GETs timed at
each size, and concurrent adds to it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import math
import random
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2

from .client import Reply, Server, population, send
from .results import Result, percentile, rounded
from .watch import SERVER_LOG_LINE

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
            "client_parse_ms_p50": rounded(percentile(sorted(parse_ms), 0.5)),
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
        **{f"p{int(f * 100)}": rounded(percentile(ordered, f)) for f in (0.5, 0.95, 0.99)},
    }
