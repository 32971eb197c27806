"""No planner statistics on the JSON columns that no statement filters or sorts by.

A user's or group's document keeps its statistics: `name pr` and a filter on `schemas` test
it for a key (`data ? 'name'`), and PostgreSQL estimates that from them. Change records and
webhook deliveries are filtered by other columns only, and the value rows by expressions over
their element (`element ->> 'value'`), which the column's statistics do not describe (the
indexed ones have statistics of their own). Sampling that JSON was about 60 % of what ANALYZE
of the change records cost, and autovacuum runs that ANALYZE after every bulk load, such as
an IdP's first push, beside the requests that follow it.
"""

from django.db import migrations

DOCUMENTS = (
    ("provisioning_uservalue", "element"),
    ("provisioning_changerecord", "changes"),
    ("provisioning_webhookdelivery", "data"),
)


def _statistics(target: int) -> str:
    return "\n".join(
        f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STATISTICS {target};'
        for table, column in DOCUMENTS
    )


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0014_tenant_keys")]

    operations = [migrations.RunSQL(_statistics(0), reverse_sql=_statistics(-1))]
