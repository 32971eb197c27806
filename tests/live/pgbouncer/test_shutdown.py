"""A write cut off by a shutdown (tests/live/test_shutdown.py) with the server through
PgBouncer: never half-applied, though its statement runs on a server connection that
PgBouncer, not the killed worker, holds. (The module's other test, a write in flight that
finishes, is granian's grace period: the same whatever the connection.)"""

import pytest

from tests.live.test_shutdown import (  # noqa: F401 - the test and its fixtures
    secret,
    test_a_write_cut_off_after_the_grace_period_is_never_half_applied,
)

pytestmark = pytest.mark.live
