"""CPU per request of what the operations work added to the request path: the metrics in
prometheus_client's multiprocess mode (values written to memory-mapped files, as under
granian), the log line's fields, the operations middleware's lookup, and a request line
formatted as text and as JSON.

    .venv/bin/python bench/metrics_cost.py

Each figure is the best of 5 loops of 200,000 calls, in CPU time (`time.process_time`), so a
busy machine moves it little. README.md, "Observability", has the figures and the end-to-end
comparison.
"""

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

CALLS = 200_000


def per_call_us(function) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(CALLS):
            function()
        best = min(best, (time.process_time() - started) / CALLS)
    return best * 1e6


def fields() -> dict:
    return {
        "method": "GET",
        "path": "/scim/v2/Users",
        "status": 200,
        "duration_ms": round(3.14, 1),
        "tenant": "acme",
        "sql": 2,
        "scim_type": None,
        "request_id": "0f8e9c2b",
    }


def main() -> None:
    # Multiprocess mode is chosen when the first metric is made: set the directory first.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-cost-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("DATABASE_URL", "postgresql://bench@localhost/bench")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from provisioning import metrics
    from provisioning.logs import JSONFormatter

    record = logging.LogRecord(
        "provisioning.requests",
        logging.INFO,
        __file__,
        1,
        "%s %s %s %.1fms tenant=%s sql=%d%s",
        ("GET", "/scim/v2/Users", 200, 3.14, "acme", 2, ""),
        None,
    )
    record.fields = fields()
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    views = {"/health/live": None, "/health/ready": None, "/metrics": None}
    costs = {
        "metrics of a request (3)": lambda: metrics.observe_request(
            "scim:users", "GET", 200, "acme", 0.00314, 2
        ),
        "metric of a SCIM error": lambda: metrics.observe_error(400, "invalidFilter"),
        "log line fields": fields,
        "operations lookup": lambda: views.get("/scim/v2/Users"),
        "request line as text": lambda: text.format(record),
        "request line as JSON": lambda: JSONFormatter().format(record),
    }
    for name, function in costs.items():
        print(f"{name:28s} {per_call_us(function):6.2f} µs")


if __name__ == "__main__":
    main()
