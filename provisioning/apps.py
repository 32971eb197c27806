from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "SCIM provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .models import Tenant
        from .storage.changes import delete_left_behind
        from .storage.loaders import use_compiled_timestamp_loader

        connection_created.connect(use_compiled_timestamp_loader, dispatch_uid="scim-timestamptz")
        post_delete.connect(delete_left_behind, sender=Tenant, dispatch_uid="scim-records-left")
