"""Timestamps are read by psycopg's compiled loader (provisioning.storage.loaders), and come
out as Django's own loader gives them: aware, in UTC, to the microsecond."""

import datetime as dt

import pytest
from django.db import connection
from psycopg.pq import Format

from provisioning.storage.loaders import _Compiled

pytestmark = pytest.mark.skipif(_Compiled is None, reason="psycopg-binary is not installed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T15:04:05.123456Z", dt.datetime(2026, 12, 1, 15, 4, 5, 123456, dt.UTC)),
        ("2020-01-01T00:00:00+05:00", dt.datetime(2019, 12, 31, 19, 0, tzinfo=dt.UTC)),
        ("1969-07-20T20:17:40-07:30", dt.datetime(1969, 7, 21, 3, 47, 40, tzinfo=dt.UTC)),
    ],
    ids=["utc", "east", "west"],
)
def test_timestamps_come_out_aware_in_utc(db, text, expected):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        (value,) = cursor.fetchone()
    assert value == expected
    assert value.tzinfo is dt.UTC
    loader = connection.connection.adapters.get_loader(1184, Format.TEXT)
    assert loader.__module__ == "provisioning.storage.loaders"
