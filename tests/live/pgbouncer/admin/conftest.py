"""tests/browser's fixtures and hook, here for the admin's tests through PgBouncer. In a
conftest, so that the browser's package scope is this package: Playwright's event loop, which
keeps the ORM from running in this thread, ends with its tests."""

from tests.browser.conftest import *  # noqa: F403
