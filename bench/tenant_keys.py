"""What the database spends checking the foreign keys of membership and value rows, before
and after migration 0014 (keys that carry the tenant; README, "Data model").

Rounds alternate between the schema before the migration and after it. Each round writes
20,000 memberships and 20,000 value rows with one `INSERT ... SELECT` each, under EXPLAIN
ANALYZE with every constraint checked at once (so Django's deferred keys are timed too), and
sums the time of the foreign-key triggers; everything is rolled back. Run by
`bench/tenant_keys.sh [ROUNDS]`, on a database of its own.
"""

import os
import re
import statistics
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402

ROWS = 20_000
GROUP = "00000000-0000-0000-0000-000000000001"
SETUP = [
    "SET CONSTRAINTS ALL IMMEDIATE",
    "INSERT INTO provisioning_tenant (slug, name, dialect, created, oauth_issuer, oauth_audience,"
    " oauth_jwks_uri, oauth_scope, oauth_client_id)"
    " VALUES ('bench-tenant-keys', 'bench', 'auto', now(), '', '', '', '', '')",
    f"CREATE TEMP TABLE bench_user ON COMMIT DROP AS"
    f" SELECT gen_random_uuid() AS id, n FROM generate_series(1, {ROWS}) n",
    "INSERT INTO provisioning_user (id, tenant_id, data, version, created, last_modified, user_name)"
    " SELECT u.id, t.id, '{}', 1, now(), now(), 'u' || n FROM bench_user u, provisioning_tenant t"
    " WHERE t.slug = 'bench-tenant-keys'",
    "INSERT INTO provisioning_group (id, tenant_id, data, version, created, last_modified,"
    f" display_name) SELECT '{GROUP}', t.id, '{{}}', 1, now(), now(), 'g'"
    " FROM provisioning_tenant t WHERE t.slug = 'bench-tenant-keys'",
]
TIMED = {
    "memberships": "INSERT INTO provisioning_membership (tenant_id, group_id, user_id, created)"
    f" SELECT t.id, '{GROUP}', u.id, now() FROM bench_user u, provisioning_tenant t"
    " WHERE t.slug = 'bench-tenant-keys'",
    "value rows": "INSERT INTO provisioning_uservalue (tenant_id, user_id, attribute, position,"
    " element) SELECT t.id, u.id, 'emails', 0, '{\"value\": \"x\"}'"
    " FROM bench_user u, provisioning_tenant t WHERE t.slug = 'bench-tenant-keys'",
}
TRIGGER = re.compile(r"Trigger for constraint (\S+): time=([\d.]+)")


class Rollback(Exception):
    pass


def key_check_ms() -> dict[str, float]:
    """Return, per kind of row, the milliseconds its foreign-key triggers took."""
    times = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in SETUP:
                cursor.execute(sql)
            for kind, sql in TIMED.items():
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                times[kind] = sum(float(ms) for _, ms in TRIGGER.findall(plan))
            raise Rollback
    except Rollback:
        return times


def main(rounds: int) -> None:
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    (after,) = (k for k in graph.nodes if k[0] == "provisioning" and "_tenant_keys" in k[1])
    (before,) = (p.key for p in graph.node_map[after].parents if p.key[0] == "provisioning")
    results = {"before": [], "after": []}
    try:
        for _ in range(rounds):
            for name, target in (("before", before), ("after", after)):
                call_command("migrate", "provisioning", target[1], verbosity=0)
                results[name].append(key_check_ms())
    finally:
        call_command("migrate", verbosity=0)
    for kind in TIMED:
        print(
            f"{ROWS} {kind}: foreign-key checks, median of {rounds} rounds: "
            + ", ".join(
                f"{name} {statistics.median(r[kind] for r in runs):.0f} ms"
                for name, runs in results.items()
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
