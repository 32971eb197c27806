"""What a write changed, attribute by attribute, as change records and events report it."""

import pytest

from provisioning.scim.changes import diff
from provisioning.scim.schema import (
    ENTERPRISE_USER_SCHEMA_URN,
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    Attribute,
    ResourceType,
    Returned,
    Schema,
)

ENTERPRISE = ENTERPRISE_USER_SCHEMA_URN


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, {"userName": "a"}, {"userName": {"before": None, "after": "a"}}),
        ({"userName": "a"}, None, {"userName": {"before": "a", "after": None}}),
        (
            {"userName": "a", "active": True},
            {"userName": "a", "active": False},
            {"active": {"before": True, "after": False}},
        ),
        ({"userName": "a", "active": True}, {"userName": "a", "active": True}, {}),
        (
            {"userName": "a", "externalId": "x1"},
            {"userName": "a"},
            {"externalId": {"before": "x1", "after": None}},
        ),
        (
            {"userName": "a", ENTERPRISE: {"department": "Tour"}},
            {"userName": "a", ENTERPRISE: {"department": "Tour", "division": "B"}},
            {f"{ENTERPRISE}:division": {"before": None, "after": "B"}},
        ),
        (
            {"userName": "a", "emails": [{"value": "a@x"}]},
            {"userName": "a", "emails": [{"value": "b@x"}]},
            {"emails": {"before": [{"value": "a@x"}], "after": [{"value": "b@x"}]}},
        ),
    ],
    ids=["create", "delete", "one-attribute", "nothing", "removed", "extension", "multi-valued"],
)
def test_diff_reports_each_changed_attribute_by_its_path(before, after, expected):
    """Each attribute whose value differs is reported with its values before and after; an
    extension's attributes by their URN-qualified path (RFC 7644 §3.10)."""
    assert diff(USER_RESOURCE_TYPE, before, after) == expected


def test_diff_never_reports_attributes_returned_never():
    """`password` (`returned: never`, RFC 7643 §4.1.1) is never reported, even when a
    document holds it."""
    assert diff(USER_RESOURCE_TYPE, None, {"userName": "a", "password": "s3cret"}) == {
        "userName": {"before": None, "after": "a"}
    }


def test_diff_reads_returned_never_from_the_schema_table():
    """Any attribute the schema table marks `returned: never` is left out, not just
    `password`."""
    schema = Schema(
        "urn:example:Thing",
        "Thing",
        "",
        (Attribute("name"), Attribute("pin", returned=Returned.NEVER)),
    )
    thing = ResourceType("Thing", "/Things", "", schema)
    assert diff(thing, {"name": "a", "pin": "1"}, {"name": "b", "pin": "2"}) == {
        "name": {"before": "a", "after": "b"}
    }


def test_group_members_are_not_diffed_as_a_document():
    """A group's members are rows, reported as ids by the caller, never as before/after lists."""
    assert diff(GROUP_RESOURCE_TYPE, {"displayName": "A"}, {"displayName": "B", "members": []}) == {
        "displayName": {"before": "A", "after": "B"}
    }
