"""tests/live/test_webhook_worker.py with the worker process reaching the database through
PgBouncer, as docker/compose.yaml runs it: each batch is one transaction that holds its rows
(FOR UPDATE SKIP LOCKED) on one pooled server connection, and a killed worker's transaction
is rolled back by PgBouncer dropping that connection."""

import pytest

from tests.live.test_webhook_worker import *  # noqa: F403 - the tests themselves, collected again

pytestmark = pytest.mark.live
