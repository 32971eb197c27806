"""Generated list parameters (RFC 7644 §3.4.2.3, §3.4.2.4, RFC 9865): startIndex and count
past 64 bits or not numbers at all, forged cursors, sortBy over every path of the schema
table; in the query string and in SearchRequest bodies of any JSON shape."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES
from tests.fuzz.strategies import any_text, integer_texts, path_texts, search_bodies

pytestmark = pytest.mark.live

LIST_ERRORS = frozenset({"invalidValue", "invalidCursor", "invalidFilter"})
SEARCH_ERRORS = LIST_ERRORS | {"invalidSyntax"}


def _query(resource_type):
    return st.fixed_dictionaries(
        {},
        optional={
            "startIndex": integer_texts,
            "count": integer_texts,
            "cursor": st.one_of(st.just(""), any_text),
            "sortBy": path_texts(resource_type),
            "sortOrder": st.one_of(st.sampled_from(("ascending", "Descending")), any_text),
        },
    )


QUERIES = st.one_of(*(st.tuples(st.just(rt.endpoint), _query(rt)) for rt in RESOURCE_TYPES))
SEARCHES = st.one_of(
    st.tuples(st.just("/.search"), search_bodies(None)),
    *(st.tuples(st.just(f"{rt.endpoint}/.search"), search_bodies(rt)) for rt in RESOURCE_TYPES),
)


@given(query=QUERIES)
def test_list_parameters_in_the_query_string(fuzz, query):
    """GET /{Resources}?startIndex=...&count=...: a page, or a 400 invalidValue/invalidCursor."""
    endpoint, params = query
    fuzz.send("GET", endpoint, params=params, scim_types=LIST_ERRORS)


@given(search=SEARCHES, ascii_only=st.booleans())
def test_search_requests_of_any_shape(fuzz, search, ascii_only):
    """POST .search with generated SearchRequests: a page, or a 400 naming what is wrong."""
    path, body = search
    fuzz.send("POST", path, body=body, scim_types=SEARCH_ERRORS, ascii_only=ascii_only)
