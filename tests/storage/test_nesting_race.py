"""A user joining a nested group while a group above it changes (issue 11, "an ETag never
vouches for a stale body"): the change above moves the versions of the users below it that it
sees committed, so an add that commits in between must wait for it (`groups._NESTING_LOCK`).

Two connections against real PostgreSQL: the change above runs in this thread and its
transaction is held open; the add runs in another thread. Without the lock the add commits
at once, and its user's new version is read with the old body; after the change commits, that
version must not stand for another body.
"""

import threading

import pytest
from django.db import connection, connections, transaction

from provisioning.resources import GROUPS
from tests.conftest import patch_body

pytestmark = pytest.mark.django_db(transaction=True)

RENAME = patch_body({"op": "replace", "path": "displayName", "value": "Renamed"})


def _state(scim, user_id: str) -> tuple[str, list]:
    body = scim.get(f"/Users/{user_id}").json()
    return body["meta"]["version"], sorted((g["value"], g["display"]) for g in body["groups"])


def _waiting_on_the_nesting_lock(thread: threading.Thread) -> bool:
    """Wait until `thread` has finished or is blocked on an advisory lock; return which."""
    with connection.cursor() as cursor:
        while thread.is_alive():
            cursor.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone():
                return True
            thread.join(0.01)
    return False


def _change_above(tenant, parent_id: str, child_id: str, change: str) -> None:
    if change == "rename":
        GROUPS.patch(tenant, parent_id, RENAME)
    elif change == "delete":
        GROUPS.store.delete(tenant, parent_id)
    else:  # the child leaves the parent: the parent's name leaves the users' groups
        body = patch_body({"op": "remove", "path": f'members[value eq "{child_id}"]'})
        GROUPS.patch(tenant, parent_id, body)


@pytest.mark.parametrize("change", ["rename", "delete", "unnest"])
def test_add_to_a_nested_group_waits_for_a_change_above_it(
    scim, tenant, make_user, make_group, change
):
    user = make_user("newcomer")
    child = make_group("Child")
    parent = make_group("Parent", members=[{"value": child["id"]}])
    seen_by_the_adder = []

    def add():
        try:
            body = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
            GROUPS.patch(tenant, child["id"], body)
            seen_by_the_adder.append(_state(scim, user["id"]))
        finally:
            connections.close_all()

    adder = threading.Thread(target=add)
    with transaction.atomic():
        _change_above(tenant, parent["id"], child["id"], change)
        adder.start()
        waited = _waiting_on_the_nesting_lock(adder)
    adder.join()

    ((version, groups),) = seen_by_the_adder
    # What the adder read after its commit is what the user shows now, under the same ETag.
    assert _state(scim, user["id"]) == (version, groups)
    expected = {"rename": [(parent["id"], "Renamed")], "delete": [], "unnest": []}[change]
    assert groups == sorted([(child["id"], "Child"), *expected])
    assert waited


def test_add_to_a_group_that_is_not_nested_does_not_wait(scim, tenant, make_user, make_group):
    """Only an add to a nested group takes the lock: one to a group in no group goes ahead
    while a rename elsewhere is open."""
    user = make_user("newcomer")
    lone = make_group("Lone")
    parent = make_group("Parent", members=[{"value": make_group("Child")["id"]}])
    body = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})

    def add():
        try:
            GROUPS.patch(tenant, lone["id"], body)
        finally:
            connections.close_all()

    adder = threading.Thread(target=add)
    with transaction.atomic():
        GROUPS.patch(tenant, parent["id"], RENAME)
        adder.start()
        waited = _waiting_on_the_nesting_lock(adder)
    adder.join()

    assert not waited
    assert [g["value"] for g in scim.get(f"/Users/{user['id']}").json()["groups"]] == [lone["id"]]
