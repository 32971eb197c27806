"""The columns that mirror attributes, and their indexes, made from the schema table.

`provisioning.scim.schema` declares which column mirrors an attribute (`Attribute.column`) and
which indexes serve it (`Attribute.indexes`). `provisioning.models` gives each resource model
the fields and indexes made here, the stores fill the columns from the document with
`columns`, and `provisioning.storage.query` compiles filters and sorts against them: a new
mirrored attribute is a line of the schema table and a migration.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower

from ..scim.schema import Index, Mirror, ResourceType, Type

# The field of a mirror column, by the attribute's type (a multi-valued attribute's by its
# `value`'s: its column holds its main value).
_FIELDS = {
    Type.STRING: models.TextField,
    Type.REFERENCE: models.TextField,
    Type.BOOLEAN: models.BooleanField,
}


def attribute_path(mirror: Mirror) -> str:
    """Return the path of a mirrored attribute as filters write it: `name.givenName`, or
    `urn:...:employeeNumber` for an extension's."""
    first, *rest = mirror.path
    if first.startswith("urn:"):
        return f"{first}:{'.'.join(rest)}"
    return ".".join(mirror.path)


def _help_text(mirror: Mirror) -> str:
    if mirror.attribute.multi_valued:
        return f"{attribute_path(mirror)}: the primary value, else the work one, else the first."
    return attribute_path(mirror)


def _field(mirror: Mirror) -> models.Field:
    attr = mirror.attribute
    value = attr.sub_attribute("value") if attr.multi_valued else attr
    field_class = _FIELDS.get(value.type) if value is not None else None
    if field_class is None:
        raise TypeError(f"No column type for '{attribute_path(mirror)}' ({attr.type}).")
    # Required at the top level: every resource has it. Else unassigned is NULL.
    optional = not (attr.required and len(mirror.path) == 1)
    return field_class(null=optional, blank=optional, help_text=_help_text(mirror))


def abstract_model(resource_type: ResourceType) -> type[models.Model]:
    """Return an abstract model with a field for each column that mirrors an attribute of
    the resource type's own schemas (the common ones, `externalId` and `meta`, are fields of
    `ProvisionedResource`)."""
    attrs: dict = {
        "__module__": "provisioning.models",
        "Meta": type("Meta", (), {"abstract": True}),
    }
    for mirror in resource_type.mirrors:
        if mirror.own:
            attrs[mirror.column] = _field(mirror)
    return type(f"{resource_type.name}Mirrors", (models.Model,), attrs)


def indexes(resource_type: ResourceType, prefix: str) -> list[models.Index]:
    """Return the indexes the schema table declares on the resource type's columns, named
    `{prefix}_{column}` (`_ci` when on lower(column), `_sort` when it ends with the list
    order, `_trgm` for trigram indexes)."""
    found: list[models.Index] = []
    for mirror in resource_type.mirrors:
        attr, column = mirror.attribute, mirror.column
        for index in attr.indexes:
            if index is Index.SUBSTRING:
                found.append(
                    GinIndex(
                        OpClass(Lower(column), name="gin_trgm_ops"),
                        name=f"{prefix}_{column}_trgm",
                    )
                )
            elif index is Index.SORTED:
                key = Lower(column) if lowered(attr) else F(column)
                found.append(
                    models.Index(
                        F("tenant"), key, F("created"), F("id"), name=f"{prefix}_{column}_sort"
                    )
                )
            elif lowered(attr):
                found.append(models.Index("tenant", Lower(column), name=f"{prefix}_{column}_ci"))
            else:
                found.append(models.Index(fields=["tenant", column], name=f"{prefix}_{column}"))
    return found


def lowered(attr) -> bool:
    """Return whether the attribute compares case-insensitively, through lower() (RFC 7643
    §2.2 caseExact); its lookup index is on lower(column) then."""
    value = attr.sub_attribute("value") if attr.multi_valued else attr
    return value.type in (Type.STRING, Type.REFERENCE) and not value.case_exact


def written(resource_type: ResourceType) -> tuple[Mirror, ...]:
    """Return the mirrors a write fills from the document (the server sets `id` and `meta`)."""
    return tuple(mirror for mirror in resource_type.mirrors if mirror.written_by_client)


def columns(mirrors: tuple[Mirror, ...], document: dict) -> dict:
    """Return the values of the columns of `mirrors` for `document`."""
    return {mirror.column: mirror.value(document) for mirror in mirrors}
