"""Signals for the host application: sent once the change's transaction commits, with the
tenant, the resource id, the change record and the changed attribute names."""

import logging
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning import signals
from provisioning.models import ChangeRecord, Group, User
from tests.conftest import patch_body, user_body

ALL = {name: value for name, value in vars(signals).items() if isinstance(value, signals.Signal)}


@pytest.fixture
def received():
    """Connect a receiver to every signal; return the list of what they received, as
    (signal name, sender, keyword arguments without `signal`)."""
    calls = []
    receivers = []
    for name, signal in ALL.items():

        def receiver(sender, name=name, **kwargs):
            kwargs.pop("signal")
            calls.append((name, sender, kwargs))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield calls
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def last_record() -> ChangeRecord:
    return ChangeRecord.objects.order_by("id").last()


def test_user_lifecycle(scim, tenant, received, django_capture_on_commit_callbacks):
    """create, deactivate, reactivate, update and delete each send their signal, once, with
    the record that describes the change."""
    with django_capture_on_commit_callbacks(execute=True):
        user = scim.post("/Users", user_body("bjensen", active=True)).json()
    url = f"/Users/{user['id']}"
    user_id = uuid.UUID(user["id"])
    expected = [("user_created", ["userName", "active"])]
    steps = [
        ({"op": "replace", "path": "active", "value": False}, "user_deactivated", ["active"]),
        ({"op": "replace", "path": "active", "value": True}, "user_reactivated", ["active"]),
        ({"op": "add", "path": "nickName", "value": "Babs"}, "user_updated", ["nickName"]),
    ]
    records = [last_record()]
    for operation, name, changed in steps:
        with django_capture_on_commit_callbacks(execute=True):
            assert scim.patch(url, patch_body(operation)).status_code == 200
        records.append(last_record())
        expected.append((name, changed))
    with django_capture_on_commit_callbacks(execute=True):
        assert scim.delete(url).status_code == 204
    records.append(last_record())
    expected.append(("user_deleted", ["userName", "nickName", "active"]))

    assert received == [
        (
            name,
            User,
            {"tenant": tenant, "resource_id": user_id, "record": record, "changed": changed},
        )
        for (name, changed), record in zip(expected, records, strict=True)
    ]


def test_group_signals(
    scim, tenant, make_user, make_group, received, django_capture_on_commit_callbacks
):
    """A group's create, members added or removed, rename and delete; member changes come as
    one `group_members_changed` with the ids that joined and left."""
    alice, bob = make_user("alice"), make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        group = make_group("Guides", members=[{"value": alice["id"]}])
        created = last_record()
    group_id = uuid.UUID(group["id"])
    with django_capture_on_commit_callbacks(execute=True):
        scim.patch(
            f"/Groups/{group['id']}",
            patch_body(
                {"op": "replace", "path": "displayName", "value": "Tour Guides"},
                {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
                {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
            ),
        )
        patched = last_record()
    with django_capture_on_commit_callbacks(execute=True):
        scim.delete(f"/Groups/{group['id']}")
        deleted = last_record()

    common = {"tenant": tenant, "resource_id": group_id}
    assert received == [
        (
            "group_created",
            Group,
            {**common, "record": created, "changed": ["displayName", "members"]},
        ),
        (
            "group_members_changed",
            Group,
            {
                **common,
                "record": created,
                "changed": ["displayName", "members"],
                "added": [alice["id"]],
                "removed": [],
            },
        ),
        (
            "group_updated",
            Group,
            {**common, "record": patched, "changed": ["displayName", "members"]},
        ),
        (
            "group_members_changed",
            Group,
            {
                **common,
                "record": patched,
                "changed": ["displayName", "members"],
                "added": [bob["id"]],
                "removed": [alice["id"]],
            },
        ),
        ("group_deleted", Group, {**common, "record": deleted, "changed": ["displayName"]}),
    ]


def test_signals_wait_for_the_commit(scim, received, django_capture_on_commit_callbacks):
    """Nothing is sent while the change's transaction is open; a request that fails sends
    nothing at all."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scim.post("/Users", user_body("bjensen"))
        assert received == []
    with django_capture_on_commit_callbacks(execute=False) as failed:
        assert scim.post("/Users", user_body("BJENSEN")).status_code == 409
    assert (len(callbacks), failed) == (1, [])
    callbacks[0]()
    assert [name for name, _, _ in received] == ["user_created"]


def test_a_failing_receiver_is_logged_and_others_still_receive(
    scim, received, caplog, django_capture_on_commit_callbacks
):
    """A receiver that raises does not fail the request (the change is committed) nor keep
    the signal from the other receivers; its error is logged with its traceback."""

    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.user_created.connect(broken, weak=False)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            response = scim.post("/Users", user_body("bjensen"))
    finally:
        signals.user_created.disconnect(broken)
    assert response.status_code == 201
    assert [name for name, _, _ in received] == ["user_created"]
    (failure,) = [r for r in caplog.records if r.name == "provisioning.storage.changes"]
    assert failure.getMessage().endswith("of user.created failed")
    assert failure.exc_info[1].args == ("receiver bug",)


def test_a_bulk_run_of_member_adds_is_one_signal_with_its_tenant_at_no_query(
    scim, tenant, make_user, make_group, received, django_capture_on_commit_callbacks
):
    """A Bulk's run of member adds is one write of the group: one `group_members_changed`,
    with its record, the member ids as text in the order sent and the tenant, which the
    record is given rather than reading it with a query."""
    users = [make_user(f"u{i}") for i in range(4)]
    group = make_group("Staff")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "PATCH",
                "path": f"/Groups/{group['id']}",
                "data": patch_body({"op": "add", "path": "members", "value": [{"value": u["id"]}]}),
            }
            for u in users
        ],
    }
    del received[:]
    committed = django_capture_on_commit_callbacks(execute=True)
    with CaptureQueriesContext(connection) as queries, committed:
        assert scim.post("/Bulk", body).status_code == 200
    record = ChangeRecord.objects.get(operation="member_add")
    assert [
        (name, kwargs["tenant"], kwargs["record"], kwargs["added"]) for name, _, kwargs in received
    ] == [("group_members_changed", tenant, record, [user["id"] for user in users])]
    tenant_reads = [q for q in queries if 'FROM "provisioning_tenant" WHERE' in q["sql"]]
    assert tenant_reads == []
