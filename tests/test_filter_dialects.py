"""Filters per dialect over HTTP: Entra's `emails[type eq "work"].value eq "x"` is read only
where the connection's dialect allows the VALUE_FILTER_SUB_ATTRIBUTE leniency
(provisioning/scim/dialect.py); the RFC's own value filter is read in every dialect.

test_ms_entra.py runs Entra's lookups in `entra` and `auto`; here are the other dialects."""

import pytest

from provisioning.scim.schema import SEARCH_REQUEST_URN
from tests.conftest import USER_SCHEMA, assert_scim_error
from tests.test_ms_entra import ENTRA_USER_AGENT
from tests.test_okta import OKTA_USER_AGENT

ENTRA_FORM = 'emails[type eq "work"].value eq "ryan@example.com"'
# RFC 7644 §3.4.2.2 Figure 1 writes the same question with both comparisons inside [...].
RFC_FORM = 'emails[type eq "work" and value eq "ryan@example.com"]'
DIALECTS = [
    ("rfc", None),
    ("okta", OKTA_USER_AGENT),
    ("entra", ENTRA_USER_AGENT),
    ("auto", None),
    ("auto", ENTRA_USER_AGENT),
    ("auto", OKTA_USER_AGENT),
]
DIALECT_IDS = ["rfc", "okta", "entra", "auto", "auto-entra", "auto-okta"]


@pytest.fixture
def connection(make_tenant, make_client):
    """Return a factory of clients of a new connection in `dialect` that send `user_agent`,
    each with Ryan, active, whose primary work email is ryan@example.com, and Sam, inactive,
    whose home email is."""

    def make(dialect: str, user_agent: str | None):
        tenant = make_tenant()
        tenant.dialect = dialect
        tenant.save(update_fields=["dialect"])
        client = make_client(tenant)
        if user_agent:
            client.defaults["HTTP_USER_AGENT"] = user_agent
        people = {}
        for name, kind, active in (("ryan", "work", True), ("sam", "home", False)):
            email = {"value": "ryan@example.com", "type": kind}
            body = {
                "schemas": [USER_SCHEMA],
                "userName": name,
                "active": active,
                "emails": [{**email, "primary": True} if active else email],
            }
            response = client.post("/Users", body)
            assert response.status_code == 201, response.content
            people[name] = response.json()["id"]
        return client, people

    return make


def found(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [resource["id"] for resource in response.json()["Resources"]]


@pytest.mark.parametrize(("dialect", "user_agent"), DIALECTS, ids=DIALECT_IDS)
def test_the_rfc_value_filter_is_read_in_every_dialect(connection, dialect, user_agent):
    """`emails[type eq "work" and value eq "x"]` (RFC 7644 §3.4.2.2) finds the user with that
    work email, and not the one with that home email, whatever the dialect."""
    client, people = connection(dialect, user_agent)
    assert found(client.get("/Users", {"filter": RFC_FORM})) == [people["ryan"]]


@pytest.mark.parametrize(
    ("dialect", "user_agent", "read"),
    [(*dialect, dialect[0] in ("entra", "auto")) for dialect in DIALECTS],
    ids=DIALECT_IDS,
)
def test_entra_value_filter_sub_attribute(connection, dialect, user_agent, read):
    """Entra's lookup `emails[type eq "work"].value eq "x"` is read as the RFC form in `entra`
    and `auto` (its RFC answer is an error, so `auto` reads it whoever sends it), and is
    400 invalidFilter in `rfc` and `okta`: RFC 7644 §3.4.2.2's valuePath ends at "]"."""
    client, people = connection(dialect, user_agent)
    response = client.get("/Users", {"filter": ENTRA_FORM})
    if read:
        assert found(response) == [people["ryan"]]
    else:
        assert_scim_error(response, 400, "invalidFilter")
        assert "a value filter ends at ']'" in response.json()["detail"]


@pytest.mark.parametrize(("dialect", "read"), [("rfc", False), ("entra", True)])
def test_search_bodies_are_read_in_the_dialect_too(connection, dialect, read):
    """POST /Users/.search and POST /.search (RFC 7644 §3.4.3) read their filter as the
    query string is read."""
    client, people = connection(dialect, None)
    body = {"schemas": [SEARCH_REQUEST_URN], "filter": ENTRA_FORM}
    for path in ("/Users/.search", "/.search"):
        response = client.post(path, body)
        if read:
            assert found(response) == [people["ryan"]]
        else:
            assert_scim_error(response, 400, "invalidFilter")


@pytest.mark.parametrize(
    ("dialect", "user_agent", "read"),
    [(*dialect, dialect[0] in ("entra", "auto")) for dialect in DIALECTS],
    ids=DIALECT_IDS,
)
@pytest.mark.parametrize(
    "filter_text", ['active eq "True"', 'emails[primary eq "true"]', 'emails.primary eq "TRUE"']
)
def test_a_string_boolean_in_a_filter(connection, dialect, user_agent, read, filter_text):
    """A string "true"/"false" compared with a boolean is the STRING_BOOLEANS leniency (what
    Entra sends for booleans), read where the dialect allows it; the RFC's compValue for a
    boolean is `true` or `false`, so `rfc` and `okta` answer 400 invalidFilter."""
    client, people = connection(dialect, user_agent)
    response = client.get("/Users", {"filter": filter_text})
    if read:
        assert found(response) == [people["ryan"]]
    else:
        assert_scim_error(response, 400, "invalidFilter")
        assert "compare it with true or false" in response.json()["detail"]


@pytest.mark.parametrize(("dialect", "status"), [("rfc", 400), ("entra", 200)])
def test_a_string_boolean_in_a_patch_value_filter(connection, dialect, status):
    """A PATCH path's value filter is read as a filter is: `emails[primary eq "True"]` is
    Entra's string boolean, an invalidFilter in `rfc`."""
    client, people = connection(dialect, None)
    response = client.patch(
        f"/Users/{people['ryan']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": 'emails[primary eq "True"].type', "value": "other"}
            ],
        },
    )
    if status == 400:
        assert_scim_error(response, 400, "invalidFilter")
    else:
        assert response.status_code == 200, response.content
        assert response.json()["emails"] == [
            {"value": "ryan@example.com", "type": "other", "primary": True}
        ]
