"""Rate limits over real HTTP, shared by every worker of every server instance: a burst sent
at once to two instances lets exactly the burst through (RFC 6585 §4), and a larger one,
which the processes lease in batches, never more."""

from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from provisioning import tokens
from tests.conftest import ERROR_SCHEMA

pytestmark = pytest.mark.live

BURST = 10
SENT = 40


@pytest.fixture(scope="module")
def two_instances(live_server_url, app_server) -> list[str]:
    """The session's server (two workers) and another (one worker) on the same database."""
    with app_server(workers=1) as (url, _):
        yield [live_server_url, url]


def client(base_url: str, tenant) -> httpx2.Client:
    _, secret = tokens.issue(tenant, name="live")
    return httpx2.Client(
        base_url=f"{base_url}/scim/v2",
        headers={"Authorization": f"Bearer {secret}", "Accept": "application/scim+json"},
        timeout=60,
        limits=httpx2.Limits(max_connections=SENT),
    )


def send_at_once(clients, sent: int) -> list[httpx2.Response]:
    """Send `sent` requests at once, alternately to each client."""
    with ThreadPoolExecutor(max_workers=sent) as pool:
        return list(pool.map(lambda i: clients[i % 2].get("/Users"), range(sent)))


def assert_too_many(response) -> None:
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": [ERROR_SCHEMA],
        "status": "429",
        "detail": "Too many requests: this connection's rate limit is exceeded.",
    }
    assert 1 <= int(response.headers["Retry-After"]) <= 100


def test_two_instances_share_one_limit(two_instances, transactional_db, make_tenant):
    """40 requests at once, half to each instance, for a tenant allowed a burst of 10 and one
    request per 100 s after it: exactly 10 pass; the others get a 429 SCIM error with an
    integer Retry-After. A tenant without a limit, and one with its own, are served
    meanwhile."""
    limited, unlimited, other_limited = make_tenant(), make_tenant(), make_tenant()
    for tenant in (limited, other_limited):
        tenant.rate_limit, tenant.rate_limit_burst = 0.01, BURST
        tenant.save()
    clients = [client(url, limited) for url in two_instances]

    responses = send_at_once(clients, SENT)

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == SENT - BURST, statuses
    for response in responses:
        if response.status_code == 429:
            assert_too_many(response)
    for url in two_instances:
        with client(url, unlimited) as free, client(url, other_limited) as own:
            assert [free.get("/Users").status_code for _ in range(BURST + 5)] == [200] * (BURST + 5)
            assert own.get("/Users").status_code == 200
    for each in clients:
        each.close()


LEASED_BURST = 64
LEASED_SENT = 160


def test_leases_never_pass_more_than_the_burst(two_instances, transactional_db, make_tenant):
    """160 requests at once, half to each instance, for a tenant allowed a burst of 64: the
    processes lease up to 8 requests at a time, and no more than 64 pass; the others get a
    429 SCIM error. Fewer may pass: each of the three processes (two workers, one) can be left
    holding the rest of its last lease, at most 7 (an eighth of the bucket, less the request
    that asked) when no more requests come to it."""
    tenant = make_tenant()
    tenant.rate_limit, tenant.rate_limit_burst = 0.01, LEASED_BURST
    tenant.save()
    clients = [client(url, tenant) for url in two_instances]

    responses = send_at_once(clients, LEASED_SENT)

    statuses = [r.status_code for r in responses]
    assert LEASED_BURST - 3 * 7 <= statuses.count(200) <= LEASED_BURST, statuses
    assert statuses.count(200) + statuses.count(429) == len(statuses), statuses
    for response in responses:
        if response.status_code == 429:
            assert_too_many(response)
    for each in clients:
        each.close()


def test_a_revoked_token_of_a_limited_tenant_is_refused_at_once(
    two_instances, transactional_db, make_tenant
):
    """A limited tenant's token check also leases from its bucket (provisioning.tokens), and
    still reads the token on every request: once revoked, the token is refused by the very
    next request on every worker of both instances, and those refusals are not counted.
    A burst of 15 leases one request at a time, so every request but each process's first
    leases in its token check."""
    tenant = make_tenant()
    tenant.rate_limit, tenant.rate_limit_burst = 0.01, 15
    tenant.save()
    token, secret = tokens.issue(tenant, name="to revoke")
    # A new connection per request, so the requests spread over the servers' workers.
    headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}

    def statuses() -> list[int]:
        return [
            httpx2.get(f"{url}/scim/v2/ServiceProviderConfig", headers=headers).status_code
            for url in two_instances
            for _ in range(6)
        ]

    assert statuses() == [200] * 12
    tokens.revoke(token)
    assert statuses() == [401] * 12
    with client(two_instances[0], tenant) as other:
        assert [other.get("/Users").status_code for _ in range(4)] == [200, 200, 200, 429]
