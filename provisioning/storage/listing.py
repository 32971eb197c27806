"""Listing resources: filter, sort and page a QuerySet (RFC 7644 §3.4.2, RFC 9865).

Index paging (`startIndex`/`count`) reads one page with `OFFSET`/`LIMIT` over the ids, then the
page's rows, and counts the matches with one SQL `COUNT` unless the page, not being full,
already tells the total. Cursor paging (RFC 9865) is keyset paging on the default order
(creation time, then id): each page is an index range scan that costs the same wherever it
starts. Every order ends with the id, so no two resources tie and pages neither skip nor
repeat a resource.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from ..scim.errors import InvalidCursor, InvalidValue
from ..scim.resource import parse_datetime
from .query import Source, filter_q, order_by

DEFAULT_ORDER = ("created", "id")
# The cursors this server issues are about 110 characters long.
MAX_CURSOR_LENGTH = 256
# PostgreSQL's OFFSET is a bigint; a page that starts beyond it starts beyond every result.
MAX_OFFSET = 2**63 - 1


@dataclass(frozen=True)
class ListRequest:
    """The query parameters of a list or search request, already checked for type."""

    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    count: int = 100
    # None: index paging; "": the first page of cursor paging; else a cursor from a response.
    cursor: str | None = None
    # For a search over several resource types: attributes a type lacks have no value there.
    unknown_is_unassigned: bool = False


@dataclass
class Page:
    total: int
    items: list = field(default_factory=list)
    start_index: int | None = 1
    next_cursor: str | None = None
    previous_cursor: str | None = None


def list_page(queryset: QuerySet, source: Source, request: ListRequest) -> Page:
    """Return the page of `queryset` that `request` asks for."""
    if request.filter is not None:
        queryset = queryset.filter(
            filter_q(request.filter, source, unknown_is_unassigned=request.unknown_is_unassigned)
        )
    if request.cursor is not None:
        if request.sort_by:
            raise InvalidValue(
                "Cursor paging follows the default order: 'sortBy' cannot be combined with 'cursor'."
            )
        return _cursor_page(queryset, request)
    ordering = order_by(request.sort_by, request.descending, source) if request.sort_by else []
    offset = request.start_index - 1
    if request.count == 0 or offset > MAX_OFFSET:
        return Page(queryset.count(), [], request.start_index)
    ordered = queryset.order_by(*ordering, *DEFAULT_ORDER)
    if offset == 0:
        items = list(ordered[: request.count])
        ids = [item.pk for item in items]
    else:
        # A deep OFFSET would fetch every skipped row. Instead the page's ids come from the
        # index alone (an index-only scan in the default order), and only those rows are read.
        ids = list(ordered.values_list("pk", flat=True)[offset : offset + request.count])
        rows = queryset.model.objects.in_bulk(ids)
        items = [rows[pk] for pk in ids if pk in rows]  # less any deleted in between
    # A page that is not full ends the results, so it tells the total without a COUNT: an
    # IdP's lookup by userName is one query, not two. (Judged by the ids the page had, not by
    # the rows still there when read, which a concurrent delete may have thinned.)
    if len(ids) < request.count and (ids or offset == 0):
        total = offset + len(items)
    else:
        total = queryset.count()
    return Page(total, items, request.start_index)


def _cursor_page(queryset: QuerySet, request: ListRequest) -> Page:
    total = queryset.count()
    forward = True
    if request.cursor:
        forward, created, pk = _decode(request.cursor)
        queryset = queryset.filter(keyset_condition(created, pk, forward))
    order = DEFAULT_ORDER if forward else tuple(f"-{name}" for name in DEFAULT_ORDER)
    # One row more than the page tells whether another page follows.
    rows = list(queryset.order_by(*order)[: request.count + 1])
    more = len(rows) > request.count
    items = rows[: request.count]
    if not forward:
        items.reverse()
    page = Page(total, items, start_index=None)
    if items and (more or not forward):
        page.next_cursor = _encode(True, items[-1])
    if items and request.cursor and (forward or more):
        page.previous_cursor = _encode(False, items[0])
    return page


def keyset_condition(created: dt.datetime, pk: uuid.UUID, forward: bool) -> Q:
    """Return the rows after (or before) the position (created, pk) in the default order.

    The redundant bound on `created` alone is what lets PostgreSQL start an index range scan
    at the position; without it the OR is a filter over every row before it.
    """
    if forward:
        return Q(created__gte=created) & (Q(created__gt=created) | Q(pk__gt=pk))
    return Q(created__lte=created) & (Q(created__lt=created) | Q(pk__lt=pk))


def _encode(forward: bool, obj) -> str:
    payload = json.dumps(["n" if forward else "p", obj.created.isoformat(), str(obj.pk)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[bool, dt.datetime, uuid.UUID]:
    """Return the direction and position a cursor stands for; anything else is invalidCursor."""
    invalid = InvalidCursor("The cursor is not one this server issued.")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, created, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise invalid from None
    if direction not in ("n", "p") or not isinstance(created, str) or not isinstance(pk, str):
        raise invalid
    instant = parse_datetime(created)
    try:
        pk = uuid.UUID(pk)
    except ValueError:
        raise invalid from None
    if instant is None:
        raise invalid
    return direction == "n", instant, pk
