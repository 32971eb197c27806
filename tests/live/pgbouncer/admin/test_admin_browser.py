"""The admin in a real browser (tests/browser/test_admin_browser.py) through the balancer, both
instances and PgBouncer: a sign-in, its session and its CSRF token made on one instance hold on
the other, since every page load may reach either."""

import pytest

from tests.browser.test_admin_browser import *  # noqa: F403 - the tests themselves, collected again

pytestmark = pytest.mark.live
