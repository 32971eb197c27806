"""Listing resources: filter, sort and page a QuerySet (RFC 7644 §3.4.2, RFC 9865).

Index paging (`startIndex`/`count`) reads one page with `OFFSET`/`LIMIT` over the ids and the
page's rows with them, and counts the matches with one SQL `COUNT` unless the page, not being full,
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

from django.db.models import DateTimeField, Model, Q, UUIDField

from ..scim.errors import InvalidCursor, InvalidValue
from ..scim.resource import parse_datetime
from .query import Shape, Source, check_strings, filter_template, order_by
from .query import shape as filter_shape
from .statements import Compiled, Slot, instance

DEFAULT_ORDER = ("created", "id")
# The cursors this server issues are about 140 characters long.
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


def list_page(model: type[Model], tenant, source: Source, request: ListRequest) -> Page:
    """Return the page of the tenant's resources of `model` that `request` asks for.

    Its statements are compiled once per shape of request (`_Statements`) and run with the
    request's values, so a lookup costs what PostgreSQL spends on it, not an ORM compile.
    """
    if request.cursor is not None and request.sort_by:
        raise InvalidValue(
            "Cursor paging follows the default order: 'sortBy' cannot be combined with 'cursor'."
        )
    statements, strings = _statements(model, source, request)
    values: list = [tenant.pk, *strings]
    if request.cursor is not None:
        return _cursor_page(statements, values, request)
    offset = request.start_index - 1
    if request.count == 0 or offset > MAX_OFFSET:
        return Page(statements.count(values), [], request.start_index)
    items = statements.first_page(values) if offset == 0 else statements.page(values, offset)
    # A page that is not full ends the results, so it tells the total without a COUNT: an
    # IdP's lookup by userName is one query, not two.
    if len(items) < request.count and (items or offset == 0):
        total = offset + len(items)
    else:
        total = statements.count(values)
    return Page(total, items, request.start_index)


# Slots of every listing statement: the tenant, then the filter's strings, then a cursor's
# position (its creation time and id).
TENANT = 0
FIRST_STRING = 1
_CACHE_SIZE = 512


class _Statements:
    """The statements of one shape of list request, compiled when first needed."""

    def __init__(self, model, source: Source, request: ListRequest, shape: Shape | None) -> None:
        queryset = model.objects.filter(tenant_id=Slot(TENANT))
        self.cacheable = True
        strings = 0
        if shape is not None:
            condition, self.cacheable = filter_template(
                shape,
                source,
                FIRST_STRING,
                unknown_is_unassigned=request.unknown_is_unassigned,
            )
            queryset = queryset.filter(condition)
            strings = len(shape.strings)
        self.model = model
        self.filtered = queryset
        ordering = order_by(request.sort_by, request.descending, source) if request.sort_by else []
        self.ordered = queryset.order_by(*ordering, *DEFAULT_ORDER)
        self.page_size = request.count
        self.compiled: dict[str, Compiled] = {}
        self.cursor_slots = (FIRST_STRING + strings, FIRST_STRING + strings + 1)

    def _get(self, name: str, build) -> Compiled:
        compiled = self.compiled.get(name)
        if compiled is None:
            compiled = self.compiled[name] = build()
        return compiled

    def first_page(self, values: list) -> list:
        compiled = self._get("first", lambda: Compiled(self.ordered[: self.page_size]))
        return [instance(self.model, row) for row in compiled.rows(values)]

    def page(self, values: list, offset: int) -> list:
        """Return the page at `offset`, however deep.

        A deep OFFSET over whole rows would fetch every skipped row. Instead the page's ids
        come from the index alone (an index-only scan in the default order), and only the
        rows of those ids are read, in the same statement. The offset is a parameter, so the
        statement is compiled once like the others.
        """

        def build() -> Compiled:
            ids = Compiled(self.ordered.values_list("pk", flat=True))
            if not ids.sql:  # no row can match
                return ids
            table = self.model._meta.db_table
            columns = ", ".join(f'row."{f.column}"' for f in self.model._meta.concrete_fields)
            ids.sql = (
                f"SELECT {columns} FROM unnest(ARRAY({ids.sql} LIMIT {self.page_size} OFFSET %s))"
                f' WITH ORDINALITY AS page(id, n) JOIN "{table}" AS row ON row.id = page.id'
                " ORDER BY page.n"
            )
            ids.params = (*ids.params, Slot(len(values)))
            return ids

        compiled = self._get("page", build)
        return [instance(self.model, row) for row in compiled.rows([*values, offset])]

    def count(self, values: list) -> int:
        def build() -> Compiled:
            compiled = Compiled(self.filtered.values("pk"))
            if compiled.sql:
                compiled.sql = f"SELECT COUNT(*) FROM ({compiled.sql}) AS matched"
            return compiled

        rows = self._get("count", build).rows(values)
        return rows[0][0] if rows else 0

    def cursor_page(self, values: list, forward: bool, after: bool) -> list:
        """Return up to one more row than the page, from the start or after the position."""

        def build() -> Compiled:
            queryset = self.filtered
            if after:
                created, pk = self.cursor_slots
                queryset = queryset.filter(
                    keyset_condition(Slot(created, DateTimeField()), Slot(pk, UUIDField()), forward)
                )
            order = DEFAULT_ORDER if forward else tuple(f"-{name}" for name in DEFAULT_ORDER)
            return Compiled(queryset.order_by(*order)[: self.page_size + 1])

        compiled = self._get(f"cursor-{forward}-{after}", build)
        return [instance(self.model, row) for row in compiled.rows(values)]


_cache: dict[tuple, _Statements] = {}


def _statements(model, source: Source, request: ListRequest) -> tuple[_Statements, tuple]:
    """Return the statements for `request`, compiled before for a request of its shape, and
    the filter's strings that fill their slots."""
    shape = filter_shape(request.filter) if request.filter is not None else None
    strings = shape.strings if shape is not None else ()
    key = (
        model,
        shape.key if shape is not None else None,
        request.sort_by,
        request.descending,
        request.count,
        request.unknown_is_unassigned,
    )
    statements = _cache.get(key)
    if statements is not None:
        if shape is not None:
            check_strings(shape)
        return statements, strings
    statements = _Statements(model, source, request, shape)
    if statements.cacheable:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = statements
    return statements, strings


def _cursor_page(statements: _Statements, values: list, request: ListRequest) -> Page:
    """Return a page of cursor paging (RFC 9865).

    Its totalResults is counted when the traversal starts and carried in its cursors: a COUNT
    on every page made a full export three times as slow, and the walk itself ends on the
    missing nextCursor, not on the total. Resources created during the walk are still met.
    """
    forward = True
    if request.cursor:
        forward, created, pk, total = _decode(request.cursor)
        values = [*values, created, pk]
    else:
        total = statements.count(values)
    rows = statements.cursor_page(values, forward, after=bool(request.cursor))
    more = len(rows) > request.count
    items = rows[: request.count]
    if not forward:
        items.reverse()
    page = Page(total, items, start_index=None)
    if items and (more or not forward):
        page.next_cursor = _encode(True, items[-1], total)
    if items and request.cursor and (forward or more):
        page.previous_cursor = _encode(False, items[0], total)
    return page


def keyset_condition(created: dt.datetime, pk: uuid.UUID, forward: bool) -> Q:
    """Return the rows after (or before) the position (created, pk) in the default order.

    The redundant bound on `created` alone is what lets PostgreSQL start an index range scan
    at the position; without it the OR is a filter over every row before it.
    """
    if forward:
        return Q(created__gte=created) & (Q(created__gt=created) | Q(pk__gt=pk))
    return Q(created__lte=created) & (Q(created__lt=created) | Q(pk__lt=pk))


def _encode(forward: bool, obj, total: int) -> str:
    payload = json.dumps(["n" if forward else "p", obj.created.isoformat(), str(obj.pk), total])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[bool, dt.datetime, uuid.UUID, int]:
    """Return the direction, position and total a cursor stands for; anything else is
    invalidCursor."""
    invalid = InvalidCursor("The cursor is not one this server issued.")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, created, pk, total = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise invalid from None
    if direction not in ("n", "p") or not isinstance(created, str) or not isinstance(pk, str):
        raise invalid
    if type(total) is not int or not 0 <= total < 2**63:
        raise invalid
    instant = parse_datetime(created)
    try:
        pk = uuid.UUID(pk)
    except ValueError:
        raise invalid from None
    if instant is None:
        raise invalid
    return direction == "n", instant, pk, total
