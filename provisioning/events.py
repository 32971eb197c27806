"""Which events a change is: the vocabulary shared by the signals and the webhooks.

A User's change of `active` is a deactivation or reactivation; any other change is an update.
A Group's member changes are `members_added` and `members_removed`; any other change is an
update. One change may therefore be several events (a rename that also adds members).
"""

from collections.abc import Mapping

from .scim.changes import MEMBERS

EVENT_TYPES = (
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.members_added",
    "group.members_removed",
)


def event_types(resource_type: str, operation: str, changes: Mapping[str, Mapping]) -> list[str]:
    """Return the types of the events that a change record of `operation` on a resource of
    `resource_type` ("User" or "Group") with these `changes` stands for."""
    prefix = resource_type.lower()
    if operation == "delete":
        return [f"{prefix}.deleted"]
    types = []
    other = set(changes) - {MEMBERS}
    if operation == "create":
        types.append(f"{prefix}.created")
        other = set()
    active = changes.get("active") if prefix == "user" else None
    if active is not None:
        if active["after"] is False and active["before"] is not False:
            types.append("user.deactivated")
            other.discard("active")
        elif active["before"] is False and active["after"] is True:
            types.append("user.reactivated")
            other.discard("active")
    if other:
        types.append(f"{prefix}.updated")
    members = changes.get(MEMBERS)
    if members and members["added"]:
        types.append("group.members_added")
    if members and members["removed"]:
        types.append("group.members_removed")
    return types
