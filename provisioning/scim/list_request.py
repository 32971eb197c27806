"""The parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3, RFC 9865), read from a
query string or a SearchRequest body and checked: what the storage layer is asked for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import errors
from .dialect import Leniency
from .filter import Filter
from .filtering import read_filter
from .schema import SEARCH_REQUEST_URN, ResourceType


@dataclass(frozen=True)
class ListRequest:
    """The query parameters of a list or search request, already checked for type."""

    # Parsed where the request is read, with the connection's dialect.
    filter: Filter | None = None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    count: int = 100
    # None: index paging; "": the first page of cursor paging; else a cursor from a response.
    cursor: str | None = None
    # For a search over several resource types: attributes a type lacks have no value there.
    unknown_is_unassigned: bool = False


def search_body(body) -> dict:
    """Return the parameters of a SearchRequest body (RFC 7644 §3.4.3)."""
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("The request body must be a SearchRequest JSON object.")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_URN not in schemas:
        raise errors.InvalidSyntax(f"'schemas' must include '{SEARCH_REQUEST_URN}'.")
    return body


def read_list_request(
    params: Mapping,
    read_with: frozenset[Leniency],
    resource_types: Iterable[ResourceType],
    *,
    from_body: bool,
    default_count: int,
    max_results: int,
) -> ListRequest:
    """Return the list parameters of a query string or a SearchRequest body, checked, with the
    filter read as the connection's dialect reads it (`read_with`) for a query over
    `resource_types`.

    RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0, and count is capped
    at `filter.maxResults` (`max_results`); without a count, a page holds `default_count`.
    """
    filter_text = _param(params, "filter", str)
    sort_by = _param(params, "sortBy", str)
    sort_order = (_param(params, "sortOrder", str) or "ascending").lower()
    # `cursor` with an empty value asks for the first page of cursor paging (RFC 9865).
    if sort_order not in ("ascending", "descending"):
        raise errors.InvalidValue("'sortOrder' must be 'ascending' or 'descending'.")
    start_index = _param(params, "startIndex", int, from_body=from_body)
    count = _param(params, "count", int, from_body=from_body)
    cursor = _param(params, "cursor", str)
    if cursor is not None and start_index is not None:
        raise errors.InvalidValue("'cursor' and 'startIndex' cannot be used together.")
    if count is None:
        count = default_count
    parsed = None
    if filter_text is not None:
        parsed = read_filter(filter_text, resource_types, read_with)
    return ListRequest(
        filter=parsed,
        sort_by=sort_by or None,
        descending=sort_order == "descending",
        start_index=max(1, start_index or 1),
        count=min(max(0, count), max_results),
        cursor=cursor,
    )


def _param(params: Mapping, name: str, kind: type, *, from_body: bool = False):
    """Return the parameter `name` as `kind`, or None when absent.

    Query strings carry text; a SearchRequest body carries JSON, where integers are numbers.
    """
    value = params.get(name)
    if value is None:
        return None
    if kind is int:
        if value == "" and not from_body:
            return None  # `?count=` is no count
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not from_body and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise errors.InvalidValue(f"'{name}' must be an integer.")
    if not isinstance(value, str):
        raise errors.InvalidValue(f"'{name}' must be a string.")
    return value
