"""Bulk (RFC 7644 §3.7) against single requests: the server CPU of N creates and N member adds."""

from __future__ import annotations

import json
import random
import sys
import time

from .client import Server, run_bounded, send
from .groups import GROUP_SCHEMA, members_patch
from .results import Result, fmt, percentile, ratio
from .seeding import user_document

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
    `concurrency`) and by one Bulk of N POSTs; one PATCH adding the first N as members of a
    fresh group, and one Bulk of N PATCHes adding one of the others each to another fresh
    group.

    Each member add has users of its own, created in the round and not written since: when
    the Bulk added the users the PATCH had just added, its writes of their versions found
    the rows the PATCH had left behind (PostgreSQL prunes them then), and cost 15-20 ms more
    than the PATCH's for the same statements; in the other order, the PATCH paid them."""
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
        bulk_create, created = _one_bulk(server, f"create {operations} by one Bulk", creates, 201)
        if len(ids) != operations or len(created) != operations:
            # The two member adds compare only with as many members each.
            raise SystemExit(
                f"scimbench: {len(ids)} users created by POST and {len(created)} by Bulk, not"
                f" {operations} each: see the failures above (or a --duration too short)."
            )
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
            for i in created
        ]
        bulk_adds, _ = _one_bulk(server, f"add {len(created)} members by one Bulk", adds, 204)
        rows.append({"round": round_ + 1, "results": [single, bulk_create, patch, bulk_adds]})
        for result in rows[-1]["results"]:
            print(f"  round {round_ + 1}: {_bulk_line(result)}", file=sys.stderr, flush=True)
    return rows


def _one_bulk(
    server: Server, name: str, operations: list[dict], status: int
) -> tuple[Result, list[str]]:
    """Send one Bulk request; every operation must answer `status`. Return the result and
    the ids of the resources the operations name (`location`)."""
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
    return result, [op["location"].rsplit("/", 1)[1] for op in answered if op.get("location")]


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
    lines += [f"| {name} | {fmt(cpu)} | {wall:.2f} |" for name, cpu, wall in medians]
    create = ratio(medians[1][1], medians[0][1])
    adds = ratio(medians[3][1], medians[2][1])
    lines.append("")
    lines.append(f"Bulk create / single POSTs: {_two(create)} (target at most 0.33)")
    lines.append(f"Bulk of member-add PATCHes / one PATCH: {_two(adds)} (target about 1)")
    for name, (k, against) in {"creates": (1, 0), "member adds": (3, 2)}.items():
        ratios = [
            _two(ratio(_cpu_ms(row["results"][k]), _cpu_ms(row["results"][against])))
            for row in rows
        ]
        lines.append(f"  {name}, round by round: {', '.join(ratios)}")
    return "\n".join(lines)
