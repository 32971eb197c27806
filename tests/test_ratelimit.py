"""Per-tenant rate limits (provisioning.ratelimit): a burst, then a steady rate; past it a 429
SCIM error with an integer `Retry-After` (RFC 6585 §4); other tenants unaffected.

The limits here refill one request per 100 s (0.01/s), so that how fast the machine sends
the requests cannot change what a test sees; refilling is shown by moving the bucket's
clock. tests/live/test_ratelimit.py shows the same over HTTP, shared by server processes.
"""

import pytest

from provisioning import ratelimit
from provisioning.models import RateLimitBucket
from tests.conftest import ERROR_SCHEMA

SLOW = 0.01  # one request per 100 s


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("25/s", (25.0, None)),
        ("25/s,50", (25.0, 50)),
        ("0.5/s,1", (0.5, 1)),
        ("off", (None, None)),
        ("OFF", (None, None)),
    ],
)
def test_parse(spec, expected):
    assert ratelimit.parse(spec) == expected


@pytest.mark.parametrize("spec", ["", "25", "25/m", "0/s", "-1/s", "25/s,0", "25/s,", "x/s"])
def test_parse_refuses(spec):
    with pytest.raises(ValueError, match="is not a rate limit"):
        ratelimit.parse(spec)


def limit(tenant, rate=SLOW, burst=None):
    tenant.rate_limit, tenant.rate_limit_burst = rate, burst
    tenant.save()


def assert_too_many(response, most_seconds: int) -> int:
    """Assert a 429 SCIM error without scimType (RFC 7644 Table 9 has none for it) and an
    integer Retry-After of 1 to `most_seconds`; return it."""
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": [ERROR_SCHEMA],
        "status": "429",
        "detail": "Too many requests: this connection's rate limit is exceeded.",
    }
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= most_seconds
    return retry_after


def test_a_burst_then_429_with_retry_after(scim, tenant):
    """Three requests pass (the burst), the fourth gets a 429 saying to wait about 100 s, the
    time one request takes to refill at 0.01/s."""
    limit(tenant, burst=3)

    assert [scim.get("/Users").status_code for _ in range(3)] == [200] * 3
    assert_too_many(scim.get("/Users"), most_seconds=100)
    # Refused requests are not counted: the wait does not grow to 200 s.
    assert_too_many(scim.post("/Users", {}), most_seconds=100)


def later(monkeypatch, seconds: float) -> None:
    """Move the clocks of the bucket (PostgreSQL's) and of this process `seconds` on."""
    RateLimitBucket.objects.update(tat=RateLimitBucket.objects.get().tat - seconds)
    now = ratelimit.monotonic() + seconds
    monkeypatch.setattr(ratelimit, "monotonic", lambda: now)


def test_the_bucket_refills(scim, tenant, monkeypatch):
    """Once the time of one request has passed, one more request passes, and only one."""
    limit(tenant, burst=2)
    assert [scim.get("/Users").status_code for _ in range(3)] == [200, 200, 429]

    later(monkeypatch, 100)

    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]


def test_a_full_bucket_is_refused_without_a_statement(
    scim, tenant, monkeypatch, django_assert_num_queries
):
    """Once the bucket was found full, the process refuses the tenant's requests itself until
    it has room again (only the token check runs), with the time left as Retry-After; then
    it asks the bucket again."""
    limit(tenant, burst=1)
    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]

    with django_assert_num_queries(1):
        assert_too_many(scim.get("/Users"), most_seconds=100)
    later(monkeypatch, 60)
    with django_assert_num_queries(1):
        assert assert_too_many(scim.get("/Users"), most_seconds=100) <= 40

    later(monkeypatch, 40)
    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]


def test_a_faster_limit_applies_at_once(scim, tenant):
    """After a slow limit's burst, a faster limit counts the bucket as empty, not as owing
    the slow limit's 300 s: the wait is one request's time under the new limit."""
    limit(tenant, burst=3)
    assert [scim.get("/Users").status_code for _ in range(4)] == [200, 200, 200, 429]

    limit(tenant, rate=1, burst=2)

    assert assert_too_many(scim.get("/Users"), most_seconds=1) == 1


def test_a_refusal_kept_under_one_limit_does_not_hold_under_another(
    scim, tenant, django_assert_num_queries
):
    """The process's own refusal belongs to the limit that found the bucket full: a request
    under another limit asks the bucket (the token check and the bucket's statement), and
    the refusal kept under the first limit is gone."""
    limit(tenant, burst=1)
    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]
    assert ratelimit._full_until[tenant.pk][1:] == (SLOW, 1)

    limit(tenant, rate=1000, burst=1000)
    with django_assert_num_queries(2):
        scim.get("/ServiceProviderConfig")
    assert ratelimit._full_until.get(tenant.pk, (0, 1000, 1000))[1:] == (1000, 1000)


def test_default_burst_is_one_seconds_worth(scim, tenant):
    tenant.rate_limit = 4
    assert ratelimit.burst(tenant) == 4
    tenant.rate_limit = 0.2
    assert ratelimit.burst(tenant) == 1


def test_other_tenants_are_unaffected(scim, tenant, make_tenant, make_client):
    """A throttled tenant leaves tenants without a limit, and tenants with their own limit,
    alone."""
    limited_too = make_tenant()
    limit(limited_too, burst=1)
    other, other_limited = make_client(make_tenant()), make_client(limited_too)
    limit(tenant, burst=1)

    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]
    assert [other.get("/Users").status_code for _ in range(5)] == [200] * 5
    assert [other_limited.get("/Users").status_code for _ in range(2)] == [200, 429]


def test_every_token_of_a_tenant_shares_its_limit(scim, tenant, make_client):
    limit(tenant, burst=2)
    second = make_client(tenant)
    assert [c.get("/Users").status_code for c in (scim, second, scim, second)] == [
        200,
        200,
        429,
        429,
    ]


def test_turning_the_limit_off_lets_everything_through(scim, tenant):
    limit(tenant, burst=1)
    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 429]
    limit(tenant, rate=None)
    assert [scim.get("/Users").status_code for _ in range(5)] == [200] * 5


def test_unauthenticated_requests_are_not_counted(scim, anonymous, tenant):
    """A bad token names no tenant: it gets its 401 and costs the tenant nothing."""
    limit(tenant, burst=1)
    for _ in range(3):
        assert anonymous.get("/Users").status_code == 401
    assert scim.get("/Users").status_code == 200
