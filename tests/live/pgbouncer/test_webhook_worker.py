"""A webhook worker killed mid-batch (tests/live/test_webhook_worker.py) reaching the database
through PgBouncer, as docker/compose.yaml runs it: each batch is one transaction that holds its
rows (FOR UPDATE SKIP LOCKED) on one pooled server connection; PgBouncer drops that connection
when the worker dies, which rolls the transaction back, so the next worker sends those rows.
(The module's receiver outage is the worker's own retries, the same statements again.)"""

import pytest

from tests.live.test_webhook_worker import (  # noqa: F401 - the test and its fixtures
    receiver,
    start_worker,
    test_a_worker_killed_mid_delivery_loses_nothing,
)

pytestmark = pytest.mark.live
