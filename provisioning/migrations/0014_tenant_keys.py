"""Foreign keys that carry the tenant, and unique keys that lead with it.

A membership, a user's value row and a webhook delivery name their group, member, user or
endpoint by (tenant, id) instead of id, so PostgreSQL refuses a row that links two tenants;
the rows they name get the unique key (tenant, id) those keys refer to, and their own keys to
the tenant go, as these imply them. A membership's uniqueness rules lead with the tenant. The
auth links name their User or Group by id without a foreign key (the link outlives a deleted
User), so a trigger checks, when a link is written, that the id is one of the link's tenant.

Every tenant column already exists and is filled, so an existing database needs no backfill:
adding a key checks its rows, and the migration fails, changing nothing, if a row links two
tenants.
"""

import django.db.models.deletion
from django.db import migrations, models

import provisioning.constraints

# The auth links' check: the resource a link names is a row of the link's tenant.
LINK_TRIGGER = """
    CREATE FUNCTION provisioning_{link}_same_tenant() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (
            SELECT 1 FROM provisioning_{resource}
            WHERE tenant_id = NEW.tenant_id AND id = NEW.resource_id
        ) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'foreign_key_violation',
                MESSAGE = format('%s %s is not a {resource} of tenant %s',
                                 TG_TABLE_NAME, NEW.resource_id, NEW.tenant_id);
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER provisioning_{link}_same_tenant
        BEFORE INSERT OR UPDATE OF tenant_id, resource_id ON provisioning_{link}
        FOR EACH ROW EXECUTE FUNCTION provisioning_{link}_same_tenant();
"""
DROP_LINK_TRIGGER = """
    DROP TRIGGER provisioning_{link}_same_tenant ON provisioning_{link};
    DROP FUNCTION provisioning_{link}_same_tenant();
"""


def link_trigger(link: str, resource: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=LINK_TRIGGER.format(link=link, resource=resource),
        reverse_sql=DROP_LINK_TRIGGER.format(link=link),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('provisioning', '0013_employee_number'),
    ]

    operations = [
        # The keys (tenant, id) the new foreign keys refer to.
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='provisioning_user_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='group',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='provisioning_group_tenant_key'),
        ),
        migrations.AddConstraint(
            model_name='webhookendpoint',
            constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='provisioning_webhook_tenant_key'),
        ),
        # The single-column foreign keys give way to (tenant, column) ones.
        migrations.AlterField(
            model_name='membership',
            name='group',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='provisioning.group'),
        ),
        migrations.AlterField(
            model_name='membership',
            name='member_group',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='parent_memberships', to='provisioning.group'),
        ),
        migrations.AlterField(
            model_name='membership',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='provisioning.user'),
        ),
        migrations.AlterField(
            model_name='uservalue',
            name='user',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='values', to='provisioning.user'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='endpoint',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='provisioning.webhookendpoint'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=provisioning.constraints.SameTenant(field='group', name='provisioning_membership_group_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=provisioning.constraints.SameTenant(field='user', name='provisioning_membership_user_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=provisioning.constraints.SameTenant(field='member_group', name='provisioning_membership_member_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='uservalue',
            constraint=provisioning.constraints.SameTenant(field='user', name='provisioning_uservalue_user_tenant_fk'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=provisioning.constraints.SameTenant(field='endpoint', name='provisioning_delivery_endpoint_tenant_fk'),
        ),
        # Those keys imply the tenant's own (the row they name has one), checked no more.
        migrations.AlterField(
            model_name='membership',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='provisioning.tenant'),
        ),
        migrations.AlterField(
            model_name='uservalue',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='provisioning.tenant'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='tenant',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='provisioning.tenant'),
        ),
        # A membership's uniqueness rules lead with the tenant (same names, new keys).
        migrations.RemoveConstraint(
            model_name='membership',
            name='provisioning_membership_user_once',
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(condition=models.Q(('user__isnull', False)), fields=('tenant', 'group', 'user'), name='provisioning_membership_user_once'),
        ),
        migrations.RemoveConstraint(
            model_name='membership',
            name='provisioning_membership_group_once',
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(condition=models.Q(('member_group__isnull', False)), fields=('tenant', 'group', 'member_group'), name='provisioning_membership_group_once'),
        ),
        link_trigger('authuserlink', 'user'),
        link_trigger('authgrouplink', 'group'),
    ]
