"""Dialects per connection over HTTP: the IdPs' request shapes answered the RFC's way in `rfc`,
read in their IdP's dialect, and `auto` recognising Entra (provisioning/scim/dialect.py,
docs/dialects.md)."""

import pytest

from tests.conftest import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    assert_scim_error,
    patch_body,
    streamed_json,
)
from tests.test_ms_entra import ENTRA_GROUP_SCHEMA, ENTRA_USER_AGENT
from tests.test_okta import OKTA_USER_AGENT

WORK_EMAIL = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@example.com"}


@pytest.fixture
def connection(make_tenant, make_client):
    """Return a factory of (tenant, client) pairs: a connection in `dialect`, whose client
    sends `user_agent`."""

    def make(dialect: str, user_agent: str | None = None):
        tenant = make_tenant()
        tenant.dialect = dialect
        tenant.save(update_fields=["dialect"])
        client = make_client(tenant)
        if user_agent:
            client.defaults["HTTP_USER_AGENT"] = user_agent
        return tenant, client

    return make


def create_user(client, **attributes) -> dict:
    response = client.post(
        "/Users", {"schemas": [USER_SCHEMA], "userName": "bjensen", **attributes}
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(
    ("first", "created"),
    [
        ({"op": "replace", "path": "nickName", "value": "true"}, False),
        ({"op": "replace", "value": {"nickName": "False"}}, False),
        ({"op": "replace", "path": "active", "value": "False"}, True),
        ({"op": "replace", "value": {"active": "False"}}, True),
    ],
    ids=["string-attribute", "string-attribute-pathless", "active", "active-pathless"],
)
def test_auto_takes_a_string_boolean_for_entra_only_where_a_boolean_belongs(
    connection, first, created
):
    """In `auto`, "true" sent to a string attribute is the RFC's own request, answered the
    RFC's way (noTarget); sent to `active`, it is Entra's string boolean, and the filtered
    replace of the same PATCH creates its element as Entra expects."""
    _, client = connection("auto")
    user = create_user(client)
    response = client.patch(f"/Users/{user['id']}", patch_body(first, WORK_EMAIL))
    if created:
        assert response.status_code == 200, response.content
        assert response.json()["emails"] == [{"value": "b@example.com", "type": "work"}]
    else:
        assert_scim_error(response, 400, "noTarget")


@pytest.mark.parametrize(
    ("dialect", "user_agent", "query", "created"),
    [
        ("rfc", ENTRA_USER_AGENT, "", False),
        ("okta", None, "", False),
        ("auto", None, "", False),
        ("auto", "python-httpx/0.28", "?attributes=emails", False),
        ("auto", ENTRA_USER_AGENT, "", True),
        ("auto", None, "?aadOptscim062020", True),
        ("entra", None, "", True),
    ],
    ids=[
        "rfc",
        "okta",
        "auto",
        "auto-other-client",
        "auto-entra-user-agent",
        "auto-entra-flag",
        "entra",
    ],
)
def test_replace_through_a_filter_that_matches_nothing(
    connection, dialect, user_agent, query, created
):
    """RFC 7644 §3.5.2.3: a replace whose value filter matches no value is 400 noTarget, and
    nothing is written; Entra expects the element created, which `entra` does, and `auto`
    once it recognises Entra (its User-Agent, its aadOptscim062020 flag)."""
    _, client = connection(dialect, user_agent)
    user = create_user(client)
    response = client.patch(f"/Users/{user['id']}{query}", patch_body(WORK_EMAIL))
    if created:
        assert response.status_code == 200, response.content
        assert response.json()["emails"] == [{"value": "b@example.com", "type": "work"}]
        return
    assert_scim_error(response, 400, "noTarget")
    after = client.get(f"/Users/{user['id']}").json()
    assert "emails" not in after and after["meta"]["version"] == user["meta"]["version"]


def test_rfc_answers_entra_default_dialect_the_rfc_way(connection):
    """In `rfc`, each departure of Entra's default dialect gets the RFC's error and changes
    nothing: a capitalised op (invalidSyntax), a boolean as a string (invalidValue), a bare
    manager id (invalidValue), an empty manager value (invalidValue), the ADSCIM schema URI
    on a Group (invalidSyntax), members removed by a value list (invalidSyntax, not "remove
    every member")."""
    _, client = connection("rfc", ENTRA_USER_AGENT)
    user = create_user(client, active=True, **{ENTERPRISE_SCHEMA: {"department": "Sales"}})
    path = f"/Users/{user['id']}"
    cases = [
        ({"op": "Replace", "path": "active", "value": False}, "invalidSyntax"),
        ({"op": "replace", "path": "active", "value": "False"}, "invalidValue"),
        ({"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": user["id"]},
         "invalidValue"),
        ({"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": {"value": ""}},
         "invalidValue"),
        ({"op": "replace", "value": {"name.givenName": "Ryan"}}, "invalidPath"),
    ]  # fmt: skip
    for operation, scim_type in cases:
        assert_scim_error(client.patch(path, patch_body(operation)), 400, scim_type)
    assert client.get(path).json() == user
    assert_scim_error(
        client.post("/Users", {"schemas": [USER_SCHEMA], "userName": "x", "active": "True"}),
        400,
        "invalidValue",
    )
    assert_scim_error(
        client.post("/Groups", {"schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA], "displayName": "G"}),
        400,
        "invalidSyntax",
    )
    group = client.post(
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": user["id"]}]},
    ).json()
    remove = patch_body({"op": "remove", "path": "members", "value": [{"value": user["id"]}]})
    assert_scim_error(client.patch(f"/Groups/{group['id']}", remove), 400, "invalidSyntax")
    members = streamed_json(client.get(f"/Groups/{group['id']}"))["members"]
    assert [m["value"] for m in members] == [user["id"]]


def test_rfc_answers_okta_rename_the_rfc_way(connection):
    """Okta renames a group with a path-less replace carrying the group's `id`: read-only, so
    `rfc` answers 400 mutability (RFC 7644 §3.5.2) and `okta` renames; Okta's RFC-shaped
    deactivation succeeds in both."""
    for dialect, renamed in (("rfc", False), ("okta", True)):
        _, client = connection(dialect, OKTA_USER_AGENT)
        group = client.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Staff"}).json()
        rename = patch_body(
            {"op": "replace", "value": {"id": group["id"], "displayName": "All Staff"}}
        )
        response = client.patch(f"/Groups/{group['id']}", rename)
        if renamed:
            assert response.status_code == 204
        else:
            assert_scim_error(response, 400, "mutability")
        name = streamed_json(client.get(f"/Groups/{group['id']}"))["displayName"]
        assert name == ("All Staff" if renamed else "Staff")
        user = create_user(client, active=True)
        deactivate = patch_body({"op": "replace", "value": {"active": False}})
        assert client.patch(f"/Users/{user['id']}", deactivate).json()["active"] is False


@pytest.mark.parametrize("dialect", ["rfc", "okta", "entra", "auto"])
def test_rfc_group_examples_in_every_dialect(connection, make_user, dialect):
    """RFC 7644 §3.5.2's own member examples (add §3.5.2.1, remove by filter §3.5.2.2,
    replace §3.5.2.3) get the same answer in every dialect."""
    _, client = connection(dialect)
    babs, james, mandy = (make_user(n, client=client)["id"] for n in ("babs", "james", "mandy"))
    group = client.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"}).json()
    path = f"/Groups/{group['id']}"

    def members() -> list[str]:
        return sorted(m["value"] for m in streamed_json(client.get(path)).get("members", []))

    add = {"op": "add", "path": "members", "value": [{"value": babs}, {"value": mandy}]}
    assert client.patch(path, patch_body(add)).status_code == 204
    assert members() == sorted([babs, mandy])
    remove = {"op": "remove", "path": f'members[value eq "{mandy}"]'}
    assert client.patch(path, patch_body(remove)).status_code == 204
    assert members() == [babs]
    replace = {"op": "replace", "path": "members", "value": [{"value": james}]}
    assert client.patch(path, patch_body(replace)).status_code == 204
    assert members() == [james]


def test_recognising_entra_costs_no_statement(connection, django_assert_num_queries):
    """The dialect arrives with the token's row and recognition reads only the request: an
    Entra PATCH in `auto` costs what tests/storage/test_statements.py pins for any PATCH."""
    _, client = connection("auto", ENTRA_USER_AGENT)
    user = create_user(client, active=True)
    deactivate = patch_body({"op": "Replace", "path": "active", "value": "False"})
    # token, the user with its groups, the write (in a savepoint of the test's transaction)
    with django_assert_num_queries(5):
        response = client.patch(f"/Users/{user['id']}", deactivate)
    assert response.json()["active"] is False
