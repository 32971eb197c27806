"""Filters that once gave a wrong result or a 500 (found in review): conditions every resource
meets, negated; offsets PostgreSQL cannot take; attributes never stored; root searches across
types."""

import pytest

from tests.conftest import assert_scim_error

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.mark.parametrize(
    "filter_text", ["not (meta pr)", "not (id pr)", 'not (meta.resourceType eq "User")']
)
def test_negated_always_true_conditions_match_nothing(scim, make_user, filter_text):
    """`not` of a condition every resource meets selects none (RFC 7644 §3.4.2.2)."""
    make_user("alice")
    assert scim.get("/Users", {"filter": filter_text}).json()["totalResults"] == 0


def test_date_time_with_a_large_offset(scim, make_user):
    """An offset PostgreSQL cannot take (beyond ±15:59) is compared as the UTC instant."""
    make_user("a")
    filter_text = 'meta.created gt "2020-01-01T00:00:00-23:59"'
    assert scim.get("/Users", {"filter": filter_text}).json()["totalResults"] == 1


@pytest.mark.parametrize(
    ("endpoint", "filter_text"),
    [
        ("/Users", 'password eq "x"'),
        ("/Groups", "members.display pr"),
        ("/Groups", "members.$ref pr"),
    ],
)
def test_attributes_that_cannot_match_are_invalid_filters(scim, endpoint, filter_text):
    """Filtering on what is never stored is a 400, not 200-with-nothing (docs/other-idps.md)."""
    assert_scim_error(scim.get(endpoint, {"filter": filter_text}), 400, "invalidFilter")


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
