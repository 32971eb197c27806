#!/usr/bin/env python3
"""Measure what a rate limit adds to a request: the CPU of one `ratelimit.check()`, in this
process (Django, psycopg) and in its PostgreSQL backend, beside a `SELECT 1` round trip.

Run it with the project's virtualenv against a migrated database:
`DATABASE_URL=... SECRET_KEY=... .venv/bin/python bench/ratelimit.py`. It checks each limit
of `--limit` (by default the cases of bench/README.md, "Rate limits") for the tenant
`--tenant` (default `default`), one after the other, as one process sending requests as fast
as it can: `10/s,1000000000`, a low rate with a burst that never runs out, was the worst
case before leases (a statement per request); `1000000/s,15` still asks the bucket for each
request (a bucket holding fewer than 16 leases one at a time, and this one refills at once);
`100000/s,100000` is a generous limit. It runs in autocommit as a request does, and deletes
that tenant's bucket row after each limit. Each figure is the best of `--rounds` rounds of
`--calls` calls: the machine is shared, and the other work on it only ever adds time. The
statements and refusals per call are counted in a round of their own, not timed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from provisioning import ratelimit  # noqa: E402
from provisioning.models import RateLimitBucket, Tenant  # noqa: E402
from provisioning.scim.errors import TooManyRequests  # noqa: E402

LIMITS = ["10/s,1000000000", "1000000/s,15", "100000/s,100000"]


def backend_cpu_seconds(pid: int) -> float:
    """Return the user and system CPU time of process `pid` (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def checker(tenant: Tenant):
    def check() -> None:
        try:
            ratelimit.check(tenant)
        except TooManyRequests:
            counts["refused"] += 1

    counts = {"refused": 0}
    check.counts = counts
    return check


def counted(call, calls: int) -> tuple[float, float]:
    """Return the statements and the refusals per call of `calls` calls."""
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    refused = getattr(call, "counts", {"refused": 0})
    before = refused["refused"]
    with connection.execute_wrapper(count):
        for _ in range(calls):
            call()
    return statements / calls, (refused["refused"] - before) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", action="append", help="N/s,BURST; repeat for several")
    args = parser.parse_args()

    tenant = Tenant.objects.get(slug=args.tenant)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    candidates = {"SELECT 1": select_one}
    for spec in args.limit or LIMITS:
        limited = Tenant.objects.get(pk=tenant.pk)
        limited.rate_limit, limited.rate_limit_burst = ratelimit.parse(spec)
        candidates[spec] = checker(limited)
    print(f"best of {args.rounds} rounds of {args.calls} calls, CPU ms per call:")
    for name, call in candidates.items():
        best: tuple[float, float] | None = None
        for _ in range(args.rounds):
            for _ in range(100):  # prepared after two runs; warm caches
                call()
            here, there = time.process_time(), backend_cpu_seconds(backend)
            for _ in range(args.calls):
                call()
            here = (time.process_time() - here) * 1000 / args.calls
            there = (backend_cpu_seconds(backend) - there) * 1000 / args.calls
            if best is None or here + there < sum(best):
                best = (here, there)
        statements, refused = counted(call, args.calls)
        RateLimitBucket.objects.filter(tenant=tenant).delete()
        here, there = best
        print(
            f"  {name:18} python {here:.3f}  postgres {there:.3f}  total {here + there:.3f}"
            f"  statements/call {statements:.4f}  refused/call {refused:.4f}"
        )


if __name__ == "__main__":
    main()
