"""Measure what change records and webhooks cost (see bench/audit.sh and bench/README.md).

`cost`: the server (scimserver/server.py, 2 workers, as `make run`) serves the base commit and
this tree in turn, on the same database; 4 client threads send N creates, then N PATCHes (Okta's
deactivation). The CPU time of the server's processes and of the PostgreSQL backends serving
them is read from /proc before and after each phase. The third variant adds a webhook
endpoint and runs the worker, delivering to a local receiver while the requests are timed.

`throughput`: N pending events (one per resource, then 100 resources with N/100 events each)
are put in the outbox; the worker delivers them to a receiver on 127.0.0.1 and the time until
the last is marked delivered gives events/s.
"""

import argparse
import concurrent.futures
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import django
import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")
django.setup()
# The client's own log line per request would cost the machine more CPU than the server's work.
logging.getLogger("httpx2").setLevel(logging.WARNING)

from django.utils import timezone  # noqa: E402

from provisioning import signing, tokens  # noqa: E402
from provisioning.models import Tenant, WebhookDelivery, WebhookEndpoint  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def receiver() -> ThreadingHTTPServer:
    """Start a keep-alive HTTP receiver on 127.0.0.1 that answers 204 to every POST."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids) -> dict[int, float]:
    """Return the CPU time (user and system) each of these processes has used so far."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # it has just exited
        used[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return used


def used_since(before: dict[int, float], pids) -> float:
    """Return the CPU time these processes used since `before`; new ones count from zero."""
    return sum(seconds - before.get(pid, 0) for pid, seconds in cpu_seconds(pids).items())


def backends(postmaster_pid: int) -> list[int]:
    """Return the PostgreSQL backends serving the benchmark's database (not the cluster's
    background processes, whose work comes and goes on its own)."""
    from django.db import connection

    name = f" {connection.settings_dict['NAME']} ".encode()
    found = []
    for pid in children(postmaster_pid):
        try:
            if name in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except FileNotFoundError:
            continue
    return found


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def postmaster() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        (data,) = cursor.fetchone()
    return int(Path(data, "postmaster.pid").read_text().split()[0])


def serve(cwd: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scimserver.server"],
        cwd=cwd,
        env={
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(cwd),
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
        },
    )
    base = f"http://127.0.0.1:{port}/scim/v2"
    for _ in range(100):
        try:
            httpx2.get(base + "/ServiceProviderConfig")
            return process, base
        except httpx2.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def phase(base: str, secret: str, requests: list[tuple[str, str, dict]]) -> dict:
    """Send the requests with 4 threads; return the latencies (ms) and the failures."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"}
    latencies, failed = [], 0
    with httpx2.Client(headers=headers, timeout=60) as client:

        def one(request):
            method, path, body = request
            started = time.perf_counter()
            response = client.request(method, base + path, json=body)
            return time.perf_counter() - started, response

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for elapsed, response in pool.map(one, requests):
                latencies.append(elapsed * 1000)
                failed += response.status_code >= 300
    return {"latencies": latencies, "failed": failed}


def measure(variant: str, cwd: Path, tenant: Tenant, count: int, round_: int) -> dict:
    _, secret = tokens.issue(tenant, name=f"bench-{variant}")
    server, base = serve(cwd)
    pg = postmaster()
    try:
        prefix = f"{variant}-{round_}-{uuid.uuid4().hex[:6]}"
        schema = "urn:ietf:params:scim:schemas:core:2.0:User"
        creates = [
            (
                "POST",
                "/Users",
                {
                    "schemas": [schema],
                    "userName": f"{prefix}-{i}",
                    "active": True,
                    "name": {"givenName": "Bench", "familyName": f"User{i}"},
                    "emails": [{"value": f"{prefix}-{i}@example.com", "type": "work"}],
                },
            )
            for i in range(count)
        ]
        deactivate = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        }
        result = {}
        for name in ("create", "patch"):
            if name == "patch":
                users = tenant.users.filter(user_name__startswith=prefix)
                requests = [
                    ("PATCH", f"/Users/{pk}", deactivate)
                    for pk in users.values_list("pk", flat=True)
                ]
            else:
                requests = creates
            web = [server.pid, *children(server.pid)]
            before_web, before_pg = cpu_seconds(web), cpu_seconds(backends(pg))
            outcome = phase(base, secret, requests)
            used_web, used_pg = used_since(before_web, web), used_since(before_pg, backends(pg))
            result[name] = {
                "web_ms": used_web * 1000 / len(requests),
                "pg_ms": used_pg * 1000 / len(requests),
                "p50_ms": statistics.median(outcome["latencies"]),
                "failed": outcome["failed"],
            }
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def cost(args) -> None:
    tenant, _ = Tenant.objects.get_or_create(slug="bench-audit", defaults={"name": "bench"})
    with tempfile.TemporaryDirectory() as base_dir:
        archive = subprocess.run(
            ["git", "-C", args.repo, "archive", args.base_ref], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", base_dir], input=archive.stdout, check=True)
        results: dict[str, list[dict]] = {"base": [], "records": [], "records+webhooks": []}
        for round_ in range(args.rounds):
            # Every other round in reverse order, so that drift (a growing table, a busy
            # machine) weighs on every variant alike.
            for variant in list(results)[:: 1 if round_ % 2 == 0 else -1]:
                worker = hook = None
                if variant == "records+webhooks":
                    hook = receiver()
                    endpoint = WebhookEndpoint.objects.create(
                        tenant=tenant,
                        url=f"http://127.0.0.1:{hook.server_address[1]}/",
                        events=["user.*", "group.*"],
                        secret=signing.encrypt(signing.generate_secret()),
                    )
                    worker = subprocess.Popen(
                        [sys.executable, "manage.py", "scim_webhook", "run"], cwd=ROOT
                    )
                cwd = Path(base_dir) if variant == "base" else ROOT
                results[variant].append(measure(variant, cwd, tenant, args.requests, round_))
                if worker:
                    worker.terminate()
                    worker.wait()
                    pending = WebhookDelivery.objects.filter(
                        endpoint=endpoint, status="pending"
                    ).count()
                    endpoint.delete()
                    hook.shutdown()
                    print(f"  (worker left {pending} events pending when stopped)")
                print(variant, round_, results[variant][-1], flush=True)
    print(
        "\n| variant | operation | server CPU ms/req | PostgreSQL CPU ms/req | total | vs base | client p50 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for operation in ("create", "patch"):
        base_total = None
        for variant, runs in results.items():
            # Medians over the rounds: one round on a momentarily idle (or busy) machine
            # would drag a mean.
            web = statistics.median(r[operation]["web_ms"] for r in runs)
            pg = statistics.median(r[operation]["pg_ms"] for r in runs)
            p50 = statistics.median(r[operation]["p50_ms"] for r in runs)
            total = web + pg
            base_total = base_total or total
            print(
                f"| {variant} | {operation} | {web:.2f} | {pg:.2f} | {total:.2f} | {100 * (total / base_total - 1):+.1f}% | {p50:.1f} |"
            )


def throughput(args) -> None:
    tenant, _ = Tenant.objects.get_or_create(slug="bench-audit", defaults={"name": "bench"})
    hook = receiver()
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant,
        url=f"http://127.0.0.1:{hook.server_address[1]}/",
        events=["user.*"],
        secret=signing.encrypt(signing.generate_secret()),
    )
    try:
        for resources in (args.events, 100):
            per_resource = args.events // resources
            now = timezone.now()
            ids = [uuid.uuid4() for _ in range(resources)]
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        tenant=tenant,
                        endpoint=endpoint,
                        event_id=uuid.uuid4(),
                        event_type="user.updated",
                        resource_id=ids[i % resources],
                        created=now,
                        next_attempt_at=now,
                        data={
                            "resourceType": "User",
                            "id": str(ids[i % resources]),
                            "externalId": None,
                            "userName": f"user{i}@example.com",
                            "version": 2,
                            "changes": {"active": False},
                        },
                    )
                    for i in range(resources * per_resource)
                ],
                batch_size=2000,
            )
            started = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "scim_webhook", "run"], cwd=ROOT
            )
            while WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists():
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            worker.terminate()
            worker.wait()
            total = resources * per_resource
            print(
                f"{total} events, {resources} resources ({per_resource} each): {elapsed:.2f} s, {total / elapsed:.0f} events/s (worker start included)"
            )
    finally:
        endpoint.delete()
        hook.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--requests", type=int, default=1500)
    c.add_argument("--rounds", type=int, default=2)
    c.add_argument("--base-ref", default=os.environ.get("BENCH_BASE_REF", "66b5094"))
    c.add_argument("--repo", default=str(ROOT), help="The git repository holding --base-ref.")
    t = sub.add_parser("throughput")
    t.add_argument("--events", type=int, default=10000)
    args = parser.parse_args()
    {"cost": cost, "throughput": throughput}[args.command](args)


if __name__ == "__main__":
    main()
