"""The edge proxy of the deployment (docker/edge: Debian's nginx, started here by its own
entrypoint) in front of the real granian server: every error a client meets at the edges of
HTTP is a SCIM error body with the right status, whether nginx refuses the request itself or
granian does, and the application's own answers pass through as they are."""

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

import httpx2
import pytest

from provisioning import app_settings, tokens
from provisioning.models import ChangeRecord
from tests.conftest import ROOT, SCIM_JSON, USER_SCHEMA, _free_port, _wait_for
from tests.live.test_http_edges import (
    assert_scim_error_over_http,
    chunked,
    exchange,
    request,
)

pytestmark = pytest.mark.live

ENTRYPOINT = str(ROOT / "docker" / "edge" / "entrypoint.sh")


@contextmanager
def edge(upstream: str, trusted_proxies: str = ""):
    """Run the edge proxy, one worker, in front of `upstream` (host:port); yield its URL."""
    assert shutil.which("nginx"), "nginx is missing: scripts/test.sh installs it"
    port = _free_port()
    # Its workers run as nobody when the tests run as root: they write request bodies there.
    state_dir = tempfile.mkdtemp(prefix="scim-edge-")
    os.chmod(state_dir, 0o755)
    env = {
        **os.environ,
        "EDGE_LISTEN": f"127.0.0.1:{port}",
        "EDGE_UPSTREAM": upstream,
        "EDGE_WORKERS": "1",
        "EDGE_STATE": state_dir,
        "SCIM_MAX_PAYLOAD_BYTES": str(app_settings.get("MAX_PAYLOAD_BYTES")),
        "SCIM_BULK_MAX_PAYLOAD_BYTES": str(app_settings.get("BULK_MAX_PAYLOAD_BYTES")),
        "EDGE_TRUSTED_PROXIES": trusted_proxies,
    }
    process = subprocess.Popen(["sh", ENTRYPOINT], env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def app_url(app_server):
    """A server that trusts its proxy's headers (BEHIND_PROXY), as the deployment's app does."""
    with app_server(workers=1, env={"BEHIND_PROXY": "true"}) as (url, _):
        yield url


@pytest.fixture(scope="module")
def edge_url(app_url):
    with edge(app_url.removeprefix("http://")) as url:
        yield url


@pytest.fixture
def token(transactional_db, tenant) -> str:
    return f"Bearer {tokens.issue(tenant, name='edge')[1]}"


def user_post(token: str, payload: bytes, *, in_chunks: bool = False) -> bytes:
    """Return a POST /Users of `payload`, with its length or in chunks of 7 bytes."""
    framing = "Transfer-Encoding: chunked" if in_chunks else f"Content-Length: {len(payload)}"
    return request(
        "POST",
        "/scim/v2/Users",
        f"Authorization: {token}",
        f"Content-Type: {SCIM_JSON}",
        framing,
        body=chunked(payload) if in_chunks else payload,
    )


def user_payload(user_name: str, **attributes) -> bytes:
    return json.dumps({"schemas": [USER_SCHEMA], "userName": user_name, **attributes}).encode()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        # Refused by nginx.
        (request("GET", "/scim/v2/Users?filter=" + "a" * 40_000), 414),
        (request("GET", "/scim/v2/Users", "X-Big: " + "b" * 40_000), 431),
        (request("G(T", "/scim/v2/Users"), 400),
        (request("get", "/scim/v2/Users"), 400),
        (request("GET", "/scim/v2/Users", "X-Nul: a\x00b"), 400),
        (b"GET /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n", 400),
        (request("TRACE", "/scim/v2/Users"), 405),
        (request("POST", "/scim/v2/Users", "Transfer-Encoding: gzip, chunked"), 501),
        (b"GET /scim/v2/Users HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 505),
        (request("GET", "/.scim-error"), 404),
        # Passed on by nginx, refused by granian with a bodiless answer.
        (request("GET", "/scim/v2/Users", *(f"X-Extra-{i}: 1" for i in range(150))), 431),
        (request("GET", "/scim/v2/Users", "X-Ctl: a\x01b"), 400),
    ],
    ids=[
        "huge-request-line",
        "huge-header",
        "malformed-method",
        "lowercase-method",
        "nul-in-header",
        "malformed-header",
        "trace",
        "unknown-transfer-coding",
        "http-2.0-request-line",
        "the-edges-own-path",
        "many-headers",
        "control-character-in-header",
    ],
)
def test_requests_that_are_not_http_get_scim_errors(edge_url, raw, status):
    assert_scim_error_over_http(exchange(edge_url, raw), status)


def test_body_over_the_limit_is_413_with_a_length_or_in_chunks(edge_url, token):
    limit = app_settings.get("MAX_PAYLOAD_BYTES")
    payload = user_payload("big", displayName="x" * limit)

    assert_scim_error_over_http(exchange(edge_url, user_post(token, payload)), 413)
    assert_scim_error_over_http(exchange(edge_url, user_post(token, payload, in_chunks=True)), 413)


def test_malformed_chunked_body_is_400(edge_url, token):
    raw = user_post(token, b"{}").replace(b"Content-Length: 2", b"Transfer-Encoding: chunked")

    assert_scim_error_over_http(exchange(edge_url, raw), 400)


def test_the_applications_answers_pass_through_untouched(edge_url, app_url, token):
    """The same request answered directly and through the edge: same status, same body."""
    for target in ("/scim/v2/Users?filter=nonsense", "/scim/v2/Users/missing"):
        raw = request("GET", target, f"Authorization: {token}")
        direct, through = exchange(app_url, raw), exchange(edge_url, raw)

        assert through[0] == direct[0] >= 400
        assert through[1]["content-type"] == direct[1]["content-type"]
        assert through[2] == direct[2]
    unauthenticated = exchange(edge_url, request("GET", "/scim/v2/Users"))
    assert_scim_error_over_http(unauthenticated, 401)
    assert unauthenticated[1]["www-authenticate"].startswith("Bearer")


def test_scim_requests_pass_with_the_clients_host_and_scheme(edge_url, token):
    """meta.location names the host and scheme the client used (X-Forwarded-*), not granian's."""
    with httpx2.Client(
        base_url=f"{edge_url}/scim/v2", headers={"Authorization": token}, timeout=30
    ) as client:
        created = client.post(
            "/Users", content=user_payload("through-edge"), headers={"Content-Type": SCIM_JSON}
        )
        assert created.status_code == 201, created.text
        location = created.json()["meta"]["location"]
        assert location == f"{edge_url}/scim/v2/Users/{created.json()['id']}"
        assert created.headers["location"] == location

        listed = client.get("/Users", params={"filter": 'userName eq "through-edge"'})
        assert listed.json()["totalResults"] == 1
        assert listed.json()["Resources"][0]["meta"]["location"] == location


def test_only_a_trusted_proxy_names_the_clients_scheme_and_address(app_url, token):
    """A client's own X-Forwarded-Proto and -For are replaced by what the edge saw; those of a
    proxy in EDGE_TRUSTED_PROXIES (a TLS terminator) are believed: meta.location's scheme and
    the change record's client address follow."""
    upstream = app_url.removeprefix("http://")
    for trusted, scheme, address in (
        ("", "http", "127.0.0.1"),
        ("127.0.0.1", "https", "203.0.113.7"),
    ):
        with edge(upstream, trusted_proxies=trusted) as url:
            host = url.removeprefix("http://")
            raw = user_post(token, user_payload(f"proxied-{scheme}")).replace(
                b"Host: 127.0.0.1",
                f"Host: {host}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7".encode(),
            )
            status, _, body = exchange(url, raw)

        assert status == 201, body
        created = json.loads(body)
        assert created["meta"]["location"] == f"{scheme}://{host}/scim/v2/Users/{created['id']}"
        assert ChangeRecord.objects.get(resource_id=created["id"]).client_ip == address


def test_chunked_post_passes_through(edge_url, token):
    raw = user_post(token, user_payload("chunky-edge"), in_chunks=True)

    status, _, body = exchange(edge_url, raw)

    assert status == 201, body
    assert json.loads(body)["userName"] == "chunky-edge"


def test_application_down_is_502_with_retry_after():
    """With nothing listening where granian should be, the edge answers for it."""
    with edge(f"127.0.0.1:{_free_port()}") as url:
        answer = exchange(url, request("GET", "/scim/v2/Users"))

    assert_scim_error_over_http(answer, 502)
    assert int(answer[1]["retry-after"]) > 0
