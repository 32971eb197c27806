"""Operations over real HTTP: metrics added up across granian's worker processes (multiprocess
mode, emptied at start), the readiness probe of a server whose database does not answer, and
JSON request lines that carry the X-Request-ID the response returns."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from provisioning import tokens
from tests.conftest import _free_port, live_database_url, serve

pytestmark = pytest.mark.live

METRICS_TOKEN = "live-metrics-token-0123456789"
LABELS = {"endpoint": "scim:users", "method": "GET", "status": "200", "tenant": "acme"}


def requests_total(base_url: str) -> float:
    response = httpx2.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "scim_requests_total" and sample.labels == LABELS:
                return sample.value
    return 0.0


def test_metrics_add_up_every_worker_and_start_from_zero(transactional_db, tenant, tmp_path):
    """Requests spread over two worker processes are all counted by any scrape; a count left
    in the directory by an earlier run is not (scimserver/server.py empties it at start)."""
    stale = MmapedDict(str(tmp_path / "counter_1.db"))
    key = mmap_key("scim_requests", "scim_requests_total", list(LABELS), list(LABELS.values()), "")
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    _, secret = tokens.issue(tenant, name="live")
    env = {"METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with serve(live_database_url(), workers=2, env=env) as url:
        assert requests_total(url) == 0

        def get(_):
            # A connection each, so that both workers take some.
            return httpx2.get(
                f"{url}/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"}
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(get, range(40))) == {200}
        assert requests_total(url) == 40
        assert requests_total(url) == 40  # a scrape is not counted
    assert not (tmp_path / "counter_1.db").exists()


def test_ready_says_unavailable_while_the_database_does_not_answer(db):
    """Live answers; ready is a 503 with Retry-After, as is a SCIM request (RFC 7644 §3.12)."""
    unreachable = f"postgresql://postgres@127.0.0.1:{_free_port()}/nothing"
    with serve(unreachable, workers=1, env={"LOG_LEVEL": "CRITICAL"}) as url:
        assert httpx2.get(f"{url}/health/live").status_code == 200
        ready = httpx2.get(f"{url}/health/ready")
        assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
        assert ready.headers["Retry-After"] == "5"
        scim = httpx2.get(f"{url}/scim/v2/Users", headers={"Authorization": "Bearer x"})
        assert scim.status_code == 503


def test_json_request_lines_carry_the_request_id(transactional_db, tenant, tmp_path):
    """LOG_FORMAT=json: one JSON object per request line, with the response's X-Request-ID;
    probes leave no line."""
    _, secret = tokens.issue(tenant, name="live")
    log = tmp_path / "server.log"
    env = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    with (
        log.open("w") as output,
        serve(live_database_url(), workers=1, env=env, log=output) as url,
    ):
        httpx2.get(f"{url}/health/live")
        httpx2.get(f"{url}/health/ready")
        headers = {"Authorization": f"Bearer {secret}", "X-Request-ID": "okta-7f3a"}
        own = httpx2.get(f"{url}/scim/v2/Users", headers=headers)
        del headers["X-Request-ID"]
        made = httpx2.get(f"{url}/scim/v2/Users/missing", headers=headers)
    # Every line is JSON, granian's own (start, workers) included.
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"_granian", "provisioning.requests"} <= {line["logger"] for line in lines}
    requests = [line for line in lines if line["logger"] == "provisioning.requests"]
    assert [(r["method"], r["path"], r["status"], r["request_id"]) for r in requests] == [
        ("GET", "/scim/v2/Users", 200, own.headers["X-Request-ID"]),
        ("GET", "/scim/v2/Users/missing", 404, made.headers["X-Request-ID"]),
    ]
    assert own.headers["X-Request-ID"] == "okta-7f3a"
    assert requests[0]["tenant"] == "acme" and requests[0]["sql"] >= 1
