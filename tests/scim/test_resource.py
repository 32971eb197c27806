"""Reading POST and PUT bodies against the schema table (RFC 7643 §2.3, §2.4, §4)."""

import pytest

from provisioning.scim.dialect import ALLOWED, Dialect, Leniency, leniencies
from provisioning.scim.errors import InvalidSyntax, InvalidValue
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTRA = ALLOWED[Dialect.ENTRA]


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
        parse_resource(user(**attributes), USER_RESOURCE_TYPE, ENTRA)


def test_bare_strings_still_read_as_values():
    """With Entra's leniencies, bare ids and emails are values, and "" clears."""
    document = parse_resource(
        user(emails=["a@example.com", ""], **{ENTERPRISE: {"manager": "42"}}),
        USER_RESOURCE_TYPE,
        ENTRA,
    )
    assert document["emails"] == [{"value": "a@example.com"}]
    assert document[ENTERPRISE] == {"manager": {"value": "42"}}
    group = {"schemas": [GROUP_RESOURCE_TYPE.schema.id], "displayName": "G", "members": ["7"]}
    assert parse_resource(group, GROUP_RESOURCE_TYPE, ENTRA)["members"] == [{"value": "7"}]


ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

# POST and PUT bodies Entra sends beyond RFC 7643, with what they are read as and the RFC's
# error: RFC 7643 §2.3.2 (booleans), §2.3.8 (complex values are objects), §2.5 (null
# unassigns), §3 (`schemas` names the resource's schemas).
BODY_LENIENCIES = [
    ("string-boolean", Leniency.STRING_BOOLEANS, USER_RESOURCE_TYPE,
     user(active="False"), {"userName": "bjensen", "active": False}, InvalidValue),
    ("bare-string-manager", Leniency.BARE_VALUES, USER_RESOURCE_TYPE,
     user(**{ENTERPRISE: {"manager": "42"}}),
     {"userName": "bjensen", ENTERPRISE: {"manager": {"value": "42"}}}, InvalidValue),
    ("empty-manager-value", Leniency.EMPTY_VALUE_UNASSIGNS, USER_RESOURCE_TYPE,
     user(**{ENTERPRISE: {"manager": {"value": ""}, "department": "Sales"}}),
     {"userName": "bjensen", ENTERPRISE: {"department": "Sales"}}, InvalidValue),
    ("adscim-group-schema", Leniency.EXTRA_SCHEMAS, GROUP_RESOURCE_TYPE,
     {"schemas": [GROUP_RESOURCE_TYPE.schema.id, ADSCIM], "displayName": "G"},
     {"displayName": "G"}, InvalidSyntax),
]  # fmt: skip


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(
    ("case", "leniency", "resource_type", "body", "expected", "error"),
    BODY_LENIENCIES,
    ids=[case[0] for case in BODY_LENIENCIES],
)
def test_body_leniencies_per_dialect(case, leniency, resource_type, body, expected, error, dialect):
    """Entra's departures in a POST or PUT body are read in `entra` and `auto` (none of them
    changes the answer to a body shaped as the RFC writes it); `rfc` and `okta` answer with
    the RFC's error."""
    allowed = leniencies(dialect)
    if leniency in allowed:
        assert parse_resource(body, resource_type, allowed) == expected
        return
    with pytest.raises(error):
        parse_resource(body, resource_type, allowed)


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
