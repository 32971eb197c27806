"""Okta's provisioning requests, in the shapes Okta sends them (docs/okta.md), to a
connection in the `okta` dialect and in `auto`, with Okta's User-Agent and without."""

import pytest

from tests.conftest import ENTERPRISE_SCHEMA, USER_SCHEMA, group_body, patch_body, streamed_json

# Okta's "SCIM 2.0 Protocol Reference" shows this header on every request.
OKTA_USER_AGENT = "Okta SCIM Client 1.0.0"


@pytest.fixture(
    autouse=True,
    params=[("okta", OKTA_USER_AGENT), ("auto", OKTA_USER_AGENT), ("auto", None)],
    ids=["okta", "auto", "auto-no-user-agent"],
)
def _okta_connection(request, tenant, scim):
    """Make the `acme` tenant an Okta connection in the dialect of the parameter."""
    dialect, user_agent = request.param
    tenant.dialect = dialect
    tenant.save(update_fields=["dialect"])
    if user_agent:
        scim.defaults["HTTP_USER_AGENT"] = user_agent


OKTA_HEADERS = {
    "content_type": "application/scim+json; charset=utf-8",
    "HTTP_ACCEPT": "application/scim+json",
}


def okta_user(user_name="isaac.brock@example.com"):
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def member_values(scim, group_id):
    return [m["value"] for m in streamed_json(scim.get(f"/Groups/{group_id}"))["members"]]


def test_lookup_create_and_case_insensitive_lookup(scim):
    """Okta looks up by userName (any case) before and after creating; password is never returned."""
    lookup = {"filter": 'userName eq "Isaac.Brock@example.com"', "startIndex": 1, "count": 100}
    assert scim.get("/Users", lookup).json()["totalResults"] == 0
    created = scim.post("/Users", okta_user(), **OKTA_HEADERS)
    assert created.status_code == 201 and "password" not in created.json()
    found = scim.get("/Users", lookup).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == created.json()["id"]
    assert scim.post("/Users", okta_user(), **OKTA_HEADERS).status_code == 409


def test_update_by_get_then_put_of_the_full_body(scim):
    """Okta GETs the user and PUTs it back changed, id/meta/groups included (ignored)."""
    user = scim.post("/Users", okta_user()).json()
    body = {**scim.get(f"/Users/{user['id']}").json(), "title": "Developer"}
    replaced = scim.put(f"/Users/{user['id']}", body, **OKTA_HEADERS)
    assert replaced.status_code == 200
    assert replaced.json()["title"] == "Developer" and replaced.json()["id"] == user["id"]


def test_deactivate_and_reactivate_keep_id_and_memberships(scim, make_group):
    """Okta never deletes: PATCH active=false, later active=true; same id, groups kept."""
    user = scim.post("/Users", okta_user()).json()
    group = make_group("Engineering", members=[{"value": user["id"]}])
    for active in (False, True):
        body = patch_body({"op": "replace", "value": {"active": active}})
        patched = scim.patch(f"/Users/{user['id']}", body, **OKTA_HEADERS)
        assert patched.status_code == 200 and patched.json()["active"] is active
        assert patched.json()["id"] == user["id"]
        assert (
            scim.get("/Users", {"filter": f"active eq {str(active).lower()}"}).json()[
                "totalResults"
            ]
            == 1
        )
        assert member_values(scim, group["id"]) == [user["id"]]


def test_group_push_rename_and_membership(scim, make_user):
    """Group push: create with no members, rename by a no-path replace carrying id, then one
    PATCH that removes and adds members, answered 204."""
    alice, bob, carol = (make_user(n)["id"] for n in ("alice", "bob", "carol"))
    group = scim.post("/Groups", group_body("Staff", members=[]), **OKTA_HEADERS).json()
    assert scim.get("/Groups", {"filter": 'displayName eq "staff"'}).json()["totalResults"] == 1
    rename = patch_body({"op": "replace", "value": {"id": group["id"], "displayName": "All Staff"}})
    assert scim.patch(f"/Groups/{group['id']}", rename).status_code == 204
    add = patch_body(
        {
            "op": "add",
            "path": "members",
            "value": [{"value": alice, "display": "alice"}, {"value": bob, "display": "bob"}],
        }
    )
    assert scim.patch(f"/Groups/{group['id']}", add).status_code == 204
    combined = patch_body(
        {"op": "remove", "path": f'members[value eq "{alice}"]'},
        {"op": "add", "path": "members", "value": [{"value": carol, "display": "carol"}]},
    )
    assert scim.patch(f"/Groups/{group['id']}", combined).status_code == 204
    fetched = streamed_json(scim.get(f"/Groups/{group['id']}"))
    assert fetched["displayName"] == "All Staff"
    assert [m["value"] for m in fetched["members"]] == [bob, carol]
    assert fetched["meta"]["version"] == 'W/"4"'


def test_push_now_replaces_the_member_list(scim, make_user, make_group):
    """ "Push Now" sends replace path members with the full list: a true overwrite."""
    alice, bob, carol = (make_user(n)["id"] for n in ("alice", "bob", "carol"))
    group = make_group("G", members=[{"value": alice}, {"value": bob}])
    body = patch_body(
        {"op": "replace", "path": "members", "value": [{"value": bob}, {"value": carol}]}
    )
    assert scim.patch(f"/Groups/{group['id']}", body).status_code == 204
    assert sorted(member_values(scim, group["id"])) == sorted([bob, carol])


def test_patch_with_attributes_answers_200_with_just_those(scim, make_user, make_group):
    """A group PATCH with `attributes` answers 200 with those attributes (RFC 7644 §3.5.2)."""
    group = make_group("G")
    body = patch_body({"op": "add", "path": "members", "value": [{"value": make_user("a")["id"]}]})
    response = scim.patch(f"/Groups/{group['id']}?attributes=displayName", body)
    assert response.status_code == 200
    assert response.json() == {
        "schemas": [group["schemas"][0]],
        "id": group["id"],
        "displayName": "G",
    }


def test_delete_group_then_404(scim, make_group):
    """DELETE /Groups/{id} → 204; Okta's odd ids are 404, not 400."""
    group = make_group("G")
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get("/Users/010101001010101011001010101011").status_code == 404


def test_enterprise_extension_round_trips(scim):
    """An Okta profile with the enterprise extension comes back whole."""
    body = {
        **okta_user(),
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        ENTERPRISE_SCHEMA: {"department": "R&D"},
    }
    created = scim.post("/Users", body).json()
    assert created[ENTERPRISE_SCHEMA] == {"department": "R&D"}
