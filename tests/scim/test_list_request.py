"""Tests for reading the parameters of a list or search request: `read_list_request` and
`search_body` (RFC 7644 §3.4.2, §3.4.3; cursors RFC 9865). Pure: no database, no request."""

from __future__ import annotations

import re

import pytest

from provisioning.scim.dialect import ALLOWED, NO_LENIENCY, Dialect
from provisioning.scim.errors import InvalidFilter, InvalidSyntax, InvalidValue
from provisioning.scim.filter import AttrPath, parse_filter
from provisioning.scim.list_request import ListRequest, read_list_request, search_body
from provisioning.scim.schema import (
    ENTERPRISE_USER_SCHEMA_URN,
    GROUP_RESOURCE_TYPE,
    SEARCH_REQUEST_URN,
    USER_RESOURCE_TYPE,
)

DEFAULT_COUNT = 100
MAX_RESULTS = 200


def read(params: dict, *, from_body: bool = False, leniencies=NO_LENIENCY) -> ListRequest:
    return read_list_request(
        params,
        leniencies,
        (USER_RESOURCE_TYPE,),
        from_body=from_body,
        default_count=DEFAULT_COUNT,
        max_results=MAX_RESULTS,
    )


def test_no_parameters_ask_for_the_first_page():
    """Without parameters: no filter, the default order, index paging from 1, the default
    count (RFC 7644 §3.4.2.4)."""
    assert read({}) == ListRequest(count=DEFAULT_COUNT)


@pytest.mark.parametrize(
    ("params", "start_index", "count"),
    [
        ({"startIndex": "0", "count": "5"}, 1, 5),
        ({"startIndex": "-7"}, 1, DEFAULT_COUNT),
        ({"startIndex": "3", "count": "-1"}, 3, 0),
        ({"count": "0"}, 1, 0),
        ({"count": str(MAX_RESULTS + 1)}, 1, MAX_RESULTS),
        ({"count": ""}, 1, DEFAULT_COUNT),
        ({"startIndex": ""}, 1, DEFAULT_COUNT),
    ],
    ids=[
        "start-index-0-is-1",
        "negative-start-index-is-1",
        "negative-count-is-0",
        "count-0",
        "count-capped-at-max-results",
        "empty-count-is-no-count",
        "empty-start-index-is-none",
    ],
)
def test_paging_is_clamped(params, start_index, count):
    """RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0; count is capped at
    maxResults."""
    got = read(params)
    assert (got.start_index, got.count) == (start_index, count)


@pytest.mark.parametrize(
    ("params", "from_body"),
    [
        ({"count": "ten"}, False),
        ({"startIndex": "1.5"}, False),
        ({"count": "10"}, True),
        ({"count": True}, True),
        ({"startIndex": ""}, True),
        ({"count": 1.0}, True),
    ],
    ids=["query-text", "query-fraction", "body-string", "body-boolean", "body-empty", "body-float"],
)
def test_paging_must_be_integers(params, from_body):
    """Query strings carry integers as text; a SearchRequest body as JSON numbers (§3.4.3)."""
    with pytest.raises(InvalidValue, match="must be an integer"):
        read(params, from_body=from_body)


def test_a_body_carries_numbers():
    got = read({"startIndex": 2, "count": 3}, from_body=True)
    assert (got.start_index, got.count) == (2, 3)


@pytest.mark.parametrize(
    ("order", "descending"),
    [(None, False), ("ascending", False), ("descending", True), ("DESCENDING", True)],
)
def test_sort_order(order, descending):
    """RFC 7644 §3.4.2.3: sortOrder is `ascending` (the default) or `descending`."""
    params = {"sortBy": "userName"} | ({} if order is None else {"sortOrder": order})
    got = read(params)
    assert (got.sort_by, got.descending) == (AttrPath("userName"), descending)


def test_an_unknown_sort_order_is_refused():
    with pytest.raises(InvalidValue, match="'sortOrder' must be"):
        read({"sortOrder": "up"})


def test_an_empty_sort_by_is_no_sort():
    assert read({"sortBy": ""}).sort_by is None


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("userName", AttrPath("userName")),
        (" name.familyName ", AttrPath("name", "familyName")),
        ("emails", AttrPath("emails")),
        ("meta.created", AttrPath("meta", "created")),
        (
            f"{ENTERPRISE_USER_SCHEMA_URN}:employeeNumber",
            AttrPath("employeeNumber", None, ENTERPRISE_USER_SCHEMA_URN),
        ),
    ],
    ids=["simple", "sub-attribute", "multi-valued", "common", "extension"],
)
def test_sort_by_is_parsed_where_the_request_is_read(text, path):
    """RFC 7644 §3.4.2.3: sortBy is an attribute path (§3.10); storage gets it parsed."""
    assert read({"sortBy": text}).sort_by == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "Unknown attribute 'nope'"),
        ("name.nope", "Unknown attribute 'name.nope'"),
        ("name", "not a simple attribute"),
        ("x509Certificates", "not a simple attribute"),
        ("password", "never returned"),
        ("groups.display", "Cannot sort by 'groups.display'"),
        ('emails[type eq "work"]', "attribute path"),
    ],
    ids=["unknown", "unknown-sub", "complex", "binary", "never-returned", "groups", "filter"],
)
def test_a_sort_by_storage_cannot_sort_by_is_refused(text, message):
    """A sortBy that names no attribute, or one without a single value to sort by, is an
    invalidValue before anything is read."""
    with pytest.raises(InvalidValue, match=re.escape(message)):
        read({"sortBy": text})


def test_sort_by_is_checked_against_every_type_searched():
    """At the root (RFC 7644 §3.4.2.1) an attribute one type has is enough; one that a type
    has but cannot sort by is refused."""
    both = (USER_RESOURCE_TYPE, GROUP_RESOURCE_TYPE)
    request = read_list_request(
        {"sortBy": "userName"}, NO_LENIENCY, both, from_body=True, default_count=1, max_results=1
    )
    assert request.sort_by == AttrPath("userName")
    with pytest.raises(InvalidValue, match=re.escape("Cannot sort by 'members.value'")):
        read_list_request(
            {"sortBy": "members.value"},
            NO_LENIENCY,
            both,
            from_body=True,
            default_count=1,
            max_results=1,
        )


@pytest.mark.parametrize("name", ["filter", "sortBy", "sortOrder", "cursor"])
def test_text_parameters_must_be_strings(name):
    with pytest.raises(InvalidValue, match=f"'{name}' must be a string"):
        read({name: 7}, from_body=True)


@pytest.mark.parametrize(("cursor"), ["", "abc"], ids=["first-page", "next-page"])
def test_a_cursor_is_kept(cursor):
    """RFC 9865: an empty cursor asks for the first page of cursor paging."""
    assert read({"cursor": cursor}).cursor == cursor


def test_a_cursor_and_a_start_index_conflict():
    """RFC 9865 §2: cursor and index paging are not mixed in one request."""
    with pytest.raises(InvalidValue, match="'cursor' and 'startIndex'"):
        read({"cursor": "", "startIndex": "1"})


def test_the_filter_is_parsed():
    got = read({"filter": 'userName eq "bjensen"'})
    assert got.filter == parse_filter('userName eq "bjensen"')


def test_the_filter_is_read_in_the_dialect():
    """A connection in Entra's dialect reads the string "True" compared with a boolean as
    `true` (see `scim/dialect.py`); the letter of the RFC keeps the string, which the filter's
    check refuses (§3.4.2.2)."""
    text = 'active eq "True"'
    assert read({"filter": text}, leniencies=ALLOWED[Dialect.ENTRA]).filter == parse_filter(
        "active eq true"
    )
    assert read({"filter": text}).filter == parse_filter(text)


def test_a_filter_that_does_not_parse_is_refused():
    with pytest.raises(InvalidFilter):
        read({"filter": "userName eq"})


def test_a_search_body_is_its_parameters():
    body = {"schemas": [SEARCH_REQUEST_URN], "count": 1}
    assert search_body(body) is body


@pytest.mark.parametrize(
    "body",
    [[], "x", {}, {"schemas": SEARCH_REQUEST_URN}, {"schemas": ["urn:other"]}],
    ids=["list", "string", "no-schemas", "schemas-not-a-list", "other-schema"],
)
def test_a_search_body_names_the_search_request_schema(body):
    """RFC 7644 §3.4.3: the body is a SearchRequest, `schemas` naming its URN."""
    with pytest.raises(InvalidSyntax):
        search_body(body)
