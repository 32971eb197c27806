"""Microsoft Entra ID's provisioning requests, in the shapes Entra sends them
(docs/entra.md), to a connection in the `entra` dialect and in `auto`, with Entra's
User-Agent and without (then `auto` recognises Entra by its PATCH bodies)."""

import uuid

import pytest

from tests.conftest import ENTERPRISE_SCHEMA, USER_SCHEMA, patch_body, streamed_json

ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
# What GitHub's SCIM server recognises Entra by (provisioning/scim/dialect.py).
ENTRA_USER_AGENT = "Microsoft Azure AD SCIM provisioning"


@pytest.fixture(
    autouse=True,
    params=[("entra", ENTRA_USER_AGENT), ("auto", ENTRA_USER_AGENT), ("auto", None)],
    ids=["entra", "auto", "auto-no-user-agent"],
)
def _entra_connection(request, tenant, scim):
    """Make the `acme` tenant an Entra connection in the dialect of the parameter."""
    dialect, user_agent = request.param
    tenant.dialect = dialect
    tenant.save(update_fields=["dialect"])
    if user_agent:
        scim.defaults["HTTP_USER_AGENT"] = user_agent


def entra_user(upn="ryan3@example.onmicrosoft.com"):
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "ryan3",
        "userName": upn,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "ryan@example.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan"},
        "roles": [],
        "nickName": None,
        ENTERPRISE_SCHEMA: {"employeeNumber": None, "department": "Sales"},
    }


@pytest.fixture
def ryan(scim):
    response = scim.post("/Users", entra_user())
    assert response.status_code == 201, response.content
    return response.json()


def test_test_connection_with_a_random_guid(scim):
    """Test Connection: a filter on a random GUID is 200 with an empty ListResponse."""
    body = scim.get("/Users", {"filter": f'userName eq "{uuid.uuid4()}"'}).json()
    assert body["totalResults"] == 0 and body["Resources"] == []


def test_create_with_nulls_and_empty_roles(ryan):
    """Entra's nulls and `roles: []` are unassigned: they do not appear."""
    assert "roles" not in ryan and "nickName" not in ryan
    assert ryan[ENTERPRISE_SCHEMA] == {"department": "Sales"}


@pytest.mark.parametrize(
    "filter_text",
    [
        'userName eq "RYAN3@example.onmicrosoft.com"',
        'externalId eq "ryan3"',
        'emails[type eq "work"].value eq "ryan@example.com"',
    ],
)
def test_matching_filters(scim, ryan, filter_text):
    """Entra matches users with eq on userName, externalId or the work email."""
    body = scim.get("/Users", {"filter": filter_text}).json()
    assert [r["id"] for r in body["Resources"]] == [ryan["id"]]


def test_default_dialect_patch(scim, ryan):
    """Capitalised ops, boolean strings, one operation per attribute, filtered paths that
    create the element, enterprise attributes and manager as object, string, or cleared."""
    manager = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "boss"}).json()
    body = patch_body(
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "name.givenName", "value": "Ry"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ryan@new.example.com"},
        {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "42"},
        {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager["id"]},
    )
    patched = scim.patch(f"/Users/{ryan['id']}", body)
    assert patched.status_code == 200, patched.content
    user = patched.json()
    assert user["active"] is False and user["name"]["givenName"] == "Ry"
    assert user["phoneNumbers"] == [{"value": "+1 555 0100", "type": "work"}]
    assert user["addresses"] == [{"streetAddress": "1 Main St", "type": "work"}]
    assert user["emails"] == [{"value": "ryan@new.example.com", "type": "work", "primary": True}]
    assert user[ENTERPRISE_SCHEMA] == {
        "employeeNumber": "42",
        "department": "Sales",
        "manager": {"value": manager["id"]},
    }
    cleared = scim.patch(
        f"/Users/{ryan['id']}",
        patch_body(
            {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": {"value": ""}}
        ),
    )
    assert "manager" not in cleared.json()[ENTERPRISE_SCHEMA]
    assert scim.get("/Users", {"filter": "active eq false"}).json()["totalResults"] == 1


def test_aad_opt_scim_062020_dialect(scim, ryan):
    """With aadOptscim062020: lowercase ops, real booleans, dotted keys in a no-path replace."""
    body = patch_body(
        {
            "op": "replace",
            "value": {
                "active": False,
                "name.givenName": "Ryan2",
                f"{ENTERPRISE_SCHEMA}:employeeNumber": "7",
            },
        }
    )
    user = scim.patch(f"/Users/{ryan['id']}", body).json()
    assert (
        user["active"],
        user["name"]["givenName"],
        user[ENTERPRISE_SCHEMA]["employeeNumber"],
    ) == (False, "Ryan2", "7")


def test_groups_with_extra_schema_and_excluded_members(scim, ryan):
    """Groups arrive with Entra's extra schema URI; lookups exclude members."""
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ENTRA_GROUP_SCHEMA],
            "displayName": "Group1DisplayName",
            "externalId": "60f9",
        },
    )
    assert group.status_code == 201, group.content
    gid = group.json()["id"]
    found = scim.get(
        "/Groups", {"excludedAttributes": "members", "filter": 'displayName eq "Group1DisplayName"'}
    ).json()
    assert found["Resources"] == [{k: v for k, v in group.json().items() if k != "members"}]
    assert "members" not in scim.get(f"/Groups/{gid}", {"excludedAttributes": "members"}).json()


def test_member_add_and_remove_with_value_lists(scim, ryan):
    """Entra adds members with Add (or replace) and removes with Remove + a value list: only those."""
    other = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "other"}).json()
    gid = scim.post(
        "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}
    ).json()["id"]
    add = patch_body(
        {"op": "Add", "path": "members", "value": [{"value": ryan["id"]}, {"value": other["id"]}]}
    )
    assert scim.patch(f"/Groups/{gid}", add).status_code == 204
    remove = patch_body({"op": "Remove", "path": "members", "value": [{"value": ryan["id"]}]})
    assert scim.patch(f"/Groups/{gid}", remove).status_code == 204
    assert [m["value"] for m in streamed_json(scim.get(f"/Groups/{gid}"))["members"]] == [
        other["id"]
    ]


def test_disable_then_hard_delete(scim, ryan):
    """Disabled users stay visible; a later DELETE is 204 and a second one 404."""
    scim.patch(
        f"/Users/{ryan['id']}", patch_body({"op": "Replace", "path": "active", "value": "False"})
    )
    assert scim.get(f"/Users/{ryan['id']}").json()["active"] is False
    assert scim.delete(f"/Users/{ryan['id']}").status_code == 204
    assert scim.delete(f"/Users/{ryan['id']}").status_code == 404
