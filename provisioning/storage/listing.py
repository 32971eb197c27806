"""Listing resources: filter, sort and page a QuerySet (RFC 7644 §3.4.2, RFC 9865).

Index paging (`startIndex`/`count`) reads one page with `OFFSET`/`LIMIT` over the ids and the
page's rows with them, and counts the matches with one SQL `COUNT` unless the page, not being full,
already tells the total. Cursor paging (RFC 9865) is keyset paging on the default order
(creation time, then id): each page is an index range scan that costs the same wherever it
starts. With `sortBy` it is keyset paging on (sort key, id) in the requested order, the key
computed as sorting computes it (lower-cased unless caseExact, unassigned values last when
ascending and first when descending, RFC 7644 §3.4.2.3), and carried in the cursor. Every
order ends with the id, so no two resources tie and pages neither skip nor repeat a resource.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection
from django.db.models import BooleanField, DateTimeField, F, Model, Q, UUIDField, Value
from django.db.models.functions import Cast

from ..scim.errors import InvalidCursor
from ..scim.list_request import ListRequest
from ..scim.resource import parse_datetime, storable
from .common import Needs
from .query import (
    Shape,
    Source,
    UnknownSortAttribute,
    check_strings,
    filter_template,
    order_by,
    sort_key,
)
from .query import shape as filter_shape
from .statements import Compiled, Slot, fetch, instance

DEFAULT_ORDER = ("created", "id")
# The cursors this server issues are about 140 characters long, plus the sort key's value
# for a sorted walk.
MAX_CURSOR_LENGTH = 65536
# The name of the sort key in a sorted cursor walk's statements.
SORT_KEY = "scim_sort_key"
# PostgreSQL's OFFSET is a bigint; a page that starts beyond it starts beyond every result.
MAX_OFFSET = 2**63 - 1


@dataclass
class Page:
    total: int
    items: list = field(default_factory=list)
    start_index: int | None = 1
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # The related attribute read with the items, by item id, when it was (`Related`).
    related: dict | None = None


@dataclass(frozen=True)
class Related:
    """A related attribute read with an index page's rows, in the page's statement (a user's
    `groups`): one round trip for an IdP's lookup, not two."""

    name: str
    # Given the SQL of the array of the page's ids, the CTEs that define `table`, one row
    # (id, value) for each of those resources that has a value; they take `tenant_params`
    # parameters, each the tenant's id.
    ctes: Callable[[str], str]
    table: str
    tenant_params: int
    # The attribute's value from a row's.
    read: Callable[[Any], Any]


def list_page(
    model: type[Model],
    tenant,
    source: Source,
    request: ListRequest,
    related: Related | None = None,
    needs: Needs | None = None,
) -> Page:
    """Return the page of the tenant's resources of `model` that `request` asks for, with the
    `related` attribute of an index page's items when the answer shows it (`needs`).

    Its statements are compiled once per shape of request (`_Statements`) and run with the
    request's values, so a lookup costs what PostgreSQL spends on it, not an ORM compile.
    """
    if related is not None and not (needs is not None and needs(related.name)):
        related = None
    statements, strings = _statements(model, source, request, related)
    values: list = [tenant.pk, *strings]
    if request.cursor is not None and request.sort_by:
        return _sorted_cursor_page(statements, values, request)
    if request.cursor is not None:
        return _cursor_page(statements, values, request)
    offset = request.start_index - 1
    if request.count == 0 or offset > MAX_OFFSET:
        return Page(statements.count(values), [], request.start_index)
    found = None
    if offset == 0 and related is None:
        items = statements.first_page(values)
    else:
        items, found = statements.page(values, offset)
    # A page that is not full ends the results, so it tells the total without a COUNT: an
    # IdP's lookup by userName is one query, not two.
    if len(items) < request.count and (items or offset == 0):
        total = offset + len(items)
    else:
        total = statements.count(values)
    return Page(total, items, request.start_index, related=found)


def list_across(tenant, listings: list[tuple[type[Model], Source]], request: ListRequest) -> Page:
    """Return the page of a search over several resource types sorted by `sortBy` (RFC 7644
    §3.4.3): its items are each resource with the index of its type in `listings`.

    One statement merges the types' matches in the order of the sort key, where a type that
    lacks the attribute has no value (RFC 7644 §3.4.2.1); then the page's rows are read per
    type. Index paging breaks ties by creation time and id, as a single type's list does;
    cursor paging (RFC 9865) is keyset paging on (sort key, id), as a single type's sorted
    walk is.
    """
    unsorted = replace(request, sort_by=None, cursor=None, unknown_is_unassigned=True)
    keys = [sort_key(request.sort_by, source, unknown_is_unassigned=True) for _, source in listings]
    fields = [
        model.objects.annotate(**{SORT_KEY: key}).query.annotations[SORT_KEY].output_field
        for (model, _), key in zip(listings, keys, strict=True)
        if key is not None
    ]
    if not fields:
        raise UnknownSortAttribute(f"Unknown attribute '{request.sort_by}'.")
    counts, parts, params = [], [], []
    for i, ((model, source), key) in enumerate(zip(listings, keys, strict=True)):
        statements, strings = _statements(model, source, unsorted)
        values = [tenant.pk, *strings]
        counts.append(lambda statements=statements, values=values: statements.count(values))
        key = key if key is not None else Cast(Value(None), fields[0])
        part = statements.filtered.annotate(**{SORT_KEY: key}).order_by()
        compiled = Compiled(part.values_list("pk", "created", SORT_KEY))
        if compiled.sql:
            parts.append(f"SELECT {i}, * FROM ({compiled.sql}) AS part{i}")
            params += compiled.bind(values)
    if not parts:  # no type can match the filter
        return Page(0, [], None if request.cursor is not None else request.start_index)
    found = f"({' UNION ALL '.join(parts)}) AS found(kind, id, created, key)"
    if request.cursor is not None:
        return _across_cursor_page(listings, found, params, counts, fields[0], request)
    total = sum(count() for count in counts)
    offset = request.start_index - 1
    if request.count == 0 or offset > MAX_OFFSET:
        return Page(total, [], request.start_index)
    direction = "DESC NULLS FIRST" if request.descending else "ASC NULLS LAST"
    rows = fetch(
        f"SELECT kind, id FROM {found} ORDER BY key {direction}, created, id LIMIT %s OFFSET %s",
        [*params, request.count, offset],
    )
    return Page(total, _read_across(listings, rows), request.start_index)


def _across_cursor_page(listings, found: str, params: list, counts, field, request) -> Page:
    """Return a page of a cursor walk over several resource types in the order of `sortBy`:
    `_sorted_cursor_page` over the merged matches."""
    sort = [str(request.sort_by).lower(), request.descending, "*"]
    forward, key, pk, where, where_params = True, None, None, "", []
    if request.cursor:
        forward, key, pk, total = _decode_sorted(request.cursor, sort, field)
        # The same conditions as `sorted_keyset_condition`, on the merged rows.
        up, further = forward != request.descending, ">" if forward else "<"
        if key is None:
            where = f"(key IS NULL AND id {further} %s)" + ("" if up else " OR key IS NOT NULL")
            where_params = [pk]
        else:
            cast = f"CAST(%s AS {field.db_type(connection)})"
            where = f"key {'>' if up else '<'} {cast} OR (key = {cast} AND id {further} %s)" + (
                " OR key IS NULL" if up else ""
            )
            where_params = [key, key, pk]
        where = f"WHERE {where}"
    else:
        total = sum(count() for count in counts)
    up = forward != request.descending
    order = (
        f"key {'ASC NULLS LAST' if up else 'DESC NULLS FIRST'}, id {'ASC' if forward else 'DESC'}"
    )
    rows = fetch(
        f"SELECT kind, id, key FROM {found} {where} ORDER BY {order} LIMIT %s",
        [*params, *where_params, request.count + 1],
    )
    more = len(rows) > request.count
    rows = rows[: request.count]
    if not forward:
        rows.reverse()
    page = Page(total, _read_across(listings, [row[:2] for row in rows]), start_index=None)
    if rows and (more or not forward):
        page.next_cursor = _encode_sorted(True, rows[-1][1], rows[-1][2], total, sort)
    if rows and request.cursor and (forward or more):
        page.previous_cursor = _encode_sorted(False, rows[0][1], rows[0][2], total, sort)
    return page


def _read_across(listings, rows: list) -> list[tuple[int, Model]]:
    """Return the resources (kind, id) `rows` name, in their order, less any deleted since."""
    found = {
        i: model.objects.in_bulk([pk for kind, pk in rows if kind == i])
        for i, (model, _) in enumerate(listings)
        if any(kind == i for kind, _ in rows)
    }
    return [(kind, found[kind][pk]) for kind, pk in rows if pk in found[kind]]


# Slots of every listing statement: the tenant, then the filter's strings, then a cursor's
# position (its creation time and id).
TENANT = 0
FIRST_STRING = 1
_CACHE_SIZE = 512


class _Statements:
    """The statements of one shape of list request, compiled when first needed."""

    def __init__(
        self, model, source: Source, request: ListRequest, shape: Shape | None, related
    ) -> None:
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
        self.related = related
        self.filtered = queryset
        ordering = order_by(request.sort_by, request.descending, source) if request.sort_by else []
        self.ordered = queryset.order_by(*ordering, *DEFAULT_ORDER)
        self.descending = request.descending
        self.sort_key = ordering[0].expression if ordering else None
        self._key_field = None
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

    def page(self, values: list, offset: int) -> tuple[list, dict | None]:
        """Return the page at `offset`, however deep, and its items' related attribute by id
        when the statements read one.

        A deep OFFSET over whole rows would fetch every skipped row. Instead the page's ids
        come from the index alone (an index-only scan in the default order), and only the
        rows of those ids are read, in the same statement, with their related attribute.
        The offset is a parameter, so the statement is compiled once like the others.
        """
        related = self.related

        def build() -> Compiled:
            ids = Compiled(self.ordered.values_list("pk", flat=True))
            if not ids.sql:  # no row can match
                return ids
            table = self.model._meta.db_table
            columns = ", ".join(f'row."{f.column}"' for f in self.model._meta.concrete_fields)
            page_ids = f"ARRAY({ids.sql} LIMIT {self.page_size} OFFSET %s)"
            ids.params = (*ids.params, Slot(len(values)))
            joined = f'JOIN "{table}" AS row ON row.id = page.id'
            if related is None:
                ids.sql = (
                    f"SELECT {columns} FROM unnest({page_ids}) WITH ORDINALITY AS page(id, n)"
                    f" {joined} ORDER BY page.n"
                )
                return ids
            ids.sql = (
                f"WITH RECURSIVE page_ids(ids) AS (SELECT {page_ids}),"
                f" {related.ctes('(SELECT ids FROM page_ids)::uuid[]')}"
                f" SELECT {columns}, related.value"
                " FROM page_ids, unnest(page_ids.ids) WITH ORDINALITY AS page(id, n)"
                f" {joined} LEFT JOIN {related.table} AS related(id, value)"
                " ON related.id = page.id ORDER BY page.n"
            )
            ids.params = (*ids.params, *[Slot(TENANT)] * related.tenant_params)
            return ids

        rows = self._get("page", build).rows([*values, offset])
        if related is None:
            return [instance(self.model, row) for row in rows], None
        items = [instance(self.model, row[:-1]) for row in rows]
        found = {
            obj.pk: {related.name: related.read(row[-1])}
            for obj, row in zip(items, rows, strict=True)
            if row[-1] is not None
        }
        return items, found

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

    def key_field(self):
        """Return the field of the sort key's values (text, a date-time, a boolean, an id)."""
        if self._key_field is None:
            annotated = self.filtered.annotate(**{SORT_KEY: self.sort_key})
            self._key_field = annotated.query.annotations[SORT_KEY].output_field
        return self._key_field

    def sorted_cursor_page(self, values: list, forward: bool, after: bool, at_null: bool) -> list:
        """Return up to one more (resource, sort key) than the page in the order of `sortBy`
        then id (reversed going back), from the start or after the position (key, id) in
        the cursor slots; `at_null`: the position's key is unassigned."""

        def build() -> Compiled:
            queryset = self.filtered.annotate(**{SORT_KEY: self.sort_key})
            if after:
                key_slot, pk_slot = self.cursor_slots
                field = self.key_field()
                queryset = queryset.filter(
                    sorted_keyset_condition(
                        Slot(key_slot, field),
                        Slot(pk_slot, UUIDField()),
                        forward,
                        self.descending,
                        at_null,
                    )
                )
            # Forward: the order of `sortBy` with unassigned keys where RFC 7644 §3.4.2.3 puts
            # them; back: its reverse.
            up = forward != self.descending
            key = F(SORT_KEY).asc(nulls_last=True) if up else F(SORT_KEY).desc(nulls_first=True)
            return Compiled(
                queryset.order_by(key, "pk" if forward else "-pk")[: self.page_size + 1]
            )

        compiled = self._get(f"sorted-{forward}-{after}-{at_null}", build)
        return [(instance(self.model, row[:-1]), row[-1]) for row in compiled.rows(values)]


_cache: dict[tuple, _Statements] = {}


def _statements(
    model, source: Source, request: ListRequest, related: Related | None = None
) -> tuple[_Statements, tuple]:
    """Return the statements for `request` (reading `related` with an index page's rows),
    compiled before for a request of its shape, and the filter's strings that fill their
    slots."""
    shape = filter_shape(request.filter) if request.filter is not None else None
    strings = shape.strings if shape is not None else ()
    key = (
        model,
        shape.key if shape is not None else None,
        request.sort_by,
        request.descending,
        request.count,
        request.unknown_is_unassigned,
        related,
    )
    statements = _cache.get(key)
    if statements is not None:
        if shape is not None:
            check_strings(shape)
        return statements, strings
    statements = _Statements(model, source, request, shape, related)
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


def _sorted_cursor_page(statements: _Statements, values: list, request: ListRequest) -> Page:
    """Return a page of a cursor walk in the order of `sortBy` (RFC 9865 with RFC 7644
    §3.4.2.3): as `_cursor_page`, with the position's sort key in the cursor."""
    sort = [str(request.sort_by).lower(), request.descending]
    forward, key, pk, at_null = True, None, None, False
    if request.cursor:
        forward, key, pk, total = _decode_sorted(request.cursor, sort, statements.key_field())
        at_null = key is None
        values = [*values, key, pk]
    else:
        total = statements.count(values)
    rows = statements.sorted_cursor_page(values, forward, bool(request.cursor), at_null)
    more = len(rows) > request.count
    rows = rows[: request.count]
    if not forward:
        rows.reverse()
    page = Page(total, [obj for obj, _ in rows], start_index=None)
    if rows and (more or not forward):
        page.next_cursor = _encode_sorted(True, rows[-1][0].pk, rows[-1][1], total, sort)
    if rows and request.cursor and (forward or more):
        page.previous_cursor = _encode_sorted(False, rows[0][0].pk, rows[0][1], total, sort)
    return page


def sorted_keyset_condition(key, pk, forward: bool, descending: bool, at_null: bool) -> Q:
    """Return the rows after (or, going back, before) the position (key, pk) in the order of
    a sorted walk: the key ascending with unassigned keys last, or descending with them
    first (RFC 7644 §3.4.2.3), then the id ascending."""
    # Whether the key grows along the way; unassigned keys come last exactly when it does.
    up = forward != descending
    same_key_further = Q(pk__gt=pk) if forward else Q(pk__lt=pk)
    if at_null:
        condition = Q(**{f"{SORT_KEY}__isnull": True}) & same_key_further
        return condition if up else condition | Q(**{f"{SORT_KEY}__isnull": False})
    further = Q(**{f"{SORT_KEY}__gt" if up else f"{SORT_KEY}__lt": key})
    condition = further | (Q(**{SORT_KEY: key}) & same_key_further)
    return condition | Q(**{f"{SORT_KEY}__isnull": True}) if up else condition


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


def _encode_sorted(forward: bool, pk: uuid.UUID, key, total: int, sort: list) -> str:
    if isinstance(key, dt.datetime | uuid.UUID):
        key = key.isoformat() if isinstance(key, dt.datetime) else str(key)
    payload = json.dumps(["n" if forward else "p", key, str(pk), total, sort])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_sorted(cursor: str, sort: list, field) -> tuple[bool, object, uuid.UUID, int]:
    """Return the direction, position (sort key and id) and total of a sorted walk's cursor;
    a cursor of another walk (another order, or the default one) is invalidCursor, and so
    is a key that is not a value of the sort key's `field`."""
    invalid = InvalidCursor("The cursor is not one this server issued for this sortBy.")
    payload = _payload(cursor)
    if not isinstance(payload, list) or len(payload) != 5 or payload[4] != sort:
        raise invalid
    direction, key, pk, total, _ = payload
    if direction not in ("n", "p") or not isinstance(pk, str):
        raise invalid
    if type(total) is not int or not 0 <= total < 2**63:
        raise invalid
    try:
        pk = uuid.UUID(pk)
        if key is not None:
            key = _key_value(key, field)
    except (ValueError, TypeError):
        raise invalid from None
    return direction == "n", key, pk, total


def _key_value(key, field):
    """Return a sort key read from a cursor as a value of `field`; ValueError if it is not."""
    if isinstance(field, BooleanField):
        if not isinstance(key, bool):
            raise ValueError(key)
        return key
    if not isinstance(key, str):
        raise ValueError(key)
    if isinstance(field, DateTimeField):
        instant = parse_datetime(key)
        if instant is None:
            raise ValueError(key)
        return instant
    if isinstance(field, UUIDField):
        return uuid.UUID(key)
    if not storable(key):
        raise ValueError(key)
    return key


def _payload(cursor: str):
    """Return the JSON a cursor encodes; anything else is invalidCursor."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("The cursor is not one this server issued.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidCursor("The cursor is not one this server issued.") from None


def _decode(cursor: str) -> tuple[bool, dt.datetime, uuid.UUID, int]:
    """Return the direction, position and total a cursor stands for; anything else is
    invalidCursor."""
    invalid = InvalidCursor("The cursor is not one this server issued.")
    payload = _payload(cursor)
    if not isinstance(payload, list) or len(payload) != 4:
        raise invalid
    direction, created, pk, total = payload
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
