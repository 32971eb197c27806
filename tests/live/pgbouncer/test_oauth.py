"""tests/live/test_oauth.py through PgBouncer: one instance of its own (a new server reads the
tenant's OAuth settings at once; the test counts that instance's fetches of the issuer's keys)."""

import pytest

from tests.live.test_oauth import *  # noqa: F403 - the test itself, collected again here

pytestmark = pytest.mark.live
