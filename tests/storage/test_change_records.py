"""Change records: every write of a User or Group through SCIM or the admin records what
changed, who changed it and through which request, in the write's own transaction."""

import datetime as dt
import re
import threading
import time

import pytest
from django.db import DatabaseError, connection, connections, transaction

from provisioning.models import ChangeRecord, Tenant, Token
from provisioning.storage import users
from tests.conftest import USER_SCHEMA, assert_scim_error, group_body, patch_body, user_body

CHANGE_FIELDS = (
    "token_name",
    "token_prefix",
    "admin_user",
    "request_id",
    "client_ip",
    "user_agent",
    "operation",
    "resource_type",
    "resource_id",
    "external_id",
    "name",
    "version",
    "changes",
)


def records() -> list[dict]:
    """Return every change record, oldest first, without its id, time and tenant."""
    return [
        {**row, "resource_id": str(row["resource_id"])}
        for row in ChangeRecord.objects.order_by("id").values(*CHANGE_FIELDS)
    ]


def by_token(**fields) -> dict:
    """Return a record's fields as written through the `scim` fixture's token."""
    token = Token.objects.get(name="test")
    return {
        "token_name": "test",
        "token_prefix": token.prefix,
        "admin_user": "",
        "request_id": fields.pop("request_id"),
        "client_ip": "127.0.0.1",
        "user_agent": fields.pop("user_agent", ""),
        "external_id": None,
        **fields,
    }


def test_create_records_the_actor_the_request_and_every_attribute(scim):
    """A create records the token (name and prefix, never the secret), the request's id,
    address and User-Agent, and each attribute set; the request id is echoed back."""
    response = scim.post(
        "/Users",
        user_body("bjensen", externalId="okta-1", active=True, password="t1meMach1ne"),
        HTTP_X_REQUEST_ID="req-42",
        HTTP_USER_AGENT="Okta SCIM Client 1.0.0",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "req-42"
    assert records() == [
        by_token(
            request_id="req-42",
            user_agent="Okta SCIM Client 1.0.0",
            operation="create",
            resource_type="User",
            resource_id=response.json()["id"],
            external_id="okta-1",
            name="bjensen",
            version=1,
            changes={
                "externalId": {"before": None, "after": "okta-1"},
                "userName": {"before": None, "after": "bjensen"},
                "active": {"before": None, "after": True},
            },
        )
    ]


@pytest.mark.parametrize(
    "incoming", ["", "a b", "x" * 129, "é"], ids=["empty", "space", "long", "non-ascii"]
)
def test_an_unusable_request_id_is_replaced(scim, incoming):
    """An X-Request-ID that is empty, too long or carries odd characters is not trusted: the
    server makes one, records it and answers with it."""
    response = scim.get("/Users", HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_patch_records_before_and_after_of_the_changed_attributes_only(scim, make_user):
    """A PATCH (Okta's deactivation) records the attributes it changed, each with its value
    before and after, and the version it led to."""
    user = make_user("bjensen", active=True, displayName="Babs")
    response = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "value": {"active": False}}),
        HTTP_X_REQUEST_ID="req-2",
    )
    assert response.status_code == 200
    assert records()[1:] == [
        by_token(
            request_id="req-2",
            operation="patch",
            resource_type="User",
            resource_id=user["id"],
            name="bjensen",
            version=2,
            changes={"active": {"before": True, "after": False}},
        )
    ]


def test_replace_and_delete_are_recorded(scim, make_user):
    """A PUT records `replace`; a DELETE records `delete` with every attribute it had."""
    user = make_user("bjensen", nickName="Babs")
    scim.put(f"/Users/{user['id']}", user_body("bjensen"), HTTP_X_REQUEST_ID="put")
    scim.delete(f"/Users/{user['id']}", HTTP_X_REQUEST_ID="delete")
    common = {"resource_type": "User", "resource_id": user["id"], "name": "bjensen"}
    assert records()[1:] == [
        by_token(
            request_id="put",
            operation="replace",
            version=2,
            changes={"nickName": {"before": "Babs", "after": None}},
            **common,
        ),
        by_token(
            request_id="delete",
            operation="delete",
            version=2,
            changes={"userName": {"before": "bjensen", "after": None}},
            **common,
        ),
    ]


def test_writes_that_change_nothing_or_fail_record_nothing(scim, make_user):
    """A PATCH that changes nothing writes no record; nor does a request that fails (409,
    400, 412): its transaction is rolled back, the record with it."""
    user = make_user("bjensen", active=True)
    before = records()
    assert (
        scim.patch(
            f"/Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": True})
        ).status_code
        == 200
    )
    assert_scim_error(scim.post("/Users", user_body("BJENSEN")), 409, "uniqueness")
    assert_scim_error(
        scim.patch(
            f"/Users/{user['id']}", patch_body({"op": "replace", "path": "x.y", "value": 1})
        ),
        400,
        "invalidPath",
    )
    assert_scim_error(scim.put(f"/Users/{user['id']}", user_body("b2"), HTTP_IF_MATCH='W/"9"'), 412)
    assert records() == before


def test_group_member_changes_record_member_ids(scim, make_user, make_group):
    """A group write records the ids of the members it added or removed, not the whole
    member list; a PATCH that only adds or only removes members is `member_add` or
    `member_remove`; one that also renames is `patch`."""
    alice, bob, carol = (make_user(name) for name in ("alice", "bob", "carol"))
    group = make_group("Guides", members=[{"value": alice["id"]}])
    url = f"/Groups/{group['id']}"
    scim.patch(url, patch_body({"op": "add", "path": "members", "value": [{"value": bob["id"]}]}))
    scim.patch(url, patch_body({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}))
    scim.patch(
        url,
        patch_body(
            {"op": "replace", "path": "displayName", "value": "Tour Guides"},
            {"op": "add", "path": "members", "value": [{"value": carol["id"]}]},
        ),
    )
    group_records = [
        {key: row[key] for key in ("operation", "name", "version", "changes")}
        for row in records()
        if row["resource_type"] == "Group"
    ]
    assert group_records == [
        {
            "operation": "create",
            "name": "Guides",
            "version": 1,
            "changes": {
                "displayName": {"before": None, "after": "Guides"},
                "members": {"added": [alice["id"]], "removed": []},
            },
        },
        {
            "operation": "member_add",
            "name": "Guides",
            "version": 2,
            "changes": {"members": {"added": [bob["id"]], "removed": []}},
        },
        {
            "operation": "member_remove",
            "name": "Guides",
            "version": 3,
            "changes": {"members": {"added": [], "removed": [alice["id"]]}},
        },
        {
            "operation": "patch",
            "name": "Tour Guides",
            "version": 4,
            "changes": {
                "displayName": {"before": "Guides", "after": "Tour Guides"},
                "members": {"added": [carol["id"]], "removed": []},
            },
        },
    ]


def test_a_group_replace_records_members_added_and_removed(scim, make_user, make_group):
    """A PUT of a group records the members that left and the ones that joined."""
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group("Guides", members=[{"value": alice["id"]}])
    scim.put(f"/Groups/{group['id']}", group_body("Guides", members=[{"value": bob["id"]}]))
    (last,) = records()[-1:]
    assert (last["operation"], last["changes"]) == (
        "replace",
        {"members": {"added": [bob["id"]], "removed": [alice["id"]]}},
    )


@pytest.fixture
def admin_with_md5(settings, admin_client):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return admin_client


def test_admin_delete_records_the_admin_user(admin_with_md5, make_user):
    """A delete in the admin records the admin user as the actor."""
    user = make_user("bjensen")
    response = admin_with_md5.post(
        f"/admin/provisioning/user/{user['id']}/delete/",
        {"post": "yes"},
        HTTP_USER_AGENT="Firefox",
        REMOTE_ADDR="192.0.2.7",
    )
    assert response.status_code == 302
    last = records()[-1]
    assert {
        key: last[key]
        for key in (
            "token_name",
            "token_prefix",
            "admin_user",
            "client_ip",
            "user_agent",
            "operation",
        )
    } == {
        "token_name": "",
        "token_prefix": "",
        "admin_user": "admin",
        "client_ip": "192.0.2.7",
        "user_agent": "Firefox",
        "operation": "delete",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", last["request_id"])


def test_change_records_are_never_updated(scim, make_user):
    """The database refuses an UPDATE of a change record, whoever asks."""
    make_user("bjensen")
    with pytest.raises(DatabaseError, match="never updated"), transaction.atomic():
        ChangeRecord.objects.update(name="mallory")


def test_client_address_behind_a_proxy(scim, settings):
    """Behind a proxy (BEHIND_PROXY), the client is the address the proxy appended last to
    X-Forwarded-For; one that is no address is not recorded."""
    settings.SCIM = {**settings.SCIM, "TRUST_X_FORWARDED_FOR": True}
    scim.post("/Users", user_body("a"), HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4")
    scim.post("/Users", user_body("b"), HTTP_X_FORWARDED_FOR="unknown")
    assert [row["client_ip"] for row in records()] == ["198.51.100.4", None]


def test_records_are_timed(scim):
    """A record carries the time of the change."""
    started = dt.datetime.now(dt.UTC)
    scim.post("/Users", user_body("a"))
    assert started <= ChangeRecord.objects.get().created <= dt.datetime.now(dt.UTC)


def test_a_member_add_costs_the_same_whatever_the_group_size(
    scim, make_user, make_group, django_assert_num_queries
):
    """Recording a member add (its record, its events) reads and writes only the members
    it names: the same queries for a group of 1 as of 60, and the record holds the new id
    alone."""
    users = [make_user(f"u{i}") for i in range(62)]
    small = make_group("Small", members=[{"value": users[0]["id"]}])
    large = make_group("Large", members=[{"value": u["id"]} for u in users[:60]])

    def add(group, user):
        body = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
        assert scim.patch(f"/Groups/{group['id']}", body).status_code == 204

    add(small, users[60])  # warms the token's last_used_at
    with django_assert_num_queries(11) as small_queries:
        add(small, users[61])
    with django_assert_num_queries(len(small_queries)):
        add(large, users[61])
    assert ChangeRecord.objects.latest("id").changes == {
        "members": {"added": [users[61]["id"]], "removed": []}
    }


def test_deleting_a_tenant_deletes_its_records_only(
    scim, tenant, make_user, make_tenant, make_client
):
    """Records have no foreign key to their tenant in the database (a check per record cost
    as much as writing it): deleting a tenant deletes its records through Django's cascade,
    and no other tenant's."""
    make_user("alice")
    other = make_tenant("other")
    make_user("bob", client=make_client(other))
    tenant.delete()
    assert list(ChangeRecord.objects.values_list("tenant_id", "name")) == [(other.pk, "bob")]


@pytest.mark.django_db(transaction=True)
def test_a_write_racing_its_tenants_deletion_leaves_no_record_behind():
    """A write of a user that commits while its tenant's deletion waits for the user's row
    (the deletion's cascade has deleted the tenant's records by then) leaves no record of
    the deleted tenant."""
    tenant = Tenant.objects.create(slug="doomed", name="Doomed")
    user_id = str(users.create(tenant, {"schemas": [USER_SCHEMA], "userName": "a"}).obj.pk)
    outcome = {}

    def delete_tenant():
        try:
            Tenant.objects.get(pk=tenant.pk).delete()
            outcome["deleted"] = True
        finally:
            connections.close_all()

    with transaction.atomic():
        users.replace(tenant, user_id, {"schemas": [USER_SCHEMA], "userName": "b"})
        deleter = threading.Thread(target=delete_tenant)
        deleter.start()
        for _ in range(200):  # until the deletion waits for this write's row lock
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query ILIKE 'DELETE%%'"
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the deletion never waited for the write")
    deleter.join(30)
    assert outcome == {"deleted": True}
    assert not ChangeRecord.objects.filter(tenant_id=tenant.pk).exists()
