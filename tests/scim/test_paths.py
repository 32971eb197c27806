"""One rule for attribute paths (RFC 7644 §3.10), `ResourceType.resolve`, and the same answer
from each of its readers: filters (`filtering.py`, and the SQL compiler in
tests/fuzz/storage/test_filter_agreement.py), PATCH paths (`patch.py`) and `attributes`
(`projection.py`)."""

from __future__ import annotations

import pytest

from provisioning.scim.errors import InvalidFilter, InvalidPath
from provisioning.scim.filter import parse_filter
from provisioning.scim.filtering import matches
from provisioning.scim.patch import PATCH_OP_URN, apply_patch
from provisioning.scim.projection import Projection
from provisioning.scim.schema import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    ENTERPRISE_USER_SCHEMA_URN,
    USER_RESOURCE_TYPE,
    USER_SCHEMA,
    USER_SCHEMA_URN,
    Attribute,
    ResourceType,
    Schema,
    SchemaExtension,
)

# A second extension that also defines `department`: unqualified, the name is ambiguous.
OTHER_URN = "urn:example:params:scim:schemas:extension:other:2.0:User"
OTHER = Schema(OTHER_URN, "Other", "", (Attribute("department"), Attribute("building")))
TWO_EXTENSIONS = ResourceType(
    "User",
    "/Users",
    "",
    USER_SCHEMA,
    (SchemaExtension(ENTERPRISE_USER_SCHEMA), SchemaExtension(OTHER)),
)
USER = USER_SCHEMA_URN.lower()  # URNs compare case-insensitively

RESOLVED = [
    ("core", USER_RESOURCE_TYPE, "userName", None, (USER_SCHEMA, "userName")),
    ("core-qualified", USER_RESOURCE_TYPE, "USERNAME", USER, (USER_SCHEMA, "userName")),
    ("common", USER_RESOURCE_TYPE, "externalId", None, (USER_SCHEMA, "externalId")),
    ("common-under-core-urn", USER_RESOURCE_TYPE, "meta", USER, (USER_SCHEMA, "meta")),
    ("extension-qualified", USER_RESOURCE_TYPE, "employeeNumber", ENTERPRISE_USER_SCHEMA_URN,
     (ENTERPRISE_USER_SCHEMA, "employeeNumber")),
    ("extension-unqualified", USER_RESOURCE_TYPE, "employeeNumber", None,
     (ENTERPRISE_USER_SCHEMA, "employeeNumber")),
    ("extension-under-core-urn", USER_RESOURCE_TYPE, "employeeNumber", USER, None),
    ("core-under-extension-urn", USER_RESOURCE_TYPE, "userName", ENTERPRISE_USER_SCHEMA_URN,
     None),
    ("common-under-extension-urn", USER_RESOURCE_TYPE, "id", ENTERPRISE_USER_SCHEMA_URN, None),
    ("unknown-schema", USER_RESOURCE_TYPE, "userName", "urn:x:y", None),
    ("unknown", USER_RESOURCE_TYPE, "shoeSize", None, None),
    ("ambiguous-unqualified", TWO_EXTENSIONS, "department", None, None),
    ("ambiguous-qualified", TWO_EXTENSIONS, "department", OTHER_URN, (OTHER, "department")),
    ("one-extension-only", TWO_EXTENSIONS, "building", None, (OTHER, "building")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "resource_type", "name", "urn", "expected"), RESOLVED, ids=[r[0] for r in RESOLVED]
)
def test_resolve(case, resource_type, name, urn, expected):
    """A qualified name is looked up in the schema its URN names (the common attributes under
    the core URN, RFC 7643 §3.1); an unqualified one in the core schema, else in the one
    extension that defines it; a name two extensions define is ambiguous unqualified."""
    found = resource_type.resolve(name, urn)
    if expected is None:
        assert found is None
    else:
        schema, attr = found
        assert (schema, attr.name) == expected
        assert attr is (COMMON_ATTRIBUTES.get(name.lower()) or schema.attribute(name))


RESOURCE = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_SCHEMA_URN, OTHER_URN],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "bjensen",
    ENTERPRISE_USER_SCHEMA_URN: {"department": "Sales", "employeeNumber": "701984"},
    OTHER_URN: {"department": "Tours", "building": "B"},
}
DOCUMENT = {key: value for key, value in RESOURCE.items() if key not in ("schemas", "id")}
# The same user where the Other extension does not exist.
ENTERPRISE_ONLY = {
    **{key: value for key, value in RESOURCE.items() if key != OTHER_URN},
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_SCHEMA_URN],
}


def patched(resource_type: ResourceType, path: str) -> dict:
    body = {
        "schemas": [PATCH_OP_URN],
        "Operations": [{"op": "replace", "path": path, "value": "X"}],
    }
    return apply_patch(resource_type, DOCUMENT, body).document


def projected(resource_type: ResourceType, attributes: str) -> dict:
    resource = RESOURCE if resource_type is TWO_EXTENSIONS else ENTERPRISE_ONLY
    return Projection.from_params(resource_type, attributes, None).apply(resource)


def test_an_unqualified_extension_attribute_means_the_same_everywhere():
    """`employeeNumber` alone is the enterprise extension's, to filters, PATCH and projection
    alike (IdPs send it unqualified; RFC 7644 §3.10 only asks clients to qualify it)."""
    assert matches(parse_filter('employeeNumber eq "701984"'), RESOURCE, USER_RESOURCE_TYPE)
    after = patched(USER_RESOURCE_TYPE, "employeeNumber")
    assert after[ENTERPRISE_USER_SCHEMA_URN]["employeeNumber"] == "X"
    assert projected(USER_RESOURCE_TYPE, "employeeNumber") == {
        "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_SCHEMA_URN],
        "id": RESOURCE["id"],
        ENTERPRISE_USER_SCHEMA_URN: {"employeeNumber": "701984"},
    }


def test_an_ambiguous_name_names_nothing_everywhere():
    """`department` alone, where two extensions define it, is refused by filters
    (invalidFilter) and PATCH (invalidPath) and ignored by `attributes`, which RFC 7644 §3.12
    gives no error for; qualified, each reader takes the extension's attribute."""
    with pytest.raises(InvalidFilter, match="Unknown attribute 'department'"):
        matches(parse_filter('department eq "Sales"'), RESOURCE, TWO_EXTENSIONS)
    with pytest.raises(InvalidPath, match="Unknown attribute 'department'"):
        patched(TWO_EXTENSIONS, "department")
    assert projected(TWO_EXTENSIONS, "department") == {
        "schemas": [USER_SCHEMA_URN],
        "id": RESOURCE["id"],
    }
    qualified = f"{OTHER_URN}:department"
    assert matches(parse_filter(f'{qualified} eq "tours"'), RESOURCE, TWO_EXTENSIONS)
    assert patched(TWO_EXTENSIONS, qualified)[OTHER_URN]["department"] == "X"
    assert projected(TWO_EXTENSIONS, qualified)[OTHER_URN] == {"department": "Tours"}


def test_a_core_urn_does_not_reach_into_an_extension():
    """`urn:...:core:2.0:User:employeeNumber` names no attribute: the URN says which schema."""
    path = f"{USER_SCHEMA_URN}:employeeNumber"
    with pytest.raises(InvalidFilter, match="Unknown attribute"):
        matches(parse_filter(f'{path} eq "701984"'), RESOURCE, USER_RESOURCE_TYPE)
    with pytest.raises(InvalidPath, match="Unknown attribute"):
        patched(USER_RESOURCE_TYPE, path)
    assert projected(USER_RESOURCE_TYPE, path) == {
        "schemas": [USER_SCHEMA_URN],
        "id": RESOURCE["id"],
    }
