"""How psycopg reads `timestamptz` values on this project's connections: with its compiled
loader, not the pure-Python one Django registers.

Django (5.2, `django.db.backends.postgresql.psycopg_any.register_tzloader`) subclasses
psycopg's pure-Python timestamptz loader to set each value's time zone, because the compiled
loader (in psycopg-binary) cannot be subclassed. A page of 100 users holds 200 timestamps, and
reading them that way was a tenth of the page's CPU. Django sets each connection's TimeZone
to the zone it wants (UTC with USE_TZ), which the compiled loader takes for every value it
reads, so the values come out the same; Django only checks the loader's `timezone`.
"""

from psycopg.pq import Format

try:
    from psycopg_binary._psycopg import TimestamptzLoader as _Compiled
except ImportError:  # psycopg without its binary package: keep Django's loader
    _Compiled = None


def use_compiled_timestamp_loader(sender, connection, **kwargs) -> None:
    """Register the compiled timestamptz loader on a new connection (`connection_created`)."""
    if _Compiled is None or connection.vendor != "postgresql":
        return

    class TimestamptzLoader:
        """psycopg's Loader protocol: `load` is the compiled loader's own, so reading a value
        runs no Python code."""

        format = Format.TEXT
        # What Django's create_cursor() compares with the zone it wants before it registers
        # its own loader on a cursor.
        timezone = connection.timezone

        def __init__(self, oid: int, context=None) -> None:
            self.load = _Compiled(oid, context).load

    connection.connection.adapters.register_loader("timestamptz", TimestamptzLoader)
