"""Create the tenant a single-IdP deployment uses, so tokens can be issued right away."""

from django.db import migrations


def create_default_tenant(apps, schema_editor):
    Tenant = apps.get_model("provisioning", "Tenant")
    Tenant.objects.get_or_create(slug="default", defaults={"name": "Default tenant"})


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0001_initial")]

    operations = [migrations.RunPython(create_default_tenant, migrations.RunPython.noop)]
