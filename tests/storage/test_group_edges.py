"""Group membership and nesting that once lost members or answered wrongly (found in review)."""

import pytest

from tests.conftest import assert_scim_error, group_body, patch_body, streamed_json


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
