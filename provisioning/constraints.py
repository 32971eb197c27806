"""Constraints Django has no class for: a foreign key that carries the tenant.

A row of a tenant (a membership, a user's value row, a webhook delivery) names another row by
a foreign key; `SameTenant` makes that key (tenant, id), so PostgreSQL itself refuses a row
that points into another tenant, whatever code wrote it. The row pointed to declares the
unique key (tenant, id) such a key refers to.
"""

from django.core.exceptions import ValidationError
from django.db.backends.ddl_references import Statement, Table
from django.db.models import BaseConstraint
from django.db.utils import DEFAULT_DB_ALIAS

TENANT = "tenant"


class SameTenant(BaseConstraint):
    """A foreign key of (tenant, `field`) to (tenant, id) of the model `field` points to.

    The ForeignKey `field` keeps its own column and its ORM joins, with `db_constraint=False`:
    this key replaces its single-column one. It is checked at once (not deferred to COMMIT,
    as Django's are), so the statement that writes a row of another tenant fails. A NULL in
    `field` (a membership of a group rather than a user) leaves it unchecked (MATCH SIMPLE).
    """

    default_violation_error_message = "The row “%(name)s” refers to is not of this tenant."

    def __init__(self, *, field, name, violation_error_code=None, violation_error_message=None):
        self.field = field
        super().__init__(
            name=name,
            violation_error_code=violation_error_code,
            violation_error_message=violation_error_message,
        )

    def _columns(self, model):
        """Return the local columns, the table referred to, and its columns, in key order."""
        opts = model._meta
        target = opts.get_field(self.field).remote_field.model._meta
        return (
            [opts.get_field(TENANT).column, opts.get_field(self.field).column],
            target.db_table,
            [target.get_field(TENANT).column, target.pk.column],
        )

    def constraint_sql(self, model, schema_editor):
        quote = schema_editor.quote_name
        columns, table, target_columns = self._columns(model)
        return "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})".format(
            quote(self.name),
            ", ".join(map(quote, columns)),
            quote(table),
            ", ".join(map(quote, target_columns)),
        )

    def create_sql(self, model, schema_editor):
        return Statement(
            "ALTER TABLE %(table)s ADD %(constraint)s",
            table=Table(model._meta.db_table, schema_editor.quote_name),
            constraint=self.constraint_sql(model, schema_editor),
        )

    def remove_sql(self, model, schema_editor):
        return Statement(
            schema_editor.sql_delete_fk,
            table=Table(model._meta.db_table, schema_editor.quote_name),
            name=schema_editor.quote_name(self.name),
        )

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        """Raise ValidationError when the row `field` names is not of the instance's tenant
        (what `Model.full_clean`, e.g. in the admin, asks before the database would refuse)."""
        if exclude and (self.field in exclude or TENANT in exclude):
            return
        field = model._meta.get_field(self.field)
        value = getattr(instance, field.attname)
        tenant_id = getattr(instance, model._meta.get_field(TENANT).attname)
        if value is None or tenant_id is None:
            return
        target = field.remote_field.model
        if not target._default_manager.using(using).filter(pk=value, tenant_id=tenant_id).exists():
            raise ValidationError(
                self.get_violation_error_message(), code=self.violation_error_code
            )

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs["field"] = self.field
        return path, args, kwargs

    def __eq__(self, other):
        if isinstance(other, SameTenant):
            return self.deconstruct() == other.deconstruct()
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: field={self.field!r} name={self.name!r}>"
