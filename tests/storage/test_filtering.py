"""Filtering over HTTP against PostgreSQL (RFC 7644 §3.4.2.2), with the IdPs' lookups."""

import pytest

from tests.conftest import ENTERPRISE_SCHEMA, LIST_SCHEMA, assert_scim_error

PEOPLE = {
    "bjensen": {
        "externalId": "ext-BJ",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        ENTERPRISE_SCHEMA: {"employeeNumber": "701984", "department": "Tours"},
    },
    "jsmith": {
        "externalId": "ext-js",
        "name": {"givenName": "John", "familyName": "Smith"},
        "displayName": "John Smith",
        "userType": "Contractor",
        "active": False,
        "emails": [{"value": "john.smith@example.org", "type": "work"}],
        ENTERPRISE_SCHEMA: {"employeeNumber": "1002"},
    },
    "Orders.Team": {
        "displayName": 'Orders "Team" \\ desk',
        "active": True,
        "emails": [{"value": "orders@EXAMPLE.com", "type": "other"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
    },
}


@pytest.fixture
def people(make_user):
    return {name: make_user(name, **attrs) for name, attrs in PEOPLE.items()}


def matches(scim, filter_text: str, **params) -> list[str]:
    response = scim.get("/Users", {"filter": filter_text, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == len(body["Resources"])
    return sorted(r["userName"] for r in body["Resources"])


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        # RFC 7644 §3.4.2.2 Table 3, one row per operator.
        ('userName eq "bjensen"', ["bjensen"]),
        ('userName ne "bjensen"', ["Orders.Team", "jsmith"]),
        ('name.familyName co "mit"', ["jsmith"]),
        ('userName sw "J"', ["jsmith"]),
        ('userName ew "TEAM"', ["Orders.Team"]),
        ("title pr", ["bjensen"]),
        ('meta.lastModified gt "2000-01-01T00:00:00Z"', ["Orders.Team", "bjensen", "jsmith"]),
        ('meta.lastModified ge "2000-01-01T00:00:00+00:00"', ["Orders.Team", "bjensen", "jsmith"]),
        ('meta.created lt "2000-01-01T00:00:00Z"', []),
        ('meta.created le "2999-01-01T00:00:00Z"', ["Orders.Team", "bjensen", "jsmith"]),
        # Ordering compares case-insensitively for caseExact: false ("orders.team" > "j").
        ('userName gt "j"', ["Orders.Team", "jsmith"]),
        # RFC 7644 §3.4.2.2 examples.
        ('title pr and userType eq "Employee"', ["bjensen"]),
        ('title pr or userType eq "Contractor"', ["bjensen", "jsmith"]),
        (
            'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
            ["bjensen"],
        ),
        (
            'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
            [],
        ),
        ('userType eq "Employee" and (emails.type eq "work")', ["bjensen"]),
        (
            'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
            ["bjensen"],
        ),
        (
            'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
            ["bjensen"],
        ),
        # Case-insensitivity follows caseExact (RFC 7643 §2.2): userName, emails.value, displayName
        # are not case-exact; externalId is.
        ('USERNAME EQ "BJENSEN"', ["bjensen"]),
        ('emails.value eq "ORDERS@example.COM"', ["Orders.Team"]),
        ('externalId eq "ext-bj"', []),
        ('externalId eq "ext-BJ"', ["bjensen"]),
        # A multi-valued attribute matches if any value matches.
        ('emails co "jensen.org"', ["bjensen"]),
        # Entra: the work email, and the filtered-sub-attribute form.
        ('emails[type eq "work"].value eq "john.smith@example.org"', ["jsmith"]),
        # Escapes and booleans.
        ('displayName eq "Orders \\"Team\\" \\\\ desk"', ["Orders.Team"]),
        ("active eq false", ["jsmith"]),
        ('active eq "True"', ["Orders.Team", "bjensen"]),
        ("not (active eq true)", ["jsmith"]),
        # Extension attributes, qualified or not.
        (
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
            ["bjensen"],
        ),
        ('employeeNumber eq "1002"', ["jsmith"]),
        # A missing attribute compares false, so `ne` and `not` match it.
        ('title ne "Tour Guide"', ["Orders.Team", "jsmith"]),
        ('not (title eq "Tour Guide")', ["Orders.Team", "jsmith"]),
        ("title eq null", ["Orders.Team", "jsmith"]),
        ('phoneNumbers[type eq "work"]', ["Orders.Team"]),
        ('meta.resourceType eq "User"', ["Orders.Team", "bjensen", "jsmith"]),
        ('meta.resourceType eq "Group"', []),
    ],
)
def test_filter_matches(scim, people, filter_text, expected):
    """Each filter selects exactly the users the RFC's semantics select (RFC 7644 §3.4.2.2)."""
    assert matches(scim, filter_text) == sorted(expected)


def test_filter_by_id(scim, people):
    """`id eq` finds the resource; an id that is not a UUID matches nothing (no error)."""
    user_id = people["jsmith"]["id"]
    assert matches(scim, f'id eq "{user_id}"') == ["jsmith"]
    assert matches(scim, 'id eq "010101001010101011001010101011"') == []


def test_okta_lookup_with_no_match_is_an_empty_list_response(scim, people):
    """Okta and Entra look up before creating: no match is 200 with an empty ListResponse."""
    response = scim.get(
        "/Users", {"filter": 'userName eq "nobody@example.com"', "startIndex": 1, "count": 100}
    )
    assert response.status_code == 200
    assert response.json() == {
        "schemas": [LIST_SCHEMA],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


@pytest.mark.parametrize(
    ("filter_text", "detail"),
    [
        ('nickname2 eq "x"', "Unknown attribute 'nickname2'"),
        ('name.nope eq "x"', "Unknown attribute 'name.nope'"),
        ('userName eq "x" and', "position"),
        ("active gt true", "boolean"),
        ('name eq "x"', "complex"),
        ("userName eq 5", "string"),
        ('meta.created gt "yesterday"', "date-time"),
        ('emails[nope eq "x"]', "Unknown attribute 'emails.nope'"),
        ('userName[value eq "x"]', "multi-valued"),
        ('x509Certificates.value gt "x"', "binary"),
        ("", "empty"),
    ],
)
def test_invalid_filters_are_400_invalid_filter(scim, people, filter_text, detail):
    """Unknown attributes, bad syntax and impossible comparisons are 400 invalidFilter, never
    200-with-nothing (RFC 7644 §3.4.2.2, §3.12)."""
    response = scim.get("/Users", {"filter": filter_text})
    assert_scim_error(response, 400, "invalidFilter", detail)


def test_filter_is_tenant_scoped(scim, people, make_tenant, make_client):
    """A tenant's filter never sees another tenant's users."""
    other = make_client(make_tenant())
    assert matches(other, 'userName eq "bjensen"') == []
