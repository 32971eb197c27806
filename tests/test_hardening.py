"""Inputs that once gave a 500, a silent data loss or a wrong result (found in review)."""

import base64
import json

import pytest

from tests.conftest import (
    ENTERPRISE_SCHEMA,
    assert_scim_error,
    group_body,
    patch_body,
    streamed_json,
)

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.mark.parametrize(
    "filter_text", ["not (meta pr)", "not (id pr)", 'not (meta.resourceType eq "User")']
)
def test_negated_always_true_conditions_match_nothing(scim, make_user, filter_text):
    """`not` of a condition every resource meets selects none (RFC 7644 §3.4.2.2)."""
    make_user("alice")
    assert scim.get("/Users", {"filter": filter_text}).json()["totalResults"] == 0


def test_remove_by_negated_presence_removes_no_member(scim, make_user, make_group):
    """`members[not (value pr)]` selects no member, so the remove changes nothing."""
    group = make_group("G", members=[{"value": make_user("a")["id"]}])
    body = patch_body({"op": "remove", "path": "members[not (value pr)]"})
    assert scim.patch(f"/Groups/{group['id']}", body).status_code == 204
    assert len(streamed_json(scim.get(f"/Groups/{group['id']}"))["members"]) == 1


@pytest.mark.parametrize("op", ["add", "replace"])
def test_members_without_value_are_refused_not_dropped(scim, make_user, make_group, op):
    """A member object without `value` is a 400, never an emptied group (RFC 7644 §3.5.2)."""
    group = make_group("G", members=[{"value": make_user("a")["id"]}])
    body = patch_body({"op": op, "path": "members", "value": [{"display": "Bob"}]})
    assert_scim_error(scim.patch(f"/Groups/{group['id']}", body), 400, "invalidValue", "value")
    put = scim.put(f"/Groups/{group['id']}", group_body("G", members=[{"display": "Bob"}]))
    assert_scim_error(put, 400, "invalidValue", "value")
    assert len(streamed_json(scim.get(f"/Groups/{group['id']}"))["members"]) == 1


def test_date_time_with_a_large_offset(scim, make_user):
    """An offset PostgreSQL cannot take (beyond ±15:59) is compared as the UTC instant."""
    make_user("a")
    filter_text = 'meta.created gt "2020-01-01T00:00:00-23:59"'
    assert scim.get("/Users", {"filter": filter_text}).json()["totalResults"] == 1


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        ["n", "2020-01-01T00:00:00Z", 5],
        ["n", "yesterday", "2819c223-7f76-453a-919d-413861904646"],
        ["x"],
        {"a": 1},
    ],
    ids=["number-id", "bad-instant", "short", "object"],
)
def test_forged_cursors_are_invalid_cursor(scim, payload):
    """A cursor the server did not issue is a 400 invalidCursor (RFC 9865 §2.1)."""
    assert_scim_error(scim.get("/Users", {"cursor": _cursor(payload)}), 400, "invalidCursor")


def test_cursor_position_with_a_large_offset_is_read_as_utc(scim, make_user):
    """A well-formed cursor position whose offset PostgreSQL cannot take still pages."""
    user = make_user("a")
    cursor = _cursor(["n", "2000-01-01T00:00:00-20:00", "2819c223-7f76-453a-919d-413861904646", 1])
    body = scim.get("/Users", {"cursor": cursor}).json()
    assert [r["id"] for r in body["Resources"]] == [user["id"]]


def test_entity_tags_the_server_never_issued(scim, make_user):
    """Absurd If-Match / If-None-Match tags name no version: 412 and 200, never a 500."""
    user = make_user("a")
    body = {"schemas": user["schemas"], "userName": "a"}
    huge = 'W/"' + "9" * 5000 + '"'
    assert_scim_error(scim.put(f"/Users/{user['id']}", body, HTTP_IF_MATCH=huge), 412)
    assert scim.get(f"/Users/{user['id']}", HTTP_IF_NONE_MATCH='"²"').status_code == 200


@pytest.mark.parametrize("field", ["attributes", "excludedAttributes"])
def test_search_projection_must_be_strings(scim, field):
    """`attributes` in a SearchRequest is a list of strings (RFC 7644 §3.4.3)."""
    response = scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], field: 5})
    assert_scim_error(response, 400, "invalidValue", field)


def test_format_parameter_does_not_change_the_media_type(scim):
    """`format` is no SCIM parameter: it neither 404s nor switches the response type."""
    response = scim.get("/Users", {"format": "xml"})
    assert response.status_code == 200 and response["Content-Type"] == "application/scim+json"


def test_service_root_itself_is_a_scim_404(scim):
    """GET /scim/v2 (no trailing slash) is a SCIM 404, not Django's HTML page."""
    assert_scim_error(scim.get("/scim/v2"), 404)


@pytest.mark.parametrize(
    ("endpoint", "filter_text"),
    [
        ("/Users", 'password eq "x"'),
        ("/Groups", "members.display pr"),
        ("/Groups", "members.$ref pr"),
    ],
)
def test_attributes_that_cannot_match_are_invalid_filters(scim, endpoint, filter_text):
    """Filtering on what is never stored is a 400, not 200-with-nothing (IDP-NOTES pitfall)."""
    assert_scim_error(scim.get(endpoint, {"filter": filter_text}), 400, "invalidFilter")


def test_manager_value_emptied_by_patch_clears_the_manager(scim, make_user):
    """Entra clears the manager with an empty value, also through `manager.value`."""
    boss = make_user("boss")
    user = make_user(
        "u",
        **{
            "schemas": [USER_SCHEMA_URN, ENTERPRISE_SCHEMA],
            ENTERPRISE_SCHEMA: {"manager": {"value": boss["id"]}, "department": "x"},
        },
    )
    body = patch_body({"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:manager.value", "value": ""})
    patched = scim.patch(f"/Users/{user['id']}", body).json()
    assert patched[ENTERPRISE_SCHEMA] == {"department": "x"}


USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_patch_operation_count_is_bounded(scim, make_user):
    """More operations than any IdP sends in one PATCH is a 400, not minutes of work."""
    user = make_user("a")
    ops = [{"op": "replace", "path": "title", "value": str(i)} for i in range(1001)]
    assert_scim_error(
        scim.patch(f"/Users/{user['id']}", patch_body(*ops)), 400, "invalidValue", "1000"
    )


def test_multi_valued_attributes_in_the_document_are_bounded(scim, make_user):
    """A user attribute holds at most 1000 values; group members, kept as rows, have no bound."""
    emails = [{"value": f"e{i}@x.com"} for i in range(1001)]
    response = scim.post(
        "/Users", {"schemas": [USER_SCHEMA_URN], "userName": "many", "emails": emails}
    )
    assert_scim_error(response, 400, "invalidValue", "at most 1000")


def test_adding_many_values_is_linear(scim, make_user):
    """990 new emails in one add, ten of them twice, land once each (no quadratic dedupe)."""
    user = make_user("a")
    emails = [{"value": f"e{i}@x.com"} for i in range(990)]
    body = patch_body({"op": "add", "path": "emails", "value": emails + emails[:10]})
    response = scim.patch(f"/Users/{user['id']}", body)
    assert response.status_code == 200, response.content
    assert len(response.json()["emails"]) == 990


def test_root_search_with_attributes_of_different_types(scim, make_user, make_group):
    """Each attribute is known to some type, so the root search answers (RFC 7644 §3.4.2.1)."""
    alice = make_user("alice")
    make_group("Team", members=[{"value": alice["id"]}])
    body = {
        "schemas": [SEARCH_SCHEMA],
        "filter": f'userName eq "alice" or members.value eq "{alice["id"]}"',
        "excludedAttributes": ["members", "groups"],
    }
    found = scim.post("/.search", body).json()["Resources"]
    assert sorted(r.get("userName") or r["displayName"] for r in found) == ["Team", "alice"]


@pytest.mark.parametrize(("op", "expected"), [("eq", ["Team"]), ("ne", ["alice"])])
def test_root_search_null_comparisons_on_a_missing_attribute(
    scim, make_user, make_group, op, expected
):
    """A group has no title: `title eq null` holds for it and `title ne null` does not."""
    make_user("alice", title="Boss")
    make_group("Team")
    body = {"schemas": [SEARCH_SCHEMA], "filter": f"title {op} null"}
    found = scim.post("/.search", body).json()["Resources"]
    assert [r.get("userName") or r["displayName"] for r in found] == expected


def test_deeply_nested_cursor_is_invalid_cursor(scim):
    """A cursor that decodes to deeply nested JSON is a 400 invalidCursor, not a 500."""
    cursor = base64.urlsafe_b64encode(b"[" * 1000).decode().rstrip("=")
    assert_scim_error(scim.get("/Users", {"cursor": cursor}), 400, "invalidCursor")


def test_renaming_a_nested_group_moves_its_parents_version(scim, make_group):
    """A parent lists its member group's display name, so the rename moves the parent's ETag."""
    child = make_group("Child")
    parent = make_group("Parent", members=[{"value": child["id"]}])
    before = scim.get(f"/Groups/{parent['id']}")["ETag"]
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Renamed"})
    assert scim.patch(f"/Groups/{child['id']}", rename).status_code == 204
    assert scim.get(f"/Groups/{parent['id']}", HTTP_IF_NONE_MATCH=before).status_code == 200


def test_nesting_depth_is_the_longest_chain(scim, make_group, monkeypatch):
    """Depth counts the longest chain of nesting, so shortcuts cannot hide a deep one."""
    monkeypatch.setattr("provisioning.storage.groups.MAX_NESTING", 3)
    chain = []
    for i in range(1, 5):  # G_i holds every G_j below it: shortest paths 1, longest i - 1
        chain.append(make_group(f"G{i}", members=[{"value": g["id"]} for g in chain]))
    response = scim.post("/Groups", group_body("G5", members=[{"value": g["id"]} for g in chain]))
    assert_scim_error(response, 400, "invalidValue", "nested at most 3")
