"""The application unchanged behind PgBouncer in transaction mode, two instances on one
database (see conftest.py): the Okta and Entra request shapes (every test of
tests/test_okta.py and tests/test_ms_entra.py), the concurrency tests and the Bulk tests of
tests/live run here again (a Bulk request is one transaction of savepoints); and what only this deployment can show: instances that see each other's writes,
a streamed member list and `scim_audit export`, whose server-side cursors must live inside a
transaction.

That subset sends every kind of request the IdPs send (creates, filtered lookups, PUT,
PATCH in both dialects, group pushes, deletes) and the races that row locks and the nesting
lock (a transaction-level advisory lock) settle, now across two instances. The other modules
of this directory run more of tests/live (and the admin's round trip) here again; README's
"Deploy" says which, and why the rest are not.
"""

import json
import os
import subprocess
import sys

import httpx2
import psycopg
import pytest
from django.db import connection
from psycopg.rows import dict_row

from provisioning import tokens
from tests.conftest import ROOT, group_body, patch_body, user_body
from tests.live.test_bulk import *  # noqa: F403 - the tests themselves, collected again here
from tests.live.test_concurrency import *  # noqa: F403
from tests.live.test_idp_flows import *  # noqa: F403

pytestmark = pytest.mark.live


def pools(pgbouncer_url: str) -> list[dict]:
    """Return PgBouncer's SHOW POOLS (its admin console, the `pgbouncer` database)."""
    admin = pgbouncer_url.rsplit("/", 1)[0] + "/pgbouncer"
    with psycopg.connect(admin, autocommit=True, row_factory=dict_row) as console:
        return console.execute("SHOW POOLS", prepare=False).fetchall()


def test_each_instance_sees_the_others_writes(instances, pgbouncer_url, transactional_db, tenant):
    _, secret = tokens.issue(tenant, name="live")
    first, second = (
        httpx2.Client(base_url=f"{url}/scim/v2", headers={"Authorization": f"Bearer {secret}"})
        for url in instances
    )
    user = first.post("/Users", json=user_body("bjensen")).json()
    body = patch_body({"op": "replace", "path": "nickName", "value": "Babs"})
    assert second.patch(f"/Users/{user['id']}", json=body).status_code == 200
    fetched = first.get(f"/Users/{user['id']}").json()
    assert (fetched["nickName"], fetched["meta"]["version"]) == ("Babs", 'W/"2"')
    # The instances' connections are PgBouncer's clients, pooled per transaction.
    (pool,) = [p for p in pools(pgbouncer_url) if p["database"] == connection.settings_dict["NAME"]]
    assert pool["pool_mode"] == "transaction"
    assert pool["cl_active"] + pool["cl_waiting"] >= 2


def test_a_streamed_member_list_through_pgbouncer(live_client):
    """A group's members are read through a server-side cursor while the answer streams."""
    ids = [live_client.post("/Users", json=user_body(f"member{i}")).json()["id"] for i in range(30)]
    group = live_client.post(
        "/Groups", json=group_body("Streamed", members=[{"value": i} for i in ids])
    ).json()
    for _ in range(5):
        fetched = live_client.get(f"/Groups/{group['id']}").json()
        assert sorted(m["value"] for m in fetched["members"]) == sorted(ids)


def test_audit_export_through_pgbouncer(live_client, pgbouncer_url, make_tenant):
    """The export merges one server-side cursor per tenant, all read in one transaction."""
    live_client.post("/Users", json=user_body("alice"))
    other = make_tenant("other")
    _, secret = tokens.issue(other, name="live")
    live_client.post("/Users", json=user_body("bob"), headers={"Authorization": f"Bearer {secret}"})
    exported = subprocess.run(
        [sys.executable, "manage.py", "scim_audit", "export"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": pgbouncer_url, "DATABASE_PREPARED_STATEMENTS": "false"},
        capture_output=True,
        text=True,
        check=True,
    )
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["tenant"], r["name"]) for r in records] == [("acme", "alice"), ("other", "bob")]
