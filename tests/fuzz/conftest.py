"""The fuzz suite: Hypothesis sends generated requests to the live server (granian, over
real HTTP) and checks what every answer must be, whatever the input (issue 8):

* never a 5xx, but the 501 that RFC 7644 §3.11 prescribes for /Me;
* every 4xx a SCIM error (RFC 7644 §3.12): the Error schema, `status` as the code in a
  string, a detail, and a scimType that status and request allow;
* nothing written when a write is answered with an error.

`make test` gives each test the `default` profile's small budget (the same examples every run);
`make fuzz` loads the `long` profile, FUZZ_EXAMPLES random examples per test, and the run ends
with the count of requests sent and of 5xx answers.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx2
import pytest
from django.db import connection
from hypothesis import HealthCheck, assume, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from provisioning.models import Group, Membership, Tenant, User, UserValue
from tests.conftest import ERROR_SCHEMA, GROUP_SCHEMA, ROOT, USER_SCHEMA
from tests.fuzz.strategies import SEEDS_PER_KIND, resolve, seed

# Each failure names its request; httpx2's line per request would only bury it.
logging.getLogger("httpx2").setLevel(logging.WARNING)

settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    derandomize=True,
    # One live server and one tenant serve all the examples of a test, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    parent=settings.get_profile("default"),
    max_examples=int(os.environ.get("FUZZ_EXAMPLES") or 12000),
    derandomize=False,
    # A derandomized profile keeps no examples; this one keeps failures, to replay them first.
    database=DirectoryBasedExampleDatabase(ROOT / ".hypothesis" / "examples"),
)
settings.load_profile("long" if os.environ.get("FUZZ_EXAMPLES") else "default")

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# RFC 7644 §3.12 Table 9 (and RFC 9865's invalidCursor): the scimTypes a 400 may carry.
BAD_REQUEST_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "mutability",
        "invalidCursor",
    }
)
SCIM_TYPES_BY_STATUS = {
    400: BAD_REQUEST_TYPES,
    401: {None},
    403: {None, "sensitive"},
    404: {None},
    405: {None},
    406: {None},
    409: {"uniqueness"},
    412: {None},
    413: {None},
    415: {None},
    501: {None},
}
UNIMPLEMENTED = re.compile(r"^/scim/v2/Me(/.*)?$")
# Generated URLs stay well within the server's request-line limit, so each reaches the app.
MAX_URL = 3900


@dataclass
class Tally:
    """What the fuzz tests of this run sent and got."""

    requests: int = 0
    server_errors: int = 0
    seconds: float = 0.0


TALLY = Tally()


def fingerprint(tenant: Tenant) -> tuple:
    """Return what a committed write to the tenant always changes: the count, versions and
    last change of its users and groups, and the count and newest row of their value and
    membership rows. (Versions only grow, and every change moves one.) One query: it runs
    around every write the suite sends."""
    resources = (
        f"SELECT count(*), sum(version), max(last_modified) FROM {model._meta.db_table} "
        "WHERE tenant_id = %(tenant)s"
        for model in (User, Group)
    )
    rows = (
        f"SELECT count(*), max(id), NULL FROM {model._meta.db_table} WHERE tenant_id = %(tenant)s"
        for model in (UserValue, Membership)
    )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join((*resources, *rows)), {"tenant": tenant.pk})
        return tuple(cursor.fetchall())


def query_string(params: dict[str, str]) -> str:
    """Return `params` as a query string, text that UTF-8 cannot encode sent as its raw bytes."""
    return "&".join(
        f"{quote(key.encode('utf-8', 'surrogatepass'), safe='')}="
        f"{quote(value.encode('utf-8', 'surrogatepass'), safe='')}"
        for key, value in params.items()
    )


def encode(body, *, ascii_only: bool = True) -> bytes:
    """Return `body` as JSON bytes: lone surrogates as escapes, or (not `ascii_only`) as the
    bytes UTF-8 cannot decode."""
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


class FuzzClient:
    """Send requests to the live server as a tenant, and check every answer."""

    def __init__(self, http, tenant: Tenant, ids: dict[str, str]) -> None:
        self.http = http
        self.tenant = tenant
        self.ids = ids
        self._counter = itertools.count()
        # The tenant's fingerprint, while no write can have changed it since it was taken.
        self._fingerprint: tuple | None = None

    def fresh(self, prefix: str) -> str:
        """Return a name never used before in this test, so a write always changes something
        (also when Hypothesis replays an example)."""
        return f"{prefix}-{next(self._counter)}"

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body=None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        scim_types: frozenset[str] | None = None,
        ascii_only: bool = True,
    ):
        """Send a request (placeholders resolved) and check its answer.

        `body` is sent as JSON (see `encode`), `content` as it is. A 400 must carry one of
        `scim_types` (by default any of Table 9).
        """
        url = quote(resolve(path, self.ids).encode("utf-8", "surrogatepass"), safe="/")
        if params:
            url += "?" + query_string(resolve(params, self.ids))
        assume(len(url) <= MAX_URL)
        if body is not None:
            content = encode(resolve(body, self.ids), ascii_only=ascii_only)
        headers = {"Content-Type": "application/scim+json", **(headers or {})}
        before = None
        if method in WRITES:
            before = self._fingerprint or fingerprint(self.tenant)
            self._fingerprint = None
        response = self.http.request(method, url, content=content, headers=headers)
        TALLY.requests += 1
        status = response.status_code
        if status >= 500 and not (status == 501 and UNIMPLEMENTED.match(response.url.path)):
            TALLY.server_errors += 1
            pytest.fail(f"{status} for {method} {url} {content!r}:\n{response.text}")
        if status >= 400:
            self._check_error(response, method, scim_types)
            if before is not None:
                assert fingerprint(self.tenant) == before, (
                    f"{method} {url} {content!r} was answered {status}, yet it wrote"
                )
                self._fingerprint = before
        elif method != "HEAD" and status not in (204, 304):
            response.json()  # a success has a whole JSON body, streamed or not
        return response

    @staticmethod
    def _check_error(response, method: str, scim_types: frozenset[str] | None) -> None:
        status = response.status_code
        assert status in SCIM_TYPES_BY_STATUS, f"{status}: {response.text}"
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if method == "HEAD":
            return
        assert response.headers["Content-Type"].startswith(
            ("application/scim+json", "application/json")
        ), response.headers["Content-Type"]
        body = response.json()
        assert body["schemas"] == [ERROR_SCHEMA], body
        assert body["status"] == str(status), body
        assert isinstance(body["detail"], str) and body["detail"], body
        scim_type = body.get("scimType")
        assert scim_type in SCIM_TYPES_BY_STATUS[status], body
        if status == 400 and scim_types is not None:
            assert scim_type in scim_types, body


def _seed(http) -> dict[str, str]:
    """Create the resources the tests write to, related as IdPs relate them; return their ids
    by placeholder."""
    ids = {}
    for i in range(SEEDS_PER_KIND):
        user = {
            "schemas": [USER_SCHEMA],
            "userName": f"seed{i}",
            "emails": [{"value": f"seed{i}@example.com", "type": "work", "primary": True}],
        }
        ids[seed("user", i)] = http.post("/Users", json=user).json()["id"]
    for i in range(SEEDS_PER_KIND):
        members = [{"value": ids[seed("user", i)]}]
        if i:
            members.append({"value": ids[seed("group", i - 1)]})  # nested: g1 ⊃ g0, g2 ⊃ g1
        group = {"schemas": [GROUP_SCHEMA], "displayName": f"Seed {i}", "members": members}
        ids[seed("group", i)] = http.post("/Groups", json=group).json()["id"]
    return ids


@pytest.fixture
def fuzz(live_client, tenant) -> FuzzClient:
    """A checking client of the live server, for a tenant with seeded users and groups."""
    started = time.monotonic()
    with httpx2.Client(
        base_url=live_client.base_url,
        headers=live_client.headers,
        timeout=60,
        # A connection per request, as an IdP's connector opens them; no idle connection can
        # be closed by the server just as a request goes out on it.
        limits=httpx2.Limits(max_keepalive_connections=0),
    ) as http:
        yield FuzzClient(http, tenant, _seed(http))
    TALLY.seconds += time.monotonic() - started


def pytest_terminal_summary(terminalreporter) -> None:
    if TALLY.requests:
        terminalreporter.write_line(
            f"fuzz: {TALLY.requests} requests in {TALLY.seconds:.0f} s, "
            f"{TALLY.server_errors} answered with a 5xx"
        )
