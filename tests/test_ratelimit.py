"""Per-tenant rate limits (provisioning.ratelimit): a burst, then a steady rate; past it a 429
SCIM error with an integer `Retry-After` (RFC 6585 §4); other tenants unaffected.

The limits here refill one request per 100 s (0.01/s), so that how fast the machine sends
the requests cannot change what a test sees; refilling is shown by moving the bucket's
clock. tests/live/test_ratelimit.py shows the same over HTTP, shared by server processes.
"""

import functools
import threading
import time

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provisioning import ratelimit, tokens
from provisioning.models import RateLimitBucket, Token
from provisioning.scim.errors import TooManyRequests
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


# Leases (provisioning.ratelimit): a process takes several requests in one statement. These
# tests call the check itself, in "processes" that each have their own leases and refusals
# and share the bucket, and hold each process's clock still unless a test moves it.


class Process:
    """One server process's view of the limit: its own leases and refusals, its clock."""

    def __init__(self, monkeypatch, now: float):
        self.monkeypatch, self.now = monkeypatch, now
        self.leases, self.full_until = {}, {}

    def admit(self, tenant, n: int = 1) -> tuple[int, int]:
        """Send `n` requests of `tenant` through this process's check; return how many were
        let through and how many statements ran."""
        self.monkeypatch.setattr(ratelimit, "_leases", self.leases)
        self.monkeypatch.setattr(ratelimit, "_full_until", self.full_until)
        self.monkeypatch.setattr(ratelimit, "monotonic", lambda: self.now)
        admitted = 0
        with CaptureQueriesContext(connection) as statements:
            for _ in range(n):
                try:
                    ratelimit.check(tenant)
                except TooManyRequests as error:
                    assert 1 <= int(error.headers["Retry-After"]) <= 100
                else:
                    admitted += 1
        return admitted, len(statements)


@pytest.fixture
def processes(monkeypatch):
    now = ratelimit.monotonic()
    return Process(monkeypatch, now), Process(monkeypatch, now)


def bucket_later(seconds: float) -> None:
    """Move the bucket's clock (PostgreSQL's) `seconds` on."""
    RateLimitBucket.objects.update(tat=RateLimitBucket.objects.get().tat - seconds)


def test_two_processes_leasing_let_exactly_the_burst_through(tenant, processes):
    """Two processes take turns, 5 requests each, for one tenant allowed a burst of 100: each
    leases 1, 2, 4, ... requests, never more than an eighth of what the bucket holds, so one
    at a time once it holds fewer than 16. Together they let exactly 100 through, with 38
    statements (36 leases, and each process once finding the bucket empty); then each
    refuses the tenant itself."""
    limit(tenant, burst=100)
    first, second = processes
    admitted = statements = 0
    for _ in range(20):
        for process in processes:
            passed, asked = process.admit(tenant, 5)
            admitted, statements = admitted + passed, statements + asked

    assert (admitted, statements) == (100, 38)
    assert first.admit(tenant, 10) == second.admit(tenant, 10) == (0, 0)


def test_a_lease_lapses_as_the_bucket_refills(tenant, processes, monkeypatch):
    """What a lease has not used lapses as the bucket regains it, so a process's lease and
    the refilled bucket together never pass more than the burst: the first process leased
    14 requests of a burst of 64 and used 8; once the bucket is full again, the second
    passes 64 requests at once, and the first none (its 6 lapsed)."""
    monkeypatch.setattr(ratelimit, "LEASE_SECONDS", 10**6)  # only lapsing ends the lease
    limit(tenant, burst=64)
    first, second = processes
    assert first.admit(tenant, 8) == (8, 4)  # leases of 1, 2, 4 and 7 (57 // 8)

    bucket_later(1400)  # the time of the 14 requests taken: the bucket is full
    first.now += 1400

    assert second.admit(tenant, 100) == (64, 30)
    assert first.admit(tenant, 100) == (0, 1)


def test_a_lease_partly_lapsed_keeps_what_is_left(tenant, processes, monkeypatch):
    """Halfway to the lease's end, what it holds is what the time left is worth."""
    monkeypatch.setattr(ratelimit, "LEASE_SECONDS", 10**6)
    limit(tenant, burst=1000)
    (process, _) = processes
    assert process.admit(tenant, 4) == (4, 3)  # the lease of 4 keeps 3, until 700 s on

    bucket_later(550)
    process.now += 550  # 150 s left: one request's worth

    assert process.admit(tenant, 1) == (1, 0)
    assert process.admit(tenant, 1) == (1, 1)


def test_an_idle_lease_is_dropped_after_a_second(tenant, processes):
    """A lease unused for LEASE_SECONDS is dropped, not returned: the next request asks the
    bucket, for one request again, and the bucket lacks the 3 dropped until it refills."""
    limit(tenant, burst=64)
    (process, other) = processes
    assert process.admit(tenant, 4) == (4, 3)  # leases of 1, 2 and 4: 3 left

    process.now += ratelimit.LEASE_SECONDS
    assert process.admit(tenant, 2) == (2, 2)  # a lease of 1, then one of 2: 1 left
    assert other.admit(tenant, 100) == (64 - 7 - 3, 29)


def test_a_lease_does_not_outlive_its_limit(tenant, processes):
    """A lease taken under one limit is not used under another: the next request under the
    new limit asks the bucket, which (a burst of 5 after 7 requests) is empty."""
    limit(tenant, burst=1000)
    (process, _) = processes
    assert process.admit(tenant, 4) == (4, 3)  # a lease of 4 keeps 3

    limit(tenant, burst=5)

    assert process.admit(tenant, 1) == (0, 1)
    assert process.admit(tenant, 5) == (0, 0)


def test_a_statement_that_waited_for_the_row_does_not_refill_the_bucket(transactional_db, tenant):
    """A statement reads PostgreSQL's clock when it starts, before it waits for the bucket's
    row. One that waited while a later statement leased the bucket empty must not measure the
    bucket at its earlier instant (when it was fuller) and give those requests out again:
    the three leases below, all within a few milliseconds, get at most the burst (plus the
    one request the bucket regains every 10 ms)."""
    rate, size = 100.0, 5
    params = {
        "tenant": tenant.pk,
        "interval": 1 / rate,
        "window": size / rate,
        "share": 1,
        "want": size,
        "first": size,
    }
    settings = connection.get_connection_params()
    connect = functools.partial(
        psycopg.connect,
        **{key: settings[key] for key in ("dbname", "host", "port", "user") if key in settings},
    )
    with connect(autocommit=True) as first, connect(autocommit=True) as waiting, connect() as later:
        RateLimitBucket.objects.create(tenant=tenant, tat=0, taken=0)  # a full bucket
        later.execute(
            f"SELECT 1 FROM {RateLimitBucket._meta.db_table} WHERE tenant_id = %s FOR UPDATE",
            [tenant.pk],
        )
        waited = {}
        thread = threading.Thread(
            target=lambda: waited.update(
                taken=waiting.execute(ratelimit._SQL, params).fetchone()[0]
            )
        )
        thread.start()
        pid = waiting.info.backend_pid
        while not first.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()[0]:
            time.sleep(0.005)
        time.sleep(0.05)  # five intervals between the waiting statement's clock and the next
        (leased,) = later.execute(ratelimit._SQL, params).fetchone()[:1]
        later.commit()
        thread.join()
        (after,) = first.execute(ratelimit._SQL, params).fetchone()[:1]

    # The whole burst, but for the float rounding of epoch seconds, which can cost one.
    assert size - 1 <= leased <= size
    assert leased + waited["taken"] + after <= size + 1


# The lease taken in the token check (provisioning.tokens): a process that knows a token's
# tenant is limited leases with the token's read, and pays no statement of its own.


class TokenProcess(Process):
    """A process as above whose requests go through the token check, as a request's do."""

    def __init__(self, monkeypatch, now: float):
        super().__init__(monkeypatch, now)
        self.known = {}

    def request(self, secret: str, n: int = 1) -> tuple[int, int, int]:
        """Send `n` requests with the token `secret`; return how many were let through, how
        many were refused as over the limit, and how many statements ran (token checks
        included)."""
        for name, value in (("_leases", self.leases), ("_full_until", self.full_until)):
            self.monkeypatch.setattr(ratelimit, name, value)
        self.monkeypatch.setattr(tokens, "_known", self.known)
        self.monkeypatch.setattr(ratelimit, "monotonic", lambda: self.now)
        admitted = refused = 0
        with CaptureQueriesContext(connection) as statements:
            for _ in range(n):
                token = tokens.authenticate(secret)
                assert token is not None
                try:
                    ratelimit.check(token.tenant, token.leased)
                except TooManyRequests as error:
                    assert 1 <= int(error.headers["Retry-After"]) <= 100
                    refused += 1
                else:
                    admitted += 1
        return admitted, refused, len(statements)


@pytest.fixture
def token_processes(monkeypatch):
    now = ratelimit.monotonic()
    return TokenProcess(monkeypatch, now), TokenProcess(monkeypatch, now)


@pytest.fixture
def secret(tenant):
    token, secret = tokens.issue(tenant, name="test")
    token.last_used_at = timezone.now()  # its last use is not written during the tests
    token.save()
    return secret


def test_a_small_burst_is_leased_in_the_token_check(tenant, secret, token_processes):
    """Two processes take turns, 3 requests each, for a tenant allowed a burst of 10 (each
    request asks the bucket): each process's first request asks it with a statement of its
    own, every other one in its token check, and exactly 10 pass. Then the requests are
    refused, the first of each process in its token check, the next by the process itself:
    a statement each, the token check."""
    limit(tenant, burst=10)
    first, second = token_processes
    outcomes = [p.request(secret, 3) for p in (first, second, first, second)]
    assert outcomes == [(3, 0, 4), (3, 0, 4), (3, 0, 3), (1, 2, 3)]
    assert first.request(secret, 3) == (0, 3, 3)
    assert second.request(secret, 3) == (0, 3, 3)


def test_the_token_check_leases_in_growing_batches(tenant, secret, token_processes):
    """With a large burst the token check leases 1, 2, 4, ... as the bucket's own statement
    does: of 127 requests, 7 ask the bucket (the 1st with a statement of its own)."""
    limit(tenant, burst=10_000)
    (process, _) = token_processes
    assert process.request(secret, 127) == (127, 0, 128)
    assert RateLimitBucket.objects.get().taken == 64


def test_a_tenant_without_a_limit_runs_the_plain_token_check(tenant, secret, token_processes):
    """A tenant that has no limit (any more) is checked by the token check alone, which
    leases nothing and touches no bucket."""
    limit(tenant, burst=10)
    (process, _) = token_processes
    assert process.request(secret, 2) == (2, 0, 3)
    limit(tenant, rate=None)

    with CaptureQueriesContext(connection) as statements:
        assert process.request(secret, 3) == (3, 0, 3)  # the first still leases: no bucket
    assert [s["sql"].lstrip().startswith("WITH") for s in statements] == [True, False, False]
    assert RateLimitBucket.objects.get().taken == 1


def test_a_lease_in_hand_does_not_outlive_its_limit(tenant, secret, token_processes):
    """A process holding a lease runs the plain token check, which reads the tenant's limit:
    under a new limit the lease is not used, and the bucket (a burst of 5 after 7 requests
    taken) is asked, and found empty."""
    limit(tenant, burst=1000)
    (process, _) = token_processes
    assert process.request(secret, 4) == (4, 0, 5)  # leases of 1, 2 and 4: 3 left

    limit(tenant, burst=5)

    assert process.request(secret, 1) == (0, 1, 2)
    assert process.request(secret, 5) == (0, 5, 5)


def test_a_lost_bucket_row_is_made_again(tenant, secret, token_processes):
    """A bucket whose row is gone (a database crash empties the table) is full: the token
    check's lease updates nothing, and the bucket's own statement makes the row again."""
    limit(tenant, burst=3)
    (process, _) = token_processes
    assert process.request(secret, 4) == (3, 1, 5)
    process.full_until.clear()
    RateLimitBucket.objects.all().delete()

    assert process.request(secret, 1) == (1, 0, 2)
    assert process.request(secret, 3) == (2, 1, 3)


def test_a_revoked_or_expired_token_leases_nothing(tenant, secret, token_processes):
    """A token revoked or expired since its last request is refused by the next token check,
    which takes nothing from its tenant's bucket: of a burst of 4, two other tokens take one
    request each before they are turned off, and the first token then gets the last one."""
    limit(tenant, burst=4)
    (process, _) = token_processes
    assert process.request(secret, 1) == (1, 0, 2)
    for change in ({"revoked_at": timezone.now()}, {"expires_at": timezone.now()}):
        token, other = tokens.issue(tenant, name="other")
        assert process.request(other, 1)[:2] == (1, 0)
        Token.objects.filter(pk=token.pk).update(**change)
        known_tenant = tokens._known[tokens.digest(other)][1].tenant
        assert ratelimit.wanted(known_tenant) == 2  # the lease asked with the token
        for _ in range(3):
            assert tokens.authenticate(other) is None
    assert process.request(secret, 3) == (1, 2, 3)
