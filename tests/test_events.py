"""Which events a change is (the vocabulary of the signals and the webhooks)."""

import pytest

from provisioning.events import event_types

ON, OFF, UNSET = True, False, None


def active(before, after) -> dict:
    return {"active": {"before": before, "after": after}}


def members(added=(), removed=()) -> dict:
    return {"members": {"added": list(added), "removed": list(removed)}}


NAME = {"displayName": {"before": "a", "after": "b"}}


@pytest.mark.parametrize(
    ("resource_type", "operation", "changes", "expected"),
    [
        ("User", "create", {"userName": {"before": None, "after": "a"}}, ["user.created"]),
        ("User", "patch", active(ON, OFF), ["user.deactivated"]),
        ("User", "patch", active(UNSET, OFF), ["user.deactivated"]),
        ("User", "replace", active(OFF, ON), ["user.reactivated"]),
        ("User", "patch", active(UNSET, ON), ["user.updated"]),
        ("User", "patch", active(ON, UNSET), ["user.updated"]),
        ("User", "patch", {**active(ON, OFF), **NAME}, ["user.deactivated", "user.updated"]),
        ("User", "patch", NAME, ["user.updated"]),
        ("User", "delete", {"userName": {"before": "a", "after": None}}, ["user.deleted"]),
        ("Group", "create", NAME, ["group.created"]),
        ("Group", "create", {**NAME, **members(["1"])}, ["group.created", "group.members_added"]),
        ("Group", "member_add", members(["1"]), ["group.members_added"]),
        ("Group", "member_remove", members(removed=["1"]), ["group.members_removed"]),
        (
            "Group",
            "replace",
            {**NAME, **members(["1"], ["2"])},
            ["group.updated", "group.members_added", "group.members_removed"],
        ),
        ("Group", "patch", {"active": {"before": True, "after": False}}, ["group.updated"]),
        ("Group", "delete", NAME, ["group.deleted"]),
    ],
    ids=[
        "user-created",
        "deactivated",
        "deactivated-from-unset",
        "reactivated",
        "activated-from-unset-is-an-update",
        "active-removed-is-an-update",
        "deactivated-and-renamed",
        "user-updated",
        "user-deleted",
        "group-created",
        "group-created-with-members",
        "members-added",
        "members-removed",
        "group-replaced",
        "group-active-is-no-activation",
        "group-deleted",
    ],
)
def test_event_types(resource_type, operation, changes, expected):
    assert event_types(resource_type, operation, changes) == expected
