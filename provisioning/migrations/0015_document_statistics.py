"""No planner statistics on the JSON documents, which no statement filters or sorts by.

Filters run on the mirrored columns, the value rows' indexed expressions and the memberships;
statistics on a whole document are never consulted, and gathering them (reading and
comparing a sample of every document) was about 40 % of what ANALYZE of the users and of the
change records cost. Autovacuum runs that ANALYZE after every bulk load, such as an IdP's
first push, beside the requests that follow it.
"""

from django.db import migrations

DOCUMENTS = (
    ("provisioning_user", "data"),
    ("provisioning_group", "data"),
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
