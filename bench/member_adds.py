"""Time member adds over HTTP by one server worker's CPU (bench/README.md, "The garbage
collector"): ROUNDS Bulks of 1,000 one-member adds and ROUNDS PATCHes of 1,000 members,
alternated, each to a fresh group, nothing else in between.

    .venv/bin/python bench/member_adds.py BASE_URL TOKEN WORKER_PID [ROUNDS]

WORKER_PID is the one granian worker of a server started with WEB_CONCURRENCY=1 (`pgrep -P`
of its main process). The worker's CPU (utime and stime in /proc, in clock ticks) is summed
over the rounds of each kind and printed per request, with the worker's RSS at the end.
`scimbench.py bulk` interleaves creates between its rounds, and reports medians of a
10 ms clock; this runs only the two requests, many times, and sums them.
"""

import json
import os
import sys
import urllib.request
import uuid

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def main(base: str, token: str, pid: int, rounds: int = 20) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def call(method: str, path: str, body: dict):
        request = urllib.request.Request(
            base + path, json.dumps(body).encode(), headers, method=method
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = response.read()
        return json.loads(answer) if answer else None

    def cpu_seconds() -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    run = uuid.uuid4().hex[:6]
    created = call("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}",
         "data": {"schemas": [USER], "userName": f"ma{run}{i}"}}
        for i in range(1000)
    ]})  # fmt: skip
    members = [o["location"].rsplit("/", 1)[1] for o in created["Operations"]]
    groups = [
        call("POST", "/Groups", {"schemas": [GROUP], "displayName": f"ma{run}{i}"})["id"]
        for i in range(2 * rounds)
    ]
    spent = {"Bulk": 0.0, "PATCH": 0.0}
    for _ in range(rounds):
        group = groups.pop()
        start = cpu_seconds()
        call("POST", "/Bulk", {"schemas": [BULK], "Operations": [
            {"method": "PATCH", "path": f"/Groups/{group}", "data": {"schemas": [PATCH],
             "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}}
            for member in members
        ]})  # fmt: skip
        spent["Bulk"] += cpu_seconds() - start
        group = groups.pop()
        start = cpu_seconds()
        call("PATCH", f"/Groups/{group}", {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": m} for m in members]}
        ]})  # fmt: skip
        spent["PATCH"] += cpu_seconds() - start
    with open(f"/proc/{pid}/status") as status:
        rss = next(line.split()[1] for line in status if line.startswith("VmRSS"))
    print(
        f"worker CPU per request over {rounds} rounds: Bulk of 1,000 member adds "
        f"{spent['Bulk'] / rounds * 1000:.1f} ms, PATCH of 1,000 members "
        f"{spent['PATCH'] / rounds * 1000:.1f} ms, ratio {spent['Bulk'] / spent['PATCH']:.2f}; "
        f"worker RSS {int(rss) // 1024} MB"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *(int(a) for a in sys.argv[4:5]))
