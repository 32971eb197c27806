#!/usr/bin/env python3
"""Measure what a rate limit adds to a request: the CPU of a request's token check and
`ratelimit.check()`, in this process (Django, psycopg) and in its PostgreSQL backend, beside
a `SELECT 1` round trip and the token check of a tenant without a limit.

Run it with the project's virtualenv against a migrated database:
`DATABASE_URL=... SECRET_KEY=... .venv/bin/python bench/ratelimit.py`. It issues a token of
the tenant `--tenant` (default `default`; deleted at the end), gives the tenant each limit
of `--limit` in turn (by default the cases of bench/README.md, "Rate limits"; its own limit
is restored at the end), and checks requests as one process sending them as fast as it can:
`10/s,1000000000`, a low rate with a burst that never runs out, was the worst case before
leases (a statement per request); `1000000/s,15` asks the bucket for each request (a bucket
holding fewer than 16 leases one at a time, and this one refills at once);
`100000/s,100000` is a generous limit. It runs in autocommit as a request does, and deletes
that tenant's bucket row after each limit. Each figure is the best of `--rounds` rounds of
`--calls` calls: the machine is shared, and the other work on it only ever adds time. The
statements and refusals per call are counted in a round of their own, not timed.

It also runs against the code from before the token check took leases (its tokens have no
`leased`, and `check` takes the tenant alone), which is how bench/README.md's "before"
figures were measured.
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

import datetime as dt  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from provisioning import ratelimit, tokens  # noqa: E402
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


def checker(secret: str):
    """Return a call that checks one request with the token `secret`, as the dispatcher
    does."""

    def check() -> None:
        token = tokens.authenticate(secret)
        leased = getattr(token, "leased", None)  # None before the token check took leases
        try:
            ratelimit.check(token.tenant, *([] if leased is None else [leased]))
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
    token, secret = tokens.issue(tenant, name="bench/ratelimit.py")
    # Its last use is "now" for the whole run: the token check writes no last use.
    token.last_used_at = timezone.now() + dt.timedelta(days=1)
    token.save()
    try:
        run(args, tenant, secret)
    finally:
        token.delete()
        Tenant.objects.filter(pk=tenant.pk).update(
            rate_limit=tenant.rate_limit, rate_limit_burst=tenant.rate_limit_burst
        )
        RateLimitBucket.objects.filter(tenant=tenant).delete()


def run(args, tenant: Tenant, secret: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    # (name, the tenant's limit meanwhile, the call)
    candidates = [("SELECT 1", "off", select_one), ("no limit", "off", checker(secret))]
    candidates += [(spec, spec, checker(secret)) for spec in args.limit or LIMITS]
    print(f"best of {args.rounds} rounds of {args.calls} calls, CPU ms per call:")
    for name, spec, call in candidates:
        rate, burst = ratelimit.parse(spec)
        Tenant.objects.filter(pk=tenant.pk).update(rate_limit=rate, rate_limit_burst=burst)
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
