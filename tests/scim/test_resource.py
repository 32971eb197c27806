"""Reading POST and PUT bodies against the schema table (RFC 7643 §2.3, §2.4, §4)."""

import pytest

from provisioning.scim.errors import InvalidValue
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(**attributes) -> dict:
    return {"schemas": [USER, ENTERPRISE], "userName": "bjensen", **attributes}


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        ({"emails": ["a\x00b"]}, "emails.value"),
        ({"emails": ["\ud800"]}, "emails.value"),
        ({"phoneNumbers": ["1" * 513]}, "longer than 512"),
        ({"x509Certificates": ["not base64!"]}, "base64"),
        ({ENTERPRISE: {"manager": "\udc00"}}, "manager.value"),
        ({ENTERPRISE: {"manager": "a\x00"}}, "manager.value"),
    ],
    ids=["nul", "surrogate", "too-long", "not-base64", "manager-surrogate", "manager-nul"],
)
def test_a_complex_value_sent_as_a_bare_string_is_checked_as_its_value(attributes, detail):
    """A bare string for a complex attribute (Entra's `manager` id) is read as {"value": ...}
    and checked as that object is: types, length, NUL and lone surrogates (RFC 7643 §2.3)."""
    with pytest.raises(InvalidValue, match=detail.replace(".", r"\.")):
        parse_resource(user(**attributes), USER_RESOURCE_TYPE)


def test_bare_strings_still_read_as_values():
    """The leniency stays: bare ids and emails are values, and "" clears (Entra)."""
    document = parse_resource(
        user(emails=["a@example.com", ""], **{ENTERPRISE: {"manager": "42"}}),
        USER_RESOURCE_TYPE,
    )
    assert document["emails"] == [{"value": "a@example.com"}]
    assert document[ENTERPRISE] == {"manager": {"value": "42"}}
    group = {"schemas": [GROUP_RESOURCE_TYPE.schema.id], "displayName": "G", "members": ["7"]}
    assert parse_resource(group, GROUP_RESOURCE_TYPE)["members"] == [{"value": "7"}]


@pytest.mark.parametrize(
    "value", ["é", "Zm9v\u00e9", "\u0660\u0661"], ids=["e-acute", "tail", "digits"]
)
def test_non_ascii_binary_is_invalid_value(value):
    """Binary values are base64 (RFC 7643 §2.3.6): text beyond ASCII is an invalidValue."""
    with pytest.raises(InvalidValue, match="base64"):
        parse_resource(user(x509Certificates=[{"value": value}]), USER_RESOURCE_TYPE)


def test_base64_binary_is_kept():
    """A base64 value is stored as sent."""
    document = parse_resource(user(x509Certificates=[{"value": "Zm9v"}]), USER_RESOURCE_TYPE)
    assert document["x509Certificates"] == [{"value": "Zm9v"}]
