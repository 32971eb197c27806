"""Read rules of RFC 7643/7644 that IdP lookups rarely exercise, against PostgreSQL: ids compare
case-exactly, `schemas` and a user's `groups` can be filtered on."""

import pytest

from tests.conftest import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    assert_scim_error,
    patch_body,
    streamed_json,
)


def member(resource: dict) -> dict:
    return {"value": resource["id"]}


def names(scim, endpoint: str, filter_text: str) -> list[str]:
    response = scim.get(endpoint, {"filter": filter_text, "excludedAttributes": "members"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totalResults"] == len(body["Resources"])
    return sorted(r.get("userName") or r["displayName"] for r in body["Resources"])


# --- id is caseExact (RFC 7643 §3.1) ---------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["/Users", "/Groups"])
def test_upper_cased_id_names_nothing(scim, make_user, make_group, endpoint):
    """RFC 7643 §3.1: `id` is caseExact, so the upper-cased id of a resource is another id:
    GET, PUT, PATCH and DELETE by it are 404, and nothing is changed."""
    resource = make_user("bjensen") if endpoint == "/Users" else make_group("Admins")
    upper = f"{endpoint}/{resource['id'].upper()}"
    body = (
        {"schemas": [USER_SCHEMA], "userName": "x"}
        if endpoint == "/Users"
        else {
            "schemas": [GROUP_SCHEMA],
            "displayName": "x",
        }
    )
    assert_scim_error(scim.get(upper), 404)
    assert_scim_error(scim.put(upper, body), 404)
    assert_scim_error(
        scim.patch(upper, patch_body({"op": "replace", "path": "externalId", "value": "e"})), 404
    )
    assert_scim_error(scim.delete(upper), 404)
    assert streamed_json(scim.get(f"{endpoint}/{resource['id']}")) == resource


@pytest.mark.parametrize("endpoint", ["/Users", "/Groups"])
def test_id_filters_compare_case_exactly(scim, make_user, make_group, endpoint):
    """`id eq` with the upper-cased id matches nothing, `ne` matches the resource again, and
    `sw` compares case-exactly too (RFC 7643 §3.1, RFC 7644 §3.4.2.2)."""
    resource = make_user("bjensen") if endpoint == "/Users" else make_group("Admins")
    name = resource.get("userName") or resource["displayName"]
    resource_id = resource["id"]
    assert names(scim, endpoint, f'id eq "{resource_id}"') == [name]
    assert names(scim, endpoint, f'id eq "{resource_id.upper()}"') == []
    assert names(scim, endpoint, f'id ne "{resource_id.upper()}"') == [name]
    assert names(scim, endpoint, f'id sw "{resource_id[:8]}"') == [name]
    assert names(scim, endpoint, f'id sw "{resource_id[:8].upper()}"') == (
        [] if any(c.isalpha() for c in resource_id[:8]) else [name]
    )


def test_member_values_compare_case_exactly(scim, make_user, make_group):
    """A member's `value` is a resource id, so it is caseExact too: a member filter with the
    upper-cased id selects nothing, a member added by it does not exist (400), and a
    removal by it removes nothing."""
    alice = make_user("alice")
    group = make_group("Admins", members=[member(alice)])
    upper = alice["id"].upper()
    assert names(scim, "/Groups", f'members[value eq "{alice["id"]}"]') == ["Admins"]
    assert names(scim, "/Groups", f'members[value eq "{upper}"]') == []
    path = f"/Groups/{group['id']}"
    bob = make_user("bob")
    response = scim.patch(
        path, patch_body({"op": "add", "path": "members", "value": [{"value": bob["id"].upper()}]})
    )
    assert_scim_error(response, 400, "invalidValue", "does not exist")
    response = scim.patch(
        path, patch_body({"op": "remove", "path": "members", "value": [{"value": upper}]})
    )
    assert response.status_code == 204
    response = scim.patch(
        path, patch_body({"op": "remove", "path": f'members[value eq "{upper}"]'})
    )
    assert response.status_code == 204
    assert [m["value"] for m in streamed_json(scim.get(path))["members"]] == [alice["id"]]


# --- schemas (RFC 7644 §3.4.2.2, RFC 7643 §3) -------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (f'schemas eq "{ENTERPRISE_SCHEMA}"', ["bjensen"]),
        (f'schemas eq "{ENTERPRISE_SCHEMA.upper()}"', ["bjensen"]),
        (f'schemas eq "{USER_SCHEMA}"', ["bjensen", "jsmith"]),
        ('schemas co "extension:enterprise"', ["bjensen"]),
        ('schemas sw "urn:ietf:params:scim:schemas:core"', ["bjensen", "jsmith"]),
        ('schemas ew ":User"', ["bjensen", "jsmith"]),
        ("schemas pr", ["bjensen", "jsmith"]),
        (f'schemas ne "{USER_SCHEMA}"', ["bjensen"]),
        (f'not (schemas eq "{ENTERPRISE_SCHEMA}")', ["jsmith"]),
        (f'schemas eq "{GROUP_SCHEMA}"', []),
        (f'schemas eq "{ENTERPRISE_SCHEMA}" and userName sw "j"', []),
    ],
)
def test_filter_users_by_schemas(scim, make_user, filter_text, expected):
    """A user carries the EnterpriseUser schema when it has a value of it, and the filter on
    `schemas` finds exactly those (RFC 7644 §3.4.2.2); URIs compare case-insensitively."""
    make_user("bjensen", **{ENTERPRISE_SCHEMA: {"employeeNumber": "701984"}})
    make_user("jsmith")
    assert names(scim, "/Users", filter_text) == expected


def test_filter_groups_by_schemas(scim, make_group):
    """Every group carries the Group schema and no other."""
    make_group("Admins")
    assert names(scim, "/Groups", f'schemas eq "{GROUP_SCHEMA}"') == ["Admins"]
    assert names(scim, "/Groups", f'schemas eq "{ENTERPRISE_SCHEMA}"') == []


def test_schemas_compares_with_strings_only(scim, make_user):
    assert_scim_error(scim.get("/Users", {"filter": "schemas eq 5"}), 400, "invalidFilter")


# --- a user's groups (RFC 7643 §4.1.2) ---------------------------------------------------------


@pytest.fixture
def org(scim, make_user, make_group):
    """Staff > Engineering > Platform, with alice in Platform, bob in Engineering, carol in
    Staff and in Sales, and dave in nothing."""
    people = {name: make_user(name) for name in ("alice", "bob", "carol", "dave")}
    platform = make_group("Platform", members=[member(people["alice"])])
    engineering = make_group("Engineering", members=[member(people["bob"]), member(platform)])
    staff = make_group("Staff", members=[member(people["carol"]), member(engineering)])
    sales = make_group("Sales", members=[member(people["carol"])])
    groups = {"Platform": platform, "Engineering": engineering, "Staff": staff, "Sales": sales}
    return people, groups


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('groups.value eq "{Staff}"', ["alice", "bob", "carol"]),
        ('groups.value eq "{Engineering}"', ["alice", "bob"]),
        ('groups.value eq "{Platform}"', ["alice"]),
        ('groups eq "{Sales}"', ["carol"]),
        ('groups[value eq "{Engineering}"]', ["alice", "bob"]),
        # As for any multi-valued attribute, `ne` holds when some value differs.
        ('groups.value ne "{Staff}"', ["alice", "bob", "carol"]),
        ('groups.value ne "{Sales}"', ["alice", "bob", "carol"]),
        ('not (groups.value eq "{Staff}")', ["dave"]),
        ('groups.display eq "engineering"', ["alice", "bob"]),
        ('groups.display co "A"', ["alice", "bob", "carol"]),
        ('groups.display sw "pla"', ["alice"]),
        ('groups.display ew "les"', ["carol"]),
        ('groups[display eq "Staff" or display eq "Sales"]', ["alice", "bob", "carol"]),
        ('groups[value eq "{Staff}" and display eq "Staff"]', ["alice", "bob", "carol"]),
        ('groups[value eq "{Staff}" and display eq "Sales"]', []),
        ('groups[not (display eq "Staff")]', ["alice", "bob", "carol"]),
        ("groups pr", ["alice", "bob", "carol"]),
        ("not (groups pr)", ["dave"]),
        ('groups.display eq "Staff" and userName sw "b"', ["bob"]),
        ('groups.display eq "nobody"', []),
        # A value that is no id of ours (or one upper-cased, RFC 7643 §3.1) names no group.
        ('groups.value eq "not-an-id"', []),
        ('groups.value eq "{Staff_upper}"', []),
        ('not (groups.value eq "not-an-id")', ["alice", "bob", "carol", "dave"]),
        ('groups.value eq "not-an-id" or userName eq "alice"', ["alice"]),
        ('groups.display eq "Staff" and groups.value eq "not-an-id"', []),
    ],
)
def test_filter_users_by_their_groups(scim, org, filter_text, expected):
    """`groups` holds direct and indirect groups (RFC 7643 §4.1.2), so the filter finds the
    members of a group and of the groups nested in it; `value` is caseExact like `id`,
    `display` is not, like `displayName`."""
    _, groups = org
    ids = {name: group["id"] for name, group in groups.items()}
    filter_text = filter_text.format(**ids, **{f"{n}_upper": i.upper() for n, i in ids.items()})
    assert names(scim, "/Users", filter_text) == expected
    # The same shape of filter with a real id still finds its users (a statement compiled for
    # the one is never served for the other).
    assert names(scim, "/Users", f'groups.value eq "{ids["Platform"]}"') == ["alice"]


def test_groups_filter_agrees_with_the_users_groups(scim, org):
    """What the filter finds is what each user's `groups` lists."""
    people, groups = org
    for name, group in groups.items():
        found = names(scim, "/Users", f'groups.value eq "{group["id"]}"')
        listed = sorted(
            person
            for person, user in people.items()
            if group["id"]
            in {g["value"] for g in scim.get(f"/Users/{user['id']}").json().get("groups", [])}
        )
        assert found == listed, name


def test_groups_filter_follows_membership_changes(scim, org):
    """Un-nesting a group takes its members out of the groups above it."""
    _, groups = org
    path = f"/Groups/{groups['Staff']['id']}"
    remove = patch_body(
        {"op": "remove", "path": f'members[value eq "{groups["Engineering"]["id"]}"]'}
    )
    assert scim.patch(path, remove).status_code == 204
    assert names(scim, "/Users", f'groups.value eq "{groups["Staff"]["id"]}"') == ["carol"]


def test_groups_filter_is_tenant_scoped(scim, org, make_tenant, make_client, make_group):
    """Another tenant's group of the same name finds none of this tenant's users."""
    other = make_client(make_tenant())
    make_group("Staff", client=other)
    assert names(other, "/Users", 'groups.display eq "Staff"') == []


@pytest.mark.parametrize(
    "filter_text",
    ['groups.type eq "direct"', "groups[$ref pr]", 'groups[display eq "x" and type eq "direct"]'],
)
def test_groups_filter_on_derived_sub_attributes_is_400(scim, org, filter_text):
    """`type` and `$ref` are worked out when a user is read, so they cannot be filtered on."""
    response = scim.get("/Users", {"filter": filter_text})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_sorting_by_groups_is_400(scim, org):
    assert_scim_error(scim.get("/Users", {"sortBy": "groups.display"}), 400, "invalidValue")
