"""Rules the schema table declares and other modules derive from it, rather than name an
attribute themselves: which attributes references show (`shows`, `references`) and which
attribute names a resource (`names_resource`)."""

from __future__ import annotations

import dataclasses

import pytest

from provisioning.scim.schema import (
    GROUP_RESOURCE_TYPE,
    GROUP_SCHEMA,
    USER_RESOURCE_TYPE,
    USER_SCHEMA,
    Attribute,
    Mutability,
    ResourceType,
    Schema,
    shown_attributes,
    shown_column,
)


def with_sub_attribute(resource_type: ResourceType, name: str, sub: Attribute) -> ResourceType:
    """Return a copy of `resource_type` whose attribute `name` has the sub-attribute `sub` too."""
    attr = resource_type.schema.attribute(name)
    changed = dataclasses.replace(attr, sub_attributes=(*attr.sub_attributes, sub))
    return with_attributes(
        resource_type, tuple(changed if a is attr else a for a in resource_type.schema.attributes)
    )


def with_attributes(resource_type: ResourceType, attributes: tuple[Attribute, ...]) -> ResourceType:
    schema = resource_type.schema
    return ResourceType(
        resource_type.id,
        resource_type.endpoint,
        resource_type.description,
        Schema(schema.id, schema.name, schema.description, attributes),
        resource_type.extensions,
    )


def showing(name: str) -> Attribute:
    return Attribute(name, mutability=Mutability.READ_ONLY, shows=name)


def paths(mirrors) -> list[tuple[str, ...]]:
    return [mirror.path for mirror in mirrors]


def test_references_show_the_display_names():
    """A user's `groups[].display` shows its group's displayName (RFC 7643 §4.1.2), a group's
    `members[].display` its member's (§4.2); `value` shows the id, which never changes."""
    assert paths(shown_attributes(GROUP_RESOURCE_TYPE)) == [("displayName",)]
    assert paths(shown_attributes(USER_RESOURCE_TYPE)) == [("displayName",)]


def test_a_sub_attribute_that_shows_another_attribute_makes_it_shown():
    users = with_sub_attribute(USER_RESOURCE_TYPE, "groups", showing("externalId"))
    among = (users, GROUP_RESOURCE_TYPE)
    assert paths(shown_attributes(GROUP_RESOURCE_TYPE, among)) == [
        ("displayName",),
        ("externalId",),
    ]
    # Only the referenced type's attributes: a user's groups reference groups, not users.
    assert paths(shown_attributes(USER_RESOURCE_TYPE, among)) == [("displayName",)]


@pytest.mark.parametrize(
    ("shown", "message"),
    [("nickName", "no column"), ("nope", "User lacks")],
    ids=["no-column", "unknown"],
)
def test_a_shown_attribute_must_be_read_from_a_column(shown, message):
    """References are read with the columns of what they show (a member's display name)."""
    groups = with_sub_attribute(GROUP_RESOURCE_TYPE, "members", showing(shown))
    with pytest.raises(ValueError, match=message):
        shown_attributes(USER_RESOURCE_TYPE, (USER_RESOURCE_TYPE, groups))


def test_the_name_of_a_resource_is_the_attribute_declared_so():
    assert USER_RESOURCE_TYPE.name_attribute is USER_SCHEMA.attribute("userName")
    assert GROUP_RESOURCE_TYPE.name_attribute is GROUP_SCHEMA.attribute("displayName")
    renamed = tuple(
        dataclasses.replace(a, names_resource=a.name == "nickName") for a in USER_SCHEMA.attributes
    )
    assert with_attributes(USER_RESOURCE_TYPE, renamed).name_attribute.name == "nickName"


def test_one_attribute_at_most_names_a_resource():
    both = tuple(
        dataclasses.replace(a, names_resource=True) if a.name == "nickName" else a
        for a in USER_SCHEMA.attributes
    )
    with pytest.raises(ValueError, match="more than one"):
        with_attributes(USER_RESOURCE_TYPE, both)


def test_what_a_reference_shows_is_read_from_that_attributes_column():
    """`members.display` and `groups.display` are read from the column of the attribute they
    show; a reference that shows another attribute reads another column, and one that shows
    nothing of a type, or an attribute without a column, is refused when the schema loads."""
    (members,) = [a for a in GROUP_SCHEMA.attributes if a.name == "members"]
    (groups,) = [a for a in USER_SCHEMA.attributes if a.name == "groups"]
    assert shown_column(members, "display", USER_RESOURCE_TYPE) == "display_name"
    assert shown_column(groups, "display", GROUP_RESOURCE_TYPE) == "display_name"

    shows_external_id = dataclasses.replace(
        groups,
        sub_attributes=tuple(
            dataclasses.replace(sub, shows="externalId") if sub.name == "display" else sub
            for sub in groups.sub_attributes
        ),
    )
    assert shown_column(shows_external_id, "display", GROUP_RESOURCE_TYPE) == "external_id"
    with pytest.raises(ValueError, match="shows nothing"):
        shown_column(groups, "display", USER_RESOURCE_TYPE)
    with pytest.raises(ValueError, match="shows nothing"):
        shown_column(groups, "$ref", GROUP_RESOURCE_TYPE)
