"""Generated filters (RFC 7644 §3.4.2.2) over every attribute path and operator of the schema
table, well-formed and broken: each is answered with a list or a 400 `invalidFilter`, in the
query string (GET) and in a SearchRequest body (POST .search, §3.4.3), never with a 5xx."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES, SEARCH_REQUEST_URN
from tests.fuzz.strategies import filters

pytestmark = pytest.mark.live

INVALID_FILTER = frozenset({"invalidFilter"})
FILTERS_BY_TYPE = st.one_of(
    *(st.tuples(st.just(rt.endpoint), filters(rt)) for rt in RESOURCE_TYPES)
)


@given(endpoint_and_filter=FILTERS_BY_TYPE)
def test_a_filter_in_the_query_string_is_a_list_or_invalid_filter(fuzz, endpoint_and_filter):
    """GET /{Resources}?filter=...: 200 with a ListResponse, or 400 invalidFilter."""
    endpoint, filter_text = endpoint_and_filter
    fuzz.send("GET", endpoint, params={"filter": filter_text}, scim_types=INVALID_FILTER)


@given(endpoint_and_filter=FILTERS_BY_TYPE, root=st.booleans())
def test_a_filter_in_a_search_request_is_a_list_or_invalid_filter(fuzz, endpoint_and_filter, root):
    """POST /{Resources}/.search and /.search: JSON carries what no URL can (lone surrogates,
    NULs), and the answer is still a list or a 400 invalidFilter."""
    endpoint, filter_text = endpoint_and_filter
    body = {"schemas": [SEARCH_REQUEST_URN], "filter": filter_text}
    path = "/.search" if root else f"{endpoint}/.search"
    fuzz.send("POST", path, body=body, scim_types=INVALID_FILTER)
