"""Which events a change is: the vocabulary shared by the signals and the webhooks.

A User's change of `active` is a deactivation or reactivation; any other change is an update.
A Group's member changes are `members_added` and `members_removed`; any other change is an
update. One change may therefore be several events (a rename that also adds members).
"""

import re
from collections.abc import Iterable, Mapping

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


PATTERN = re.compile(r"(user|group)\.\*")


def check_patterns(patterns: Iterable[str]) -> list[str]:
    """Return the event types and patterns (`user.*`, `group.*`) an endpoint asks for, checked;
    ValueError names the first unknown one."""
    patterns = [pattern.strip() for pattern in patterns if pattern.strip()]
    for pattern in patterns:
        if pattern not in EVENT_TYPES and not PATTERN.fullmatch(pattern):
            raise ValueError(
                f"Unknown event '{pattern}'; use user.* or group.*, or one of "
                f"{', '.join(EVENT_TYPES)}."
            )
    if not patterns:
        raise ValueError("Name at least one event type.")
    return patterns


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
