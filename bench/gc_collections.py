"""Count and time the garbage collector's work per request, in process (bench/README.md,
"The garbage collector").

    scripts/manage.sh shell -c "from bench import gc_collections; gc_collections.main('python')"

with 'python' (Python's collector as it comes: thresholds 700, 10, 10, nothing frozen),
'freeze' (`gc.freeze()` only), 'threshold:N' (the youngest generation's threshold N only) or
'worker' (what a served worker does: `scimserver.wsgi.settle`). It serves, through the WSGI
application in this process, LOOKUPS lookups by `userName eq`, then ROUNDS Bulks of 1,000
one-member adds to a fresh group and ROUNDS PATCHes adding the same 1,000 members to another,
and prints for each the CPU per request, the collections per request of each generation with
their CPU (`gc.callbacks`), and the process's RSS. It writes to the database it is given:
users, groups and a token named `gc-bench`, under the default tenant.
"""

import gc
import io
import json
import logging
import os
import statistics
import sys
import time
import uuid

from django.core.wsgi import get_wsgi_application

from provisioning import tokens

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def main(variant: str = "worker", lookups: int = 3000, rounds: int = 6, members: int = 1000):
    logging.disable(logging.INFO)  # a line per request would be most of a lookup's cost
    application = get_wsgi_application()
    _, secret = tokens.issue(tokens.default_tenant(), name="gc-bench")

    def call(method: str, path: str, body=None, query: str = "") -> bytes:
        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": f"/scim/v2{path}", "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {secret}",
            "HTTP_ACCEPT": "application/scim+json", "CONTENT_TYPE": "application/scim+json",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        }  # fmt: skip
        status = []
        answer = b"".join(application(environ, lambda s, headers, exc=None: status.append(s)))
        assert status[0][0] in "23", (status, answer[:300])
        return answer

    call("GET", "/ServiceProviderConfig")
    if variant == "freeze":
        gc.collect()
        gc.freeze()
    elif variant.startswith("threshold:"):
        gc.set_threshold(int(variant.split(":")[1]), *gc.get_threshold()[1:])
    elif variant == "worker":
        from scimserver import wsgi  # settles the collector as a worker imports it

        application = wsgi.application
    elif variant != "python":
        raise SystemExit(f"Unknown variant {variant!r}.")

    collections: dict[int, list] = {}
    started = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.process_time())
        else:
            done = collections.setdefault(info["generation"], [0, 0.0])
            done[0] += 1
            done[1] += time.process_time() - started.pop()

    gc.callbacks.append(watch)
    run = uuid.uuid4().hex[:6]
    names = [f"gc{run}{i}%40example.com" for i in range(60)]
    for name in names:
        call("POST", "/Users", {"schemas": [USER], "userName": name.replace("%40", "@")})

    def measure(label: str, request, count: int) -> None:
        collections.clear()
        cpu = []
        for i in range(count):
            start = time.process_time()
            request(i)
            cpu.append(time.process_time() - start)
        per_request = {
            generation: f"{n / count:.2f} ({seconds / count * 1000:.2f} ms)"
            for generation, (n, seconds) in sorted(collections.items())
        }
        print(
            f"{variant} {label}: CPU median {statistics.median(cpu) * 1000:.2f} ms, "
            f"mean {statistics.mean(cpu) * 1000:.2f} ms; collections per request by "
            f"generation {per_request or 'none'}; RSS {rss_mb()} MB",
            flush=True,
        )

    def lookup(i: int) -> None:
        call("GET", "/Users", query=f"filter=userName%20eq%20%22{names[i % 60]}%22")

    measure("lookup", lookup, lookups)
    created = json.loads(call("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}",
         "data": {"schemas": [USER], "userName": f"gcb{run}{i}"}}
        for i in range(members)
    ]}))  # fmt: skip
    ids = [o["location"].rsplit("/", 1)[1] for o in created["Operations"]]

    def fresh_groups() -> list[str]:
        return [
            json.loads(call("POST", "/Groups", {"schemas": [GROUP], "displayName": f"gc{uuid.uuid4()}"}))["id"]
            for _ in range(rounds)
        ]  # fmt: skip

    groups = fresh_groups()
    measure("Bulk of 1,000 member adds", lambda i: call("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "PATCH", "path": f"/Groups/{groups[i]}", "data": {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": member}]}]}}
        for member in ids
    ]}), rounds)  # fmt: skip
    groups = fresh_groups()
    measure("PATCH of 1,000 members", lambda i: call("PATCH", f"/Groups/{groups[i]}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": member} for member in ids]}
    ]}), rounds)  # fmt: skip
    measure("lookup again", lookup, lookups)


def rss_mb() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0
