"""Statements the ORM compiles once and the hot paths run again with new parameters.

Building and compiling a QuerySet costs about a millisecond of CPU here, several times what
PostgreSQL spends answering an indexed lookup (bench/README.md). The requests an IdP sends all
day (a token check, a lookup, a read by id) therefore run SQL that the ORM wrote once per
process: the SQL text stays the ORM's, and only the parameters change. With server-side
binding, psycopg prepares such repeated statements, so PostgreSQL plans them once per
connection as well.

`Slot(i)` stands for the i-th parameter of a statement while it is compiled.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Expression, JSONField, Model, TextField


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


def fetch(sql: str, params: Sequence) -> list[tuple]:
    """Run one statement; return its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def instance(model: type[Model], row: Sequence) -> Model:
    """Return the model instance of a row holding its concrete fields in declaration order."""
    json_columns = _json_columns(model)
    if json_columns:
        row = list(row)
        for i in json_columns:
            if row[i] is not None:
                row[i] = orjson.loads(row[i])
    return model.from_db(connection.alias, None, row)


@functools.cache
def _json_columns(model: type[Model]) -> tuple[int, ...]:
    """Return the positions of the JSON fields, which Django's driver setup leaves as text."""
    fields = model._meta.concrete_fields
    return tuple(i for i, f in enumerate(fields) if isinstance(f, JSONField))
