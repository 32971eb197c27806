from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "SCIM provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .storage.loaders import use_compiled_timestamp_loader

        connection_created.connect(use_compiled_timestamp_loader, dispatch_uid="scim-timestamptz")
