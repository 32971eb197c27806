"""tests/live/test_ratelimit.py with the deployment's two instances, both through PgBouncer:
a burst sent at once, half to each instance, is limited as one burst."""

import pytest

from tests.live.test_ratelimit import *  # noqa: F403 - the test itself, collected again here

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def two_instances(instances) -> list[str]:
    """The two instances themselves, not the balancer: the test sends half to each."""
    return instances
