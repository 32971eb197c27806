"""tests/live/test_shutdown.py with the server through PgBouncer: a write in flight at SIGTERM
finishes; one cut off is never half-applied, though its statement runs on a server connection
that PgBouncer, not the killed worker, holds."""

import pytest

from tests.live.test_shutdown import *  # noqa: F403 - the tests themselves, collected again here

pytestmark = pytest.mark.live
