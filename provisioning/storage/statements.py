"""Statements the ORM compiles once and the hot paths run again with new parameters.

Building and compiling a QuerySet costs about a millisecond of CPU here, several times what
PostgreSQL spends answering an indexed lookup (bench/README.md). The requests an IdP sends all
day (a token check, a lookup, a read by id) therefore run SQL that the ORM wrote once per
process: the SQL text stays the ORM's, and only the parameters change. With server-side
binding, psycopg prepares such repeated statements, so PostgreSQL plans them once per
connection as well.

`Slot(i)` stands for the i-th parameter of a statement while it is compiled. The writes of a
resource (`insert`, `update`) are built once per model from its fields, for the same reason.
A write that touches several tables is sent as one statement (`Together`): each round trip
costs the server more CPU than the SQL it carries.
"""

from __future__ import annotations

import functools
import json
import operator
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from django.core.exceptions import EmptyResultSet
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Expression, ForeignKey, JSONField, Model, TextField
from django.db.models import fields as model_fields
from django.db.models.base import ModelState
from django.db.models.fields import AutoFieldMixin
from django.db.models.signals import post_init, pre_init


class Slot(Expression):
    """A parameter left open when a statement is compiled; `bind` fills it."""

    def __init__(self, index: int, output_field=None) -> None:
        super().__init__(output_field=output_field or TextField())
        self.index = index

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def __repr__(self) -> str:
        return f"Slot({self.index})"


class Compiled:
    """A statement compiled once: its SQL and where the parameters go."""

    def __init__(self, queryset) -> None:
        try:
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:  # a condition no row can meet: nothing to ask PostgreSQL
            sql, params = "", ()
        self.sql = sql
        self.params = tuple(params)

    def bind(self, values: Sequence) -> list:
        """Return the statement's parameters with each `Slot` filled from `values`."""
        return [values[p.index] if isinstance(p, Slot) else p for p in self.params]

    def rows(self, values: Sequence = ()) -> list[tuple]:
        return fetch(self.sql, self.bind(values)) if self.sql else []


class StatementCounter:
    """Count the SQL statements run on Django's connection: an execute wrapper for those
    that go through Django's cursors, and counted by `fetch` for those that do not."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def fetch(sql: str, params: Sequence | Mapping) -> list[tuple]:
    """Run one statement; return its rows.

    A read that a `Prelude` waits on (`ahead`) carries the prelude with it, in one statement.
    """
    db = connections[DEFAULT_DB_ALIAS]
    prelude = db.__dict__.get(PRELUDE)
    if prelude is None:
        return _fetch(db, sql, params)
    if isinstance(params, Mapping):  # named parameters do not mix with the prelude's
        settle(prelude)
        return _fetch(db, sql, params)
    del db.__dict__[PRELUDE]
    folded = (
        f"SELECT prelude.*, statement.* FROM ({prelude.sql}) AS prelude"
        f" LEFT JOIN LATERAL (SELECT true, * FROM ({sql}) AS statement) AS statement ON true"
    )
    rows = _fetch(db, folded, [*prelude.params, *params])
    width = prelude.width
    prelude.received(rows[0][:width] if rows else None)
    # The prelude's row is joined to each of the statement's, or alone to none (the `true`
    # that every row of the statement begins with is then NULL).
    return [row[width + 1 :] for row in rows if row[width] is not None]


def _fetch(db, sql: str, params: Sequence | Mapping) -> list[tuple]:
    """Run one statement on `db`; return its rows.

    Straight on psycopg's connection, which is the one Django's cursors use (same
    transaction, same adapters, errors turned into Django's as its cursors turn them): its
    cursor wrapper cost a third of the driver's own CPU per statement. Only a
    `StatementCounter` may be watching, and it is counted here; when anything else watches
    Django's cursors (another execute wrapper, or the query log of DEBUG and of tests that
    count queries), the statement goes through them, so that it sees it.
    """
    wrappers = db.execute_wrappers
    if db.queries_logged or any(type(w) is not StatementCounter for w in wrappers):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    for counter in wrappers:
        counter.count += 1
    if db.connection is None:
        db.ensure_connection()
    db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        return db.connection.execute(sql, params).fetchall()


class Prelude(Protocol):
    """A read of one row, run inside the next statement that `fetch` runs, rather than as a
    statement of its own: a round trip costs the server more CPU than a small read.

    `received` gets the prelude's row (None when it found none) before the statement's rows
    are returned, and either refuses them by raising or sets `confirmed`.
    """

    sql: str
    params: Sequence
    width: int  # the number of the row's columns
    confirmed: bool

    def received(self, row: tuple | None) -> None: ...


# Where the connection keeps the prelude that waits for its next statement.
PRELUDE = "scim_prelude"


def ahead(prelude: Prelude) -> None:
    """Run `prelude` inside the next statement `fetch` runs on this thread's connection.

    Only a read may wait on a prelude (the statement it joins runs as a subquery, which
    cannot write: `Together` never takes one), and the caller must `settle` the prelude
    before it acts on anything read: a read's first statement may be one it never reaches. A read whose statements leave state behind them (a transaction
    open for a streamed answer) settles the prelude first (`settle_pending`).
    """
    setattr(connections[DEFAULT_DB_ALIAS], PRELUDE, prelude)


def settle(prelude: Prelude) -> None:
    """Make sure `prelude` has run and accepted its row: alone, if no statement carried it
    (or the one that did failed)."""
    forget(prelude)
    if not prelude.confirmed:
        rows = _fetch(connections[DEFAULT_DB_ALIAS], prelude.sql, prelude.params)
        prelude.received(rows[0] if rows else None)


def settle_pending() -> None:
    """Run alone the prelude that waits for this connection's next statement, if one does:
    before a read that does not go through `fetch` (a server-side cursor), or that must not
    begin before the prelude has accepted its row."""
    prelude = connections[DEFAULT_DB_ALIAS].__dict__.get(PRELUDE)
    if prelude is not None:
        settle(prelude)


def forget(prelude: Prelude) -> None:
    """Drop `prelude` if it still waits, without running it."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.__dict__.get(PRELUDE) is prelude:
        del db.__dict__[PRELUDE]


def instance(model: type[Model], row: Sequence) -> Model:
    """Return the model instance of a row holding its concrete fields in declaration order.

    What `Model.from_db` makes, made directly: its general path (keyword arguments, deferred
    fields, the init signals) was a tenth of a list page's CPU. Once anything receives those
    signals, `from_db` makes it, so that the receiver is called.
    """
    json_columns = _json_columns(model)
    if json_columns:
        row = list(row)
        for i in json_columns:
            if row[i] is not None:
                row[i] = orjson.loads(row[i])
    if pre_init.receivers or post_init.receivers:
        return model.from_db(DEFAULT_DB_ALIAS, None, row)
    obj = _made(model, zip(_attnames(model), row, strict=True))
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS  # every statement here runs on `connection`, the default one
    return obj


def unsaved(model: type[Model], **values) -> Model:
    """Return a new, unsaved instance of `model` with `values`, one for every concrete field
    (by attribute name): what `model(**values)` makes, made directly like `instance`."""
    if values.keys() != set(_attnames(model)):
        raise TypeError(f"unsaved {model.__name__} needs exactly {_attnames(model)}")
    if pre_init.receivers or post_init.receivers:
        return model(**values)
    return _made(model, values.items())


def _made(model: type[Model], values) -> Model:
    """Return an instance of `model` holding `values` (attribute name and value pairs),
    without `Model.__init__`; its state is a new, unsaved object's."""
    obj = model.__new__(model)
    obj.__dict__.update(values)
    obj._state = ModelState()
    return obj


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


@functools.cache
def _json_columns(model: type[Model]) -> tuple[int, ...]:
    """Return the positions of the JSON fields, which Django's driver setup leaves as text."""
    fields = model._meta.concrete_fields
    return tuple(i for i, f in enumerate(fields) if isinstance(f, JSONField))


def json_text(value) -> str:
    """Return `value` as JSON text: orjson's, fast, or the standard library's for what orjson
    cannot write (an integer past 64 bits in a document)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, cls=DjangoJSONEncoder)


def uuid_array(ids: Iterable[uuid.UUID | None]) -> str:
    """Return `ids` as the text of a PostgreSQL array, the value of a `%s::uuid[]` parameter
    (None is NULL): psycopg's list dumper runs Python code per element, about 2.5 µs a UUID,
    the array's text a tenth of it. A UUID's 32 hex digits are what `uuid` reads."""
    return "{" + ",".join(["NULL" if i is None else i.hex for i in ids]) + "}"


# Fields whose attribute value is the column's value as it is, unprepared (when they do not
# set it on save: auto_now and auto_now_add).
PLAIN_FIELDS = (
    model_fields.BooleanField,
    model_fields.CharField,
    model_fields.DateTimeField,
    model_fields.IntegerField,
    model_fields.TextField,
    model_fields.UUIDField,
    ForeignKey,
)


def _preparer(field, add: bool) -> Callable[[Model], Any]:
    """Return how a write gets `field`'s column value from an object: Django's preparation
    (`get_db_prep_save`) was a tenth of a PATCH's CPU, and most values need none. A JSON
    value goes as text, which the statement casts (`_placeholder`)."""
    if isinstance(field, JSONField):
        return lambda obj: json_text(getattr(obj, field.attname))
    if isinstance(field, PLAIN_FIELDS) and not (
        getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ):
        return operator.attrgetter(field.attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, add), connection)


@functools.cache
def _preparers(fields: tuple, add: bool) -> tuple[Callable[[Model], Any], ...]:
    return tuple(_preparer(f, add) for f in fields)


def _placeholder(field) -> str:
    return "%s::jsonb" if isinstance(field, JSONField) else "%s"


def _values(obj: Model, fields: tuple, add: bool) -> list:
    """Return the column values of `fields` for a write of `obj`."""
    return [prepare(obj) for prepare in _preparers(fields, add)]


def insert(objs: Sequence[Model]) -> None:
    """INSERT rows of one model with one statement whatever their number: one array per
    column, unnested (an auto-incremented key is left to its sequence)."""
    if not objs:
        return
    sql, fields = _insert_sql(type(objs[0]))
    rows = [_values(obj, fields, True) for obj in objs]
    arrays = [[row[i] for row in rows] for i in range(len(fields))]
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def update(obj: Model) -> None:
    """UPDATE every column of a row from `obj`, as `Model.save()` would."""
    sql, params = _update(obj)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _update(obj: Model) -> tuple[str, list]:
    sql, fields = _update_sql(type(obj))
    return sql, [*_values(obj, fields, False), obj.pk]


def inserted_row(obj: Model) -> tuple[str, list]:
    """Return the INSERT of `obj`'s row, RETURNING its key, and its parameters."""
    sql, fields = _insert_row_sql(type(obj))
    return sql, _values(obj, fields, True)


def updated_row(obj: Model, column: str, expected) -> tuple[str, list]:
    """Return the UPDATE of every column of `obj`'s row, made only while `column` still holds
    `expected` (RETURNING its key, so no row back means another write came first), and its
    parameters."""
    sql, params = _update(obj)
    key = connection.ops.quote_name(obj._meta.pk.column)
    return f"{sql} AND {connection.ops.quote_name(column)} = %s RETURNING {key}", [
        *params,
        expected,
    ]


class Together:
    """Writes sent as one SQL statement, each part a data-modifying CTE (`WITH part AS
    (INSERT ...)`): one round trip, and atomic without a transaction of its own.

    Every part runs on the same snapshot, so no part sees the rows another writes; a part
    that depends on another reads that one's RETURNING rows (`... FROM resource`).
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list = []

    def add(self, name: str, sql: str, params: Sequence = ()) -> None:
        self.parts.append(f"{name} AS ({sql})")
        self.params.extend(params)

    def rows(self, select: str) -> list[tuple]:
        """Run the parts, then `select` (which may read their RETURNING rows); return its rows."""
        return _fetch(
            connections[DEFAULT_DB_ALIAS], f"WITH {', '.join(self.parts)} {select}", self.params
        )


@functools.cache
def _insert_sql(model: type[Model]) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    # A JSON column's values come as text (`_preparer`): text[] is cast to jsonb[].
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    table = quote(model._meta.db_table)
    return f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays})", fields


@functools.cache
def _insert_row_sql(model: type[Model]) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(_placeholder(f) for f in fields)
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {key}", fields


@functools.cache
def _update_sql(model: type[Model]) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = {_placeholder(f)}" for f in fields)
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {key} = %s", fields
