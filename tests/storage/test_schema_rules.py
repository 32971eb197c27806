"""The storage layer reads its rules from the schema table: what a filter on a user's `groups`
compares (`shows`), and which changes move the versions of the resources that show them
(`shown_attributes`). A sub-attribute added in a test schema changes the behaviour."""

from __future__ import annotations

import dataclasses

import pytest

from provisioning.models import Tenant
from provisioning.scim.filter import parse_filter
from provisioning.scim.list_request import ListRequest
from provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE, shown_attributes
from provisioning.storage import groups, listing, users
from tests.conftest import assert_scim_error, patch_body
from tests.scim.test_schema_rules import showing, with_sub_attribute

# A user's `groups` that show their group's externalId too, and groups whose `members` show
# their member's.
USERS_SHOWING = with_sub_attribute(USER_RESOURCE_TYPE, "groups", showing("externalId"))
GROUPS_SHOWING = with_sub_attribute(GROUP_RESOURCE_TYPE, "members", showing("externalId"))


def member(resource: dict) -> dict:
    return {"value": resource["id"]}


def version(scim, path: str) -> str:
    return scim.get(path)["ETag"]


def test_groups_are_filtered_by_the_group_attributes_their_sub_attributes_show(
    scim, make_user, make_group, monkeypatch
):
    """`groups.<sub>` compares the group attribute the schema says `<sub>` shows."""
    alice, bob = make_user("alice"), make_user("bob")
    make_group("Ops", externalId="ops-1", members=[member(alice)])
    make_group("Dev", externalId="dev-1", members=[member(bob)])
    # With the schema table as it is, `groups` has no sub-attribute `externalId`, and `type`
    # shows no attribute of the group.
    assert_scim_error(
        scim.get("/Users", {"filter": 'groups.externalId eq "ops-1"'}),
        400,
        "invalidFilter",
        "Unknown attribute 'groups.externalId'.",
    )
    assert_scim_error(
        scim.get("/Users", {"filter": 'groups.type eq "direct"'}),
        400,
        "invalidFilter",
        "A user's groups can be filtered by 'value' and 'display', not 'type'.",
    )
    monkeypatch.setattr(listing, "_cache", {})  # statements compiled for the test schema
    source = dataclasses.replace(users.source(), resource_type=USERS_SHOWING)
    request = ListRequest(filter=parse_filter('groups.externalId eq "OPS-1"'))
    page = listing.list_page(users.MODEL, Tenant.objects.get(slug="acme"), source, request)
    # externalId is caseExact (RFC 7643 §3.1): the group's own case rule applies.
    assert page.items == []
    request = ListRequest(filter=parse_filter('groups[externalId eq "ops-1"]'))
    page = listing.list_page(users.MODEL, Tenant.objects.get(slug="acme"), source, request)
    assert [user.user_name for user in page.items] == ["alice"]


@pytest.mark.parametrize("shown", [False, True], ids=["as-declared", "shown-in-test-schema"])
def test_a_group_change_moves_its_users_versions_when_they_show_it(
    scim, make_user, make_group, monkeypatch, shown
):
    """A change of an attribute that users' `groups` show moves their versions (RFC 7644
    §3.14); one that nothing shows does not."""
    if shown:
        monkeypatch.setattr(
            groups, "SHOWN", shown_attributes(GROUP_RESOURCE_TYPE, (USERS_SHOWING,))
        )
    alice = make_user("alice")
    group = make_group("Ops", externalId="ops-1", members=[member(alice)])
    before = version(scim, f"/Users/{alice['id']}")
    change = patch_body({"op": "replace", "path": "externalId", "value": "ops-2"})
    assert scim.patch(f"/Groups/{group['id']}", change).status_code == 204
    assert (version(scim, f"/Users/{alice['id']}") != before) is shown


@pytest.mark.parametrize("shown", [False, True], ids=["as-declared", "shown-in-test-schema"])
def test_a_user_change_moves_its_groups_versions_when_they_show_it(
    scim, make_user, make_group, monkeypatch, shown
):
    """The same for a user and the groups whose `members` show it."""
    if shown:
        monkeypatch.setattr(users, "SHOWN", shown_attributes(USER_RESOURCE_TYPE, (GROUPS_SHOWING,)))
    alice = make_user("alice", externalId="a-1")
    group = make_group("Ops", members=[member(alice)])
    before = version(scim, f"/Groups/{group['id']}")
    change = patch_body({"op": "replace", "path": "externalId", "value": "a-2"})
    assert scim.patch(f"/Users/{alice['id']}", change).status_code == 200
    assert (version(scim, f"/Groups/{group['id']}") != before) is shown
