"""Groups (RFC 7643 §4.2, RFC 7644 §3): membership as rows, nested groups, a user's groups,
and entity tags (RFC 7644 §3.14)."""

import pytest

from provisioning.models import Membership
from tests.conftest import GROUP_SCHEMA, assert_scim_error, group_body, patch_body, streamed_json


def member(user_or_group: dict, kind: str = "User") -> dict:
    return {"value": user_or_group["id"], "type": kind}


def test_create_group_with_members(scim, make_user, make_group):
    """POST /Groups answers 201 with the group, its members as references (RFC 7644 §3.3)."""
    alice = make_user("alice", displayName="Alice A")
    bob = make_user("bob")
    created = make_group("Admins", externalId="g-1", members=[member(alice), {"value": bob["id"]}])
    assert created == {
        "schemas": [GROUP_SCHEMA],
        "id": created["id"],
        "displayName": "Admins",
        "externalId": "g-1",
        "members": [
            {
                "value": alice["id"],
                "$ref": f"http://testserver/scim/v2/Users/{alice['id']}",
                "display": "Alice A",
                "type": "User",
            },
            {
                "value": bob["id"],
                "$ref": f"http://testserver/scim/v2/Users/{bob['id']}",
                "type": "User",
            },
        ],
        "meta": {
            "resourceType": "Group",
            "created": created["meta"]["created"],
            "lastModified": created["meta"]["lastModified"],
            "location": f"http://testserver/scim/v2/Groups/{created['id']}",
            "version": 'W/"1"',
        },
    }


def test_get_group_streams_members_and_honours_excluded_attributes(scim, make_user, make_group):
    """GET streams members; excludedAttributes=members leaves them out (Entra's request)."""
    users = [make_user(f"user{i}") for i in range(5)]
    group = make_group("Big", members=[member(u) for u in users])
    response = scim.get(f"/Groups/{group['id']}")
    assert response.streaming and response["Content-Type"] == "application/scim+json"
    assert response["ETag"] == 'W/"1"'
    assert [m["value"] for m in streamed_json(response)["members"]] == [u["id"] for u in users]
    excluded = scim.get(f"/Groups/{group['id']}", {"excludedAttributes": "members"})
    assert "members" not in excluded.json() and excluded.json()["displayName"] == "Big"
    only_values = streamed_json(scim.get(f"/Groups/{group['id']}", {"attributes": "members.value"}))
    assert only_values["members"][0] == {"value": users[0]["id"]}


def test_excluded_members_are_never_loaded(scim, make_user, make_group, django_assert_num_queries):
    """A group GET without members reads no membership row: the group (carrying the token's
    check), nothing else."""
    group = make_group("Big", members=[member(make_user(f"u{i}")) for i in range(3)])
    scim.get(f"/Groups/{group['id']}", {"excludedAttributes": "members"})  # token last_used write
    with django_assert_num_queries(1):
        assert (
            scim.get(f"/Groups/{group['id']}", {"excludedAttributes": "members"}).status_code == 200
        )


@pytest.mark.parametrize("name", ["admins", "ADMINS", "Admins"])
def test_display_name_is_unique_case_insensitively(scim, make_group, name):
    """displayName is unique per tenant, case-insensitively: 409 uniqueness."""
    make_group("Admins")
    assert_scim_error(scim.post("/Groups", group_body(name)), 409, "uniqueness")


def test_same_display_name_in_another_tenant(make_group, make_tenant, make_client):
    """Uniqueness is per tenant."""
    make_group("Admins")
    make_group("Admins", client=make_client(make_tenant()))


@pytest.mark.parametrize(
    "members",
    [
        [{"value": "9e4a5f1c-1111-4222-8333-444455556666"}],
        [{"value": "not-a-uuid"}],
    ],
    ids=["unknown-id", "not-a-uuid"],
)
def test_members_must_exist_in_the_tenant(scim, members):
    """A member that does not exist in the tenant is a 400 naming it, and nothing is written."""
    response = scim.post("/Groups", group_body("G", members=members))
    assert_scim_error(response, 400, "invalidValue", "does not exist")
    assert scim.get("/Groups").json()["totalResults"] == 0


def test_member_of_another_tenant_is_refused(scim, make_group, make_tenant, make_client):
    """A user of another tenant cannot be added."""
    other = make_client(make_tenant())
    stranger = other.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"}
    ).json()
    assert_scim_error(
        scim.post("/Groups", group_body("G", members=[member(stranger)])), 400, "invalidValue"
    )


def test_member_type_must_match(scim, make_user):
    """A member sent with the wrong type is refused."""
    alice = make_user("alice")
    response = scim.post("/Groups", group_body("G", members=[member(alice, "Group")]))
    assert_scim_error(response, 400, "invalidValue", "of type Group")


def test_nested_groups_and_user_groups(scim, make_user, make_group):
    """A user's `groups` lists direct and indirect memberships (RFC 7643 §4.1.2)."""
    alice = make_user("alice")
    inner = make_group("Inner", members=[member(alice)])
    outer = make_group("Outer", members=[member(inner, "Group")])
    fetched = scim.get(f"/Users/{alice['id']}").json()
    assert fetched["groups"] == [
        {
            "value": inner["id"],
            "$ref": f"http://testserver/scim/v2/Groups/{inner['id']}",
            "display": "Inner",
            "type": "direct",
        },
        {
            "value": outer["id"],
            "$ref": f"http://testserver/scim/v2/Groups/{outer['id']}",
            "display": "Outer",
            "type": "indirect",
        },
    ]
    listed = scim.get("/Users", {"excludedAttributes": "groups"}).json()["Resources"][0]
    assert "groups" not in listed


def test_cycles_are_refused(scim, make_group):
    """A group cannot become a member of itself, directly or through nesting."""
    a = make_group("A")
    b = make_group("B", members=[member(a, "Group")])
    assert_scim_error(
        scim.put(f"/Groups/{a['id']}", group_body("A", members=[member(b, "Group")])),
        400,
        "invalidValue",
        "itself",
    )
    assert_scim_error(
        scim.put(f"/Groups/{a['id']}", group_body("A", members=[member(a, "Group")])),
        400,
        "invalidValue",
        "itself",
    )


def test_put_replaces_members(scim, make_user, make_group):
    """PUT replaces the whole member list (RFC 7644 §3.5.1) and moves the version."""
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group("G", members=[member(alice)])
    replaced = streamed_json(
        scim.put(f"/Groups/{group['id']}", group_body("G", members=[member(bob)]))
    )
    assert [m["value"] for m in replaced["members"]] == [bob["id"]]
    assert replaced["meta"]["version"] == 'W/"2"'
    same = streamed_json(scim.put(f"/Groups/{group['id']}", group_body("G", members=[member(bob)])))
    assert same["meta"]["version"] == 'W/"2"'


def test_deleting_a_user_removes_it_from_groups(scim, make_user, make_group):
    """Deleting a member removes its membership and moves the group's version."""
    alice = make_user("alice")
    group = make_group("G", members=[member(alice)])
    assert scim.delete(f"/Users/{alice['id']}").status_code == 204
    fetched = streamed_json(scim.get(f"/Groups/{group['id']}"))
    assert fetched["members"] == [] and fetched["meta"]["version"] == 'W/"2"'
    assert not Membership.objects.exists()


def test_delete_group(scim, make_group):
    """DELETE /Groups/{id} is 204, then 404 (RFC 7644 §3.6)."""
    group = make_group("G")
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert_scim_error(scim.get(f"/Groups/{group['id']}"), 404)
    assert_scim_error(scim.delete(f"/Groups/{group['id']}"), 404)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('displayName eq "ADMINS"', ["Admins"]),
        ('displayName co "min"', ["Admins"]),
        ("members pr", ["Admins"]),
        ("not (members pr)", ["Empty"]),
        ('externalId eq "e-1"', ["Empty"]),
    ],
)
def test_group_filters(scim, make_user, make_group, filter_text, expected):
    """Okta and Entra look groups up by displayName; members filter by value (RFC 7644 §3.4.2.2)."""
    make_group("Admins", members=[member(make_user("alice"))])
    make_group("Empty", externalId="e-1")
    listed = scim.get("/Groups", {"filter": filter_text, "excludedAttributes": "members"}).json()
    assert [g["displayName"] for g in listed["Resources"]] == expected


def test_filter_groups_by_member(scim, make_user, make_group):
    """`members[value eq "id"]` finds the groups a resource belongs to."""
    alice = make_user("alice")
    make_group("Admins", members=[member(alice)])
    make_group("Others", members=[member(make_user("bob"))])
    listed = scim.get("/Groups", {"filter": f'members[value eq "{alice["id"]}"]'}).json()
    assert [g["displayName"] for g in listed["Resources"]] == ["Admins"]
    listed = scim.get("/Groups", {"filter": f'members.value eq "{alice["id"]}"'}).json()
    assert [g["displayName"] for g in listed["Resources"]] == ["Admins"]


def test_group_list_includes_members_with_a_fixed_number_of_queries(
    scim, make_user, make_group, django_assert_num_queries
):
    """A page of groups reads all their members in one query: the page (carrying the
    token's check), members (the page is not full, so it tells the total without a COUNT)."""
    users = [make_user(f"u{i}") for i in range(3)]
    for i in range(4):
        make_group(f"G{i}", members=[member(u) for u in users])
    with django_assert_num_queries(2):
        body = scim.get("/Groups").json()
    assert [len(g["members"]) for g in body["Resources"]] == [3, 3, 3, 3]


def test_entity_tags(scim, make_user):
    """ETag on responses; If-None-Match → 304; If-Match mismatch → 412 (RFC 7644 §3.14)."""
    created = scim.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}
    )
    assert created["ETag"] == 'W/"1"'
    user_id = created.json()["id"]
    assert scim.get(f"/Users/{user_id}", HTTP_IF_NONE_MATCH='W/"1"').status_code == 304
    assert scim.get(f"/Users/{user_id}", HTTP_IF_NONE_MATCH='W/"9"').status_code == 200
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b"}
    assert_scim_error(scim.put(f"/Users/{user_id}", body, HTTP_IF_MATCH='W/"7"'), 412)
    assert scim.put(f"/Users/{user_id}", body, HTTP_IF_MATCH='W/"1"')["ETag"] == 'W/"2"'
    assert_scim_error(scim.delete(f"/Users/{user_id}", HTTP_IF_MATCH='"1"'), 412)
    assert scim.delete(f"/Users/{user_id}", HTTP_IF_MATCH="*").status_code == 204


def test_filtered_replace_of_members_swaps_only_the_matched_member(scim, make_user, make_group):
    """A replace through `members[value eq "x"]` swaps that member only; a filter matching no
    member is a 400 noTarget (RFC 7644 §3.5.2.3)."""
    alice, bob, carol = (make_user(n)["id"] for n in ("alice", "bob", "carol"))
    group = make_group("G", members=[{"value": alice}, {"value": bob}])
    body = patch_body(
        {"op": "replace", "path": f'members[value eq "{alice}"]', "value": {"value": carol}}
    )
    assert scim.patch(f"/Groups/{group['id']}", body).status_code == 204
    members = streamed_json(scim.get(f"/Groups/{group['id']}"))["members"]
    assert sorted(m["value"] for m in members) == sorted([bob, carol])
    assert_scim_error(scim.patch(f"/Groups/{group['id']}", body), 400, "noTarget")


def test_nesting_is_bounded_in_depth(scim, make_group, settings, monkeypatch):
    """Nesting deeper than the bound is refused, so no cycle can hide beyond the walk."""
    monkeypatch.setattr("provisioning.storage.groups.MAX_NESTING", 3)
    chain = [make_group("G0")]
    for i in range(1, 4):
        chain.append(make_group(f"G{i}", members=[member(chain[-1], "Group")]))
    response = scim.post("/Groups", group_body("G4", members=[member(chain[-1], "Group")]))
    assert_scim_error(response, 400, "invalidValue", "nested at most 3")
    closing = patch_body({"op": "add", "path": "members", "value": [member(chain[-1], "Group")]})
    assert_scim_error(scim.patch(f"/Groups/{chain[0]['id']}", closing), 400, "invalidValue")


def test_membership_changes_move_the_members_versions(scim, make_user, make_group):
    """A user's `groups` is part of it, so joining or leaving a group, or the group's rename,
    moves the user's version; a member's rename moves the group's (RFC 7644 §3.14)."""
    alice = make_user("alice")
    group = make_group("G", members=[member(alice)])
    assert scim.get(f"/Users/{alice['id']}")["ETag"] == 'W/"2"'
    rename = patch_body({"op": "replace", "path": "displayName", "value": "H"})
    assert scim.patch(f"/Groups/{group['id']}", rename).status_code == 204
    assert scim.get(f"/Users/{alice['id']}")["ETag"] == 'W/"3"'
    version = scim.get(f"/Groups/{group['id']}")["ETag"]
    scim.patch(
        f"/Users/{alice['id']}", patch_body({"op": "add", "path": "displayName", "value": "A"})
    )
    assert scim.get(f"/Groups/{group['id']}")["ETag"] != version
    leave = patch_body({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'})
    assert scim.patch(f"/Groups/{group['id']}", leave).status_code == 204
    assert scim.get(f"/Users/{alice['id']}")["ETag"] == 'W/"5"'


def test_changes_deeper_in_the_nesting_move_the_versions_of_the_users_below(
    scim, make_user, make_group
):
    """A user's `groups` holds its indirect groups too (RFC 7643 §4.1.2), so nesting a group,
    un-nesting it, renaming or deleting a group above moves the version of every user below
    (RFC 7644 §3.14): an ETag never vouches for a body whose groups are stale."""
    alice, bob = make_user("alice"), make_user("bob")
    inner = make_group("Inner", members=[member(alice)])
    middle = make_group("Middle", members=[member(inner, "Group")])
    outer = make_group("Outer", members=[member(bob)])
    path = f"/Users/{alice['id']}"

    def tag_and_groups() -> tuple[str, list[str]]:
        response = scim.get(path)
        return response["ETag"], sorted(g["display"] for g in response.json()["groups"])

    seen = [tag_and_groups()]
    assert seen[-1][1] == ["Inner", "Middle"]
    steps = [
        (
            "nest Middle in Outer",
            "patch",
            f"/Groups/{outer['id']}",
            patch_body({"op": "add", "path": "members", "value": [member(middle, "Group")]}),
            ["Inner", "Middle", "Outer"],
        ),
        (
            "rename Outer",
            "patch",
            f"/Groups/{outer['id']}",
            patch_body({"op": "replace", "path": "displayName", "value": "Top"}),
            ["Inner", "Middle", "Top"],
        ),
        (
            "un-nest Middle",
            "patch",
            f"/Groups/{outer['id']}",
            patch_body({"op": "remove", "path": f'members[value eq "{middle["id"]}"]'}),
            ["Inner", "Middle"],
        ),
        (
            "PUT Outer with Middle",
            "put",
            f"/Groups/{outer['id']}",
            group_body("Top", members=[member(middle, "Group")]),
            ["Inner", "Middle", "Top"],
        ),
        ("delete Top", "delete", f"/Groups/{outer['id']}", None, ["Inner", "Middle"]),
    ]
    for step, method, group_path, body, groups in steps:
        response = (
            scim.delete(group_path) if body is None else getattr(scim, method)(group_path, body)
        )
        assert response.status_code in (200, 204), (step, response.content)
        seen.append(tag_and_groups())
        assert seen[-1][1] == groups, step
        assert seen[-1][0] != seen[-2][0], step
        stale = scim.get(path, HTTP_IF_NONE_MATCH=seen[-2][0])
        assert stale.status_code == 200, step
    # bob lost Top with it; his version moved once more, for the delete.
    assert scim.get(f"/Users/{bob['id']}").json().get("groups") is None


def test_group_get_reads_the_group_and_its_members_in_one_statement(
    scim, make_user, make_group, django_assert_num_queries
):
    """The group and its members come from one statement, one snapshot (RFC 7644 §3.14):
    token, then the group with its members."""
    group = make_group("Big", members=[member(make_user(f"u{i}")) for i in range(3)])
    scim.get(f"/Groups/{group['id']}")  # token last_used write
    with django_assert_num_queries(2):
        fetched = streamed_json(scim.get(f"/Groups/{group['id']}"))
    assert fetched == {**group, "members": group["members"]}
    tag = scim.get(f"/Groups/{group['id']}", {"excludedAttributes": "members"})["ETag"]
    not_modified = scim.get(f"/Groups/{group['id']}", HTTP_IF_NONE_MATCH=tag)
    assert not_modified.status_code == 304 and not_modified["ETag"] == tag
