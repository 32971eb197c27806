"""The enterprise extension's employeeNumber gets an indexed column, as the schema table now
declares (IdPs look users up by it); the mirror columns and their indexes are made from the
schema table, which names their indexes `prov_<type>_<column>[_ci|_trgm]` and gives a group's
externalId the trigram index a user's has. The renames and help texts change no data."""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# The users stored before the column existed: their employeeNumber, from the document. A value
# longer than the 512 characters the schema now allows stays out of the column (the btree index
# could not hold it); that user's next write must bring a shorter one.
FILL_EMPLOYEE_NUMBER = f"""
    UPDATE provisioning_user
    SET employee_number = data -> '{ENTERPRISE_USER}' ->> 'employeeNumber'
    WHERE data -> '{ENTERPRISE_USER}' ? 'employeeNumber'
      AND length(data -> '{ENTERPRISE_USER}' ->> 'employeeNumber') <= 512
"""


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0012_admin"),
    ]

    operations = [
        migrations.RenameIndex(
            model_name="group",
            new_name="prov_group_external_id",
            old_name="prov_group_tenant_extid",
        ),
        migrations.RenameIndex(
            model_name="user",
            new_name="prov_user_external_id",
            old_name="prov_user_tenant_extid",
        ),
        migrations.RenameIndex(
            model_name="user",
            new_name="prov_user_display_name_ci",
            old_name="prov_user_displayname_ci",
        ),
        migrations.RenameIndex(
            model_name="user",
            new_name="prov_user_email_ci",
            old_name="prov_user_tenant_email_ci",
        ),
        migrations.AlterField(
            model_name="group",
            name="display_name",
            field=models.TextField(help_text="displayName"),
        ),
        migrations.AlterField(
            model_name="user",
            name="active",
            field=models.BooleanField(blank=True, help_text="active", null=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="display_name",
            field=models.TextField(blank=True, help_text="displayName", null=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.TextField(
                blank=True,
                help_text="emails: the primary value, else the work one, else the first.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="user_name",
            field=models.TextField(help_text="userName"),
        ),
        migrations.AddIndex(
            model_name="group",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Lower("external_id"), name="gin_trgm_ops"
                ),
                name="prov_group_external_id_trgm",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="employee_number",
            field=models.TextField(
                blank=True,
                help_text=f"{ENTERPRISE_USER}:employeeNumber",
                null=True,
            ),
        ),
        # Filled before it is indexed: one pass over the table, then each index built once.
        migrations.RunSQL(FILL_EMPLOYEE_NUMBER, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                models.F("tenant"),
                django.db.models.functions.text.Lower("employee_number"),
                models.F("created"),
                models.F("id"),
                name="prov_user_employee_number_sort",
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Lower("employee_number"),
                    name="gin_trgm_ops",
                ),
                name="prov_user_employee_number_trgm",
            ),
        ),
    ]
