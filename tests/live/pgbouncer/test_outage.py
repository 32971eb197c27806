"""tests/live/test_outage.py through PgBouncer: the server's connections to PgBouncer drop
right after each commit (a PgBouncer restart at the worst moment); the writes that committed
are still answered as successes."""

import pytest

from tests.live.test_outage import *  # noqa: F403 - the test itself, collected again here

pytestmark = pytest.mark.live
