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

The code is the package next to this file, `bench/benchkit/`, one module per concern: `client`
(HTTP, bounded runs), `watch` (the server's CPU time and SQL statements), `results`,
`seeding`, `workloads` (lookup, pages, search, cursor, export), `groups` and `groups_report`,
`bulk`, `reporting` and `cli`. This file checks for `httpx2` and runs `benchkit.cli`.
"""

import sys

try:
    import httpx2  # noqa: F401 - the package's one dependency, checked before importing it
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit(
        "scimbench: the 'httpx2' package is missing; run it with the project's virtualenv "
        "(.venv/bin/python bench/scimbench.py) or `pip install httpx2`."
    )

from benchkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
