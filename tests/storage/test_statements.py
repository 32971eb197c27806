"""SQL statements per request, pinned: what an IdP sends all day costs a fixed, small number of
round trips, whatever the size of the document or the number of groups a user is in.

The token check is the first statement of every request, or, in a read by a token the process
has accepted before, part of the read's first statement (`tokens.Presumed`); the token's last
use is written at most once a minute. So each test makes one request first, to get that write
out of the count and to make the token known.
Tests run inside a transaction, where a write's BEGIN and COMMIT show as SAVEPOINT and RELEASE:
the counts below include them.
Statements compiled once per shape are run again with other values: the tests below also
check that a run for one tenant or value never answers with another's rows.
"""

import uuid

import pytest

from provisioning import ratelimit
from tests.conftest import patch_body, user_body


@pytest.fixture
def warm(scim):
    """The `scim` client after a first request (its token's last use is then recorded)."""
    assert scim.get("/ServiceProviderConfig").status_code == 200
    return scim


def enterprise_user(name: str, n_emails: int) -> dict:
    return user_body(
        name,
        name={"givenName": "Barbara", "familyName": "Jensen"},
        emails=[{"value": f"{name}.{i}@example.com", "type": "work"} for i in range(n_emails)],
        phoneNumbers=[{"value": f"+1 555 {i:04}", "type": "work"} for i in range(n_emails)],
        active=True,
    )


def in_groups(scim, make_group, user_id: str, n: int) -> None:
    """Put the user in `n` groups, each nested in the next one up."""
    parent = None
    for i in range(n):
        group = make_group(f"group {i}", members=[{"value": user_id}])
        if parent is not None:
            response = scim.patch(
                f"/Groups/{parent}",
                patch_body({"op": "add", "path": "members", "value": [{"value": group["id"]}]}),
            )
            assert response.status_code == 204, response.content
        parent = group["id"]


def test_service_provider_config_is_one_statement(warm, django_assert_num_queries):
    """The discovery documents are built once: what is left is the token check."""
    with django_assert_num_queries(1):
        assert warm.get("/ServiceProviderConfig").status_code == 200


def test_a_rate_limit_costs_no_statement_of_its_own(
    warm, tenant, make_user, django_assert_num_queries
):
    """A tenant with a rate limit: its first request in a process asks the bucket with a
    statement of its own (which makes the bucket's row); after it the token check takes the
    lease with the token (provisioning.tokens), here a burst of 10, below 16, where each
    request asks the bucket: no statement more than a tenant without a limit pays (the pins
    above and below). The 11th request finds the bucket empty in the token check, and the
    12th is refused by the process itself."""
    make_user("bjensen@example.com")
    tenant.rate_limit = 0.01
    tenant.rate_limit_burst = 10
    tenant.save()

    # One more: the process knew the token's tenant without a limit, and its check of the
    # presumed token finds it changed (tokens.Presumed) before the request is answered anew.
    with django_assert_num_queries(1 + 2):
        assert warm.get("/ServiceProviderConfig").status_code == 200
    for _ in range(8):
        with django_assert_num_queries(1):
            assert warm.get("/ServiceProviderConfig").status_code == 200
    with django_assert_num_queries(2):
        response = warm.get("/Users", {"filter": 'userName eq "bjensen@example.com"'})
    assert response.json()["totalResults"] == 1
    for _ in range(2):
        with django_assert_num_queries(1):
            assert warm.get("/ServiceProviderConfig").status_code == 429


def test_a_busy_tenant_leases_requests_in_growing_batches(
    warm, tenant, monkeypatch, django_assert_num_queries
):
    """With a large burst, a process leases 1, 2, 4, ... requests (provisioning.ratelimit):
    of 127 requests, 7 ask the bucket (the 1st, 2nd, 4th, ... 64th), the first with a
    statement of its own, the others in their token check. The process's clock is held
    still: a lease is dropped a second after it was taken."""
    tenant.rate_limit, tenant.rate_limit_burst = 0.01, 10_000
    tenant.save()
    now = ratelimit.monotonic()
    monkeypatch.setattr(ratelimit, "monotonic", lambda: now)

    # One more: the first request finds its presumed token's tenant changed.
    with django_assert_num_queries(1 + 127 + 1):
        for _ in range(127):
            assert warm.get("/ServiceProviderConfig").status_code == 200
    with django_assert_num_queries(1):  # the 128th: a lease of 128
        assert warm.get("/ServiceProviderConfig").status_code == 200


@pytest.mark.parametrize("groups", [0, 1, 5], ids=["no-group", "one-group", "five-nested"])
def test_lookup_by_user_name_is_one_statement(
    warm, make_user, make_group, django_assert_num_queries, groups
):
    """Okta's and Entra's lookup (`userName eq`): the page with its users' groups, carrying
    the token's check, however many groups the user is in; a page shorter than `count` needs
    no COUNT."""
    user = make_user("bjensen@example.com")
    in_groups(warm, make_group, user["id"], groups)

    with django_assert_num_queries(1):
        response = warm.get("/Users", {"filter": 'userName eq "BJENSEN@example.com"'})

    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 1
    assert len(body["Resources"][0].get("groups", [])) == groups


@pytest.mark.parametrize("groups", [0, 5], ids=["no-group", "five-nested"])
def test_get_by_id_is_one_statement(warm, make_user, make_group, django_assert_num_queries, groups):
    """The user with its groups, carrying the token's check."""
    user = make_user("bjensen")
    in_groups(warm, make_group, user["id"], groups)

    with django_assert_num_queries(1):
        response = warm.get(f"/Users/{user['id']}")

    assert response.status_code == 200
    assert len(response.json().get("groups", [])) == groups


@pytest.mark.django_db(transaction=True)  # no test transaction: the statements a server sends
@pytest.mark.parametrize("n_values", [1, 50], ids=["small", "large"])
def test_user_writes_do_not_grow_with_the_document(warm, django_assert_num_queries, n_values):
    """Create, PUT and PATCH of a user: a fixed number of statements, whatever the number of
    values the document holds: the row, its value rows and its change record (with its outbox
    rows) are one statement, which needs no transaction of its own."""
    # token, the write; a user just created is in no group
    with django_assert_num_queries(2):
        created = warm.post("/Users", enterprise_user("bjensen", n_values))
    assert created.status_code == 201, created.content
    path = f"/Users/{created.json()['id']}"

    replacement = enterprise_user("bjensen", n_values)
    replacement["displayName"] = "Babs"
    replacement["emails"] = [{"value": f"babs.{i}@example.com"} for i in range(n_values)]
    # token, the user with its groups, the write (with the renamed user's groups' versions and
    # the value rows)
    with django_assert_num_queries(3):
        assert warm.put(path, replacement).status_code == 200

    deactivate = patch_body({"op": "replace", "value": {"active": False}})
    # token, the user with its groups, the write
    with django_assert_num_queries(3):
        assert warm.patch(path, deactivate).status_code == 200


def test_cached_statements_keep_tenants_apart(make_tenant, make_client):
    """A lookup compiled for one tenant's request and run again for another's answers with
    the other tenant's users only: by userName, and by email (value rows)."""
    clients = [make_client(make_tenant()) for _ in range(2)]
    ids = []
    for client in clients:
        response = client.post(
            "/Users", user_body("shared", emails=[{"value": "shared@example.com"}])
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])

    for filter_text in (
        'userName eq "shared"',
        'emails co "shared@"',
        'emails.value eq "shared@example.com"',
    ):
        for client, user_id in zip(clients, ids, strict=True):
            body = client.get("/Users", {"filter": filter_text}).json()
            assert [r["id"] for r in body["Resources"]] == [user_id], filter_text


def test_cached_statements_take_each_requests_values(scim, make_user):
    """Filters of one shape with other strings find other users, first pages and counts
    alike."""
    for name in ("alice", "bob", "carol"):
        make_user(name, emails=[{"value": f"{name}@example.com", "type": "work"}])

    for name in ("alice", "bob", "carol", "nobody"):
        body = scim.get("/Users", {"filter": f'userName eq "{name}"'}).json()
        assert [r["userName"] for r in body["Resources"]] == ([name] if name != "nobody" else [])
        body = scim.get(
            "/Users", {"filter": f'emails[type eq "work" and value sw "{name[:2]}"]', "count": 0}
        ).json()
        assert body["totalResults"] == (1 if name != "nobody" else 0)


@pytest.mark.parametrize("size", [0, 30], ids=["empty", "thirty-and-nested"])
@pytest.mark.parametrize("in_a_group", [False, True], ids=["top", "in-a-group"])
def test_member_add_does_not_grow_with_the_group(
    warm, make_user, make_group, django_assert_num_queries, size, in_a_group
):
    """Adding a user to a group costs the same whatever the group holds, nested groups with
    their members included: only the added user's version moves, nothing walks the nesting
    (the same eleven statements as before nested changes moved versions). A group that is
    itself in a group costs the same: the nesting lock an add to it takes
    (`groups._NESTING_LOCK`) is part of the statement that locks the users it adds."""
    members = [{"value": make_user(f"m{i}")["id"]} for i in range(size)]
    if size:
        nested = make_group("nested", members=members[:5])
        members.append({"value": nested["id"]})
    group = make_group("big", members=members)
    if in_a_group:
        make_group("above", members=[{"value": group["id"]}])
    newcomer = make_user("newcomer")
    body = patch_body({"op": "add", "path": "members", "value": [{"value": newcomer["id"]}]})
    with django_assert_num_queries(11):
        assert warm.patch(f"/Groups/{group['id']}", body).status_code == 204


@pytest.mark.parametrize("operations", [3, 40])
@pytest.mark.parametrize("failing", [0, 2], ids=["all-good", "two-failing"])
def test_bulk_of_member_adds_does_not_grow_with_its_operations(
    warm, make_user, make_group, django_assert_num_queries, operations, failing
):
    """A Bulk of PATCHes each adding one member to one group is one write of them all, with
    the same statements whatever their number, and whether some of them fail: the token, the
    Bulk's transaction and the run's (two savepoints and their releases), then 8: the group,
    the users named (with the nesting lock), the groups named, the members already there,
    the new rows, the users' versions, the group's version, the run's change record with its
    events."""
    group = make_group("big")
    members = [make_user(f"m{i}")["id"] for i in range(operations - failing)]
    members += [str(uuid.uuid4()) for _ in range(failing)]  # no such member
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "PATCH",
                "path": f"/Groups/{group['id']}",
                "data": patch_body({"op": "add", "path": "members", "value": [{"value": m}]}),
            }
            for m in members
        ],
    }
    with django_assert_num_queries(13):
        response = warm.post("/Bulk", body)
    statuses = [r["status"] for r in response.json()["Operations"]]
    assert statuses == ["204"] * (operations - failing) + ["400"] * failing


def test_sorted_cursor_pages_cost_what_default_cursor_pages_cost(warm, make_user):
    """A cursor walk in the order of sortBy runs the statements of one in the default order:
    the first page counts, every page is one statement (plus the users' groups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(5):
        make_user(f"user{i}", title=f"t{i % 2}")
    counts = {}
    for sort in ({}, {"sortBy": "title", "sortOrder": "descending"}):
        with CaptureQueriesContext(connection) as first:
            body = warm.get("/Users", {"cursor": "", "count": 2, **sort}).json()
        with CaptureQueriesContext(connection) as second:
            warm.get("/Users", {"cursor": body["nextCursor"], "count": 2, **sort})
        counts[bool(sort)] = (len(first), len(second))
    assert counts[True] == counts[False] == (3, 2)


@pytest.mark.parametrize("size", [3, 30])
def test_group_put_of_its_members_does_not_grow_with_them(
    warm, make_user, make_group, django_assert_num_queries, size
):
    """A PUT of a group naming its members (Okta's "Push Now") finds and locks the members it
    names once, for the members it removes and those it adds: the same statements whatever
    their number."""
    users = [make_user(f"m{i}")["id"] for i in range(2 * size)]
    group = make_group("big", members=[{"value": u} for u in users[:size]])
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "big",
        "members": [{"value": u} for u in users[size // 2 : size + size // 2]],
    }
    # token, savepoint; the group; the members named, locked (users with the nesting lock,
    # groups); the rows they leave and their deletion, the leavers' versions; the rows there
    # already, the new rows, the joiners' versions; the group, its change record; its members
    # for the answer; release
    with django_assert_num_queries(15):
        response = warm.put(f"/Groups/{group['id']}", body)
    assert response.status_code == 200, response.content
    assert sorted(m["value"] for m in response.json()["members"]) == sorted(
        users[size // 2 : size + size // 2]
    )
