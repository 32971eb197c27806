"""The admin's round trip in a real browser (tests/browser/test_admin_browser.py) through the
balancer, both instances and PgBouncer: a sign-in, its session and its CSRF token made on one
instance hold on the other, since every page load may reach either. (Its other test, what a
staff user's permissions show, is the same queries again.)"""

import pytest

from tests.browser.test_admin_browser import (  # noqa: F401 - the test itself, collected again
    test_operator_round_trip,
)

pytestmark = pytest.mark.live
