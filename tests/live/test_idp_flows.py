"""The Okta and Entra request shapes of tests/test_okta.py and tests/test_ms_entra.py, sent
over real HTTP to the live server: each of those tests runs here again, with `scim` a live client."""

import pytest

from tests.live.http_client import LiveSCIMClient
from tests.test_ms_entra import *  # noqa: F403 - the tests themselves, collected again here
from tests.test_okta import *  # noqa: F403

pytestmark = pytest.mark.live


@pytest.fixture
def scim(live_client):
    """The tests' SCIM client, talking to the live server (its rows are committed)."""
    return LiveSCIMClient(live_client)
