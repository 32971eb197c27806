"""The scim2-tester suite (tests/live/test_compliance.py) through PgBouncer, once: its requests
go round-robin to both instances, so each check's create, read, replace and delete meet
both of them."""

import pytest

from tests.live.test_compliance import *  # noqa: F403 - the test itself, collected again here

pytestmark = pytest.mark.live
