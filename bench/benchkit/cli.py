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
import datetime as dt
import os
import platform
import random
import sys
import time
from pathlib import Path

import httpx2

from .bulk import bulk_compare, bulk_report
from .client import DEFAULT_BASE_URL, Server, population, preflight, send
from .groups import MEMBER_BATCH, groups
from .groups_report import groups_failed, groups_json, groups_report
from .reporting import export_line, markdown_table, write_json
from .results import Result, fmt
from .seeding import seed
from .watch import ServerWatch
from .workloads import PAGE_SIZE, cursor, export, lookup, pages, search

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


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
            f"{result.failed} failed; {fmt(e['users_per_s'])} users created/s"
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
