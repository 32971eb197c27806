"""A search over every resource type: `POST /.search` (RFC 7644 §3.4.3).

Without `sortBy`, results come type by type, in the order of `resources`, and
`startIndex`/`count` page through that sequence; with it, one statement merges the types in
the requested order, paged by index or by cursor (`storage.listing.list_across`). An attribute
that a type lacks has no value there (RFC 7644 §3.4.2.1); a filter naming an attribute no type
has is still a 400 `invalidFilter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .models import Tenant
from .resources import Resource
from .scim import errors
from .scim.list_request import ListRequest
from .storage.listing import Page, list_across
from .storage.query import unknown_everywhere


def check(resources: Sequence[Resource], request: ListRequest) -> None:
    """Refuse, before anything is read, what a search over `resources` cannot answer."""
    if request.cursor is not None and not request.sort_by:
        raise errors.InvalidValue(
            "Cursor paging at the root follows 'sortBy': give one, or search one resource"
            " type (POST /{Resources}/.search)."
        )
    if request.filter is not None:
        missing = unknown_everywhere(
            request.filter, [resource.store.source() for resource in resources]
        )
        if missing:
            raise errors.InvalidFilter(f"Unknown attribute '{missing}'.")


def across(tenant: Tenant, resources: Sequence[Resource], request: ListRequest) -> Page:
    """Return the page of the tenant's resources of every type in `resources` that the checked
    `request` asks for: its items are each resource with the index of its type in `resources`.

    With `sortBy`, paged by index or cursor in one order across the types (RFC 7644 §3.4.2.3,
    RFC 9865); without, one type after the other.
    """
    if request.sort_by:
        listings = [(resource.store.MODEL, resource.store.source()) for resource in resources]
        return list_across(tenant, listings, request)
    skip, wanted, total, items = request.start_index - 1, request.count, 0, []
    for kind, resource in enumerate(resources):
        query = replace(request, start_index=skip + 1, count=wanted, unknown_is_unassigned=True)
        page = resource.store.search(tenant, query)
        total += page.total
        skip = max(0, skip - page.total)
        wanted -= len(page.items)
        items.extend((kind, obj) for obj in page.items)
    return Page(total, items, request.start_index)
