#!/usr/bin/env python3
"""Measure what a rate limit adds to a request: the CPU of one `ratelimit.check()`, in this
process (Django, psycopg) and in its PostgreSQL backend, beside a `SELECT 1` round trip.

Run it with the project's virtualenv against a migrated database:
`DATABASE_URL=... SECRET_KEY=... .venv/bin/python bench/ratelimit.py`. It checks a limit of
10/s with a burst of a billion for the tenant `--tenant` (default `default`): below 20/s each
request runs the bucket's statement, and this burst never refuses. It runs in autocommit as a
request does, and deletes that tenant's bucket row at the end. Each figure is the best of
`--rounds` rounds of `--calls` calls: the machine is shared, and the other work on it only
ever adds time.
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


def backend_cpu_seconds(pid: int) -> float:
    """Return the user and system CPU time of process `pid` (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tenant = Tenant.objects.get(slug=args.tenant)
    tenant.rate_limit, tenant.rate_limit_burst = 10.0, 10**9
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    candidates = {"SELECT 1": select_one, "ratelimit.check": lambda: ratelimit.check(tenant)}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, call in candidates.items():
            for _ in range(100):  # prepared after two runs; warm caches
                call()
            here, there = time.process_time(), backend_cpu_seconds(backend)
            for _ in range(args.calls):
                call()
            here = (time.process_time() - here) * 1000 / args.calls
            there = (backend_cpu_seconds(backend) - there) * 1000 / args.calls
            if name not in best or here + there < sum(best[name]):
                best[name] = (here, there)
    RateLimitBucket.objects.filter(tenant=tenant).delete()
    print(f"best of {args.rounds} rounds of {args.calls} calls, CPU ms per call:")
    for name, (here, there) in best.items():
        print(f"  {name:16} python {here:.3f}  postgres {there:.3f}  total {here + there:.3f}")


if __name__ == "__main__":
    main()
