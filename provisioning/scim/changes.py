"""What a write changed: the attributes whose values differ between two stored documents.

A change record and an event name attributes by their full path: `displayName`, and for a
schema extension `urn:...:enterprise:2.0:User:department` (RFC 7644 §3.10). Attributes the
schema table marks `returned: never` (RFC 7643 §7, `password`) are never reported, whatever
the document holds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .schema import COMMON_ATTRIBUTES, GROUP_RESOURCE_TYPE, Attribute, ResourceType, Returned, Rows

# The attribute of a group whose changes are member ids rather than before/after values: the
# one kept as rows.
MEMBERS = GROUP_RESOURCE_TYPE.kept_in(Rows.MEMBERS)[0].name


@functools.cache
def reported_attributes(resource_type: ResourceType) -> list[tuple[str, str | None, Attribute]]:
    """Return (path, extension URN or None, attribute) for each attribute a change may report,
    the row-stored `members` aside."""
    reported: list[tuple[str, str | None, Attribute]] = [
        ("externalId", None, COMMON_ATTRIBUTES["externalid"])
    ]
    for schema in resource_type.schemas:
        extension = None if schema is resource_type.schema else schema.id
        for attr in schema.attributes:
            if attr.returned is Returned.NEVER or attr.rows is Rows.MEMBERS:
                continue
            path = attr.name if extension is None else f"{extension}:{attr.name}"
            reported.append((path, extension, attr))
    return reported


def diff(
    resource_type: ResourceType, before: Mapping | None, after: Mapping | None
) -> dict[str, dict[str, Any]]:
    """Return `{path: {"before": value, "after": value}}` for each attribute that differs.

    A resource that did not exist yet (`before` None) or no longer exists (`after` None) has
    no value for any attribute, so a create reports every attribute it set and a delete every
    attribute it had. Row-stored attributes (a group's members) are not in documents; their
    changes are reported by the caller as ids.
    """
    if before is after:  # one document: several records of a run of member adds
        return {}
    changes = {}
    for path, extension, attr in reported_attributes(resource_type):
        old = _value(before, extension, attr.name)
        new = _value(after, extension, attr.name)
        if old != new:
            changes[path] = {"before": old, "after": new}
    return changes


def _value(document: Mapping | None, extension: str | None, name: str) -> Any:
    if document is None:
        return None
    container = document if extension is None else document.get(extension) or {}
    return container.get(name)
