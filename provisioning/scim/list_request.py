"""The parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3, RFC 9865), read from a
query string or a SearchRequest body and checked: what the storage layer is asked for. The
filter and `sortBy` arrive parsed, so the storage layer compiles them and parses no text."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import errors
from .dialect import Leniency
from .filter import AttrPath, Filter, parse_attr_path
from .filtering import read_filter
from .schema import SEARCH_REQUEST_URN, ResourceType, Returned, Rows, Type


@dataclass(frozen=True)
class ListRequest:
    """The query parameters of a list or search request, already checked for type."""

    # Parsed where the request is read, with the connection's dialect.
    filter: Filter | None = None
    # Checked against the schema table (`read_sort_by`).
    sort_by: AttrPath | None = None
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
    resource_types = tuple(resource_types)
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
        sort_by=read_sort_by(sort_by, resource_types) if sort_by else None,
        descending=sort_order == "descending",
        start_index=max(1, start_index or 1),
        count=min(max(0, count), max_results),
        cursor=cursor,
    )


# An IdP sorts by the same few attributes again and again: each is parsed and checked once.
@functools.lru_cache(maxsize=256)
def read_sort_by(text: str, resource_types: tuple[ResourceType, ...]) -> AttrPath:
    """Return the `sortBy` attribute path `text` (RFC 7644 §3.4.2.3), checked against the
    schema table of `resource_types`: it must name an attribute of one of them at least (a
    type that lacks it has no value to sort by there, §3.4.2.1) with one value per resource,
    a simple attribute or a sub-attribute of a multi-valued one whose values are kept as rows
    (sorted by its primary value, else its first). A complex multi-valued attribute named
    alone sorts by its `value`, as a filter compares it (§3.4.2.2). Errors are invalidValue.
    """
    path = parse_attr_path(text, error=errors.InvalidValue)
    known = False
    for resource_type in resource_types:
        found = resource_type.resolve(path.attr, path.schema)
        if found is None:
            continue
        attr = found[1]
        if path.sub_attr is not None:
            sub = attr.sub_attribute(path.sub_attr)
            if sub is None:
                continue
        else:
            sub = attr.sub_attribute("value") if attr.is_complex and attr.multi_valued else None
        known = True
        leaf = sub or attr
        if attr.returned is Returned.NEVER:
            raise errors.InvalidValue(
                f"'{attr.name}' is never returned, so it cannot be filtered or sorted on."
            )
        if leaf.is_complex or leaf.type is Type.BINARY:
            raise errors.InvalidValue(f"Cannot sort by '{path}': it is not a simple attribute.")
        if attr.multi_valued and attr.rows is not Rows.VALUES:  # members, a user's groups
            raise errors.InvalidValue(f"Cannot sort by '{path}'.")
    if not known:
        raise errors.InvalidValue(f"Unknown attribute '{path}'.")
    return path


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
