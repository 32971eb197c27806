"""Reading resources from request bodies and writing them into responses.

`parse_resource` turns a POST or PUT body into the canonical document the server stores:
attribute names in the schema's spelling, values checked against the schema table's types,
read-only and unknown attributes dropped. `render_resource` turns a stored document back into
the SCIM representation.

Reading takes the connection's `leniencies` (`dialect.py`): without one, the body is read as
RFC 7643 writes it; Entra's string booleans, bare-string and empty `value`s and extra schema
URIs (docs/entra.md) are each read only when their leniency is given.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dialect import NO_LENIENCY, Leniency
from .errors import InvalidSyntax, InvalidValue
from .schema import COMMON_ATTRIBUTES, Attribute, ResourceType, Schema, Type
from .schema import Mutability as Mut

# Attributes a client sends but the server owns (RFC 7643 §3.1, §4.1.2 `groups`): ignored on
# input, as RFC 7644 §3.5.1 says of read-only attributes in a replacement.
_EXTERNAL_ID = COMMON_ATTRIBUTES["externalid"]


def parse_resource(
    body: Any, resource_type: ResourceType, leniencies: frozenset[Leniency] = NO_LENIENCY
) -> dict:
    """Return the canonical document for a POST or PUT body of `resource_type`.

    The document holds `externalId`, the core schema's attributes, and one object per schema
    extension keyed by its URN. Values that are `null` or empty are unassigned (RFC 7643 §2.5)
    and left out. `password` is write-only: it is checked, then not kept.
    """
    if not isinstance(body, Mapping):
        raise InvalidSyntax("The request body must be a JSON object.")
    _check_schemas(_member(body, "schemas"), resource_type, leniencies)

    document: dict = {}
    seen: set[str] = set()
    for key, value in body.items():
        lowered = key.lower()
        if lowered in seen:
            raise InvalidSyntax(f"Attribute '{key}' appears more than once.")
        seen.add(lowered)
        extension = resource_type.extension(key)
        if extension is not None:
            parsed = _parse_extension(extension, value, leniencies)
            if parsed:
                document[extension.id] = parsed
            continue
        attr = _EXTERNAL_ID if lowered == "externalid" else resource_type.schema.attribute(key)
        if attr is None:
            continue  # schemas, id, meta and attributes the server does not know
        parsed = parse_value(attr, value, attr.name, leniencies)
        if parsed is not None and is_stored(attr):
            document[attr.name] = parsed

    for attr in resource_type.schema.attributes:
        if attr.required and document.get(attr.name) in (None, ""):
            raise InvalidValue(f"Attribute '{attr.name}' is required and must not be empty.")
    return _ordered(document, resource_type)


@dataclass(frozen=True)
class Meta:
    """The server-owned facts about a stored resource (RFC 7643 §3.1 `meta`)."""

    created: dt.datetime
    last_modified: dt.datetime
    version: int
    location: str


def render_resource(
    resource_type: ResourceType, id: str, document: Mapping, meta: Meta, related: Mapping
) -> dict:
    """Return the SCIM representation of a stored resource (RFC 7643 §3).

    `related` holds the attributes kept as rows rather than in the document, already
    rendered: a group's `members`, a user's `groups`.
    """
    schemas = [resource_type.schema.id]
    schemas.extend(ext.schema.id for ext in resource_type.extensions if ext.schema.id in document)
    resource = {"schemas": schemas, "id": id, **document, **related}
    resource["meta"] = {
        "resourceType": resource_type.name,
        "created": format_datetime(meta.created),
        "lastModified": format_datetime(meta.last_modified),
        "location": meta.location,
        "version": format_version(meta.version),
    }
    return resource


def render_references(base: str, related: Mapping) -> dict:
    """Return related resources (a group's members, a user's groups) as SCIM references."""
    return {
        name: [render_reference(base, member) for member in members]
        for name, members in related.items()
    }


def render_reference(base: str, member) -> dict:
    """Return the reference to the resource `member` (its `id`, `endpoint`, `display` and
    `type`) under the service root `base`: `value`, `$ref`, `display` when it has one, `type`."""
    reference = {"value": str(member.id), "$ref": f"{base}{member.endpoint}/{member.id}"}
    if member.display:
        reference["display"] = member.display
    reference["type"] = member.type
    return reference


def format_datetime(value: dt.datetime) -> str:
    """Return `value` as an RFC 3339 date-time in UTC with a `Z` suffix."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_id(text: Any) -> uuid.UUID | None:
    """Return the resource id `text` names, or None when it names no resource.

    RFC 7643 §3.1: `id` is caseExact. This server issues ids as lower-case hyphenated UUIDs,
    so only that spelling names a resource; `A1B2...`, braces or a `urn:uuid:` prefix name
    nothing, as any other string would.
    """
    if not isinstance(text, str) or _CANONICAL_ID(text) is None:
        return None
    return uuid.UUID(text)


# The one spelling `str(uuid.UUID(...))` gives: a cheaper check of a member id, sent by the
# thousand in a Bulk, than parsing it and comparing it with its own spelling.
_CANONICAL_ID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def format_version(version: int) -> str:
    """Return `version` as a weak entity tag (RFC 7644 §3.14)."""
    return f'W/"{version}"'


ANY = "*"


def entity_tags(value: str | None) -> frozenset[int] | str | None:
    """Return the versions an If-Match/If-None-Match value names, `ANY` for `*`, or None for
    no value (a Bulk operation's `version` is read alike, RFC 7644 §3.7).

    Tags are compared weakly: `W/"3"` and `"3"` both name version 3 (RFC 7232 §2.3.2). A tag
    this server did not issue names no version.
    """
    if value is None:
        return None
    if value.strip() == ANY:
        return ANY
    versions = set()
    for tag in value.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag.isascii() and tag.isdigit() and len(tag) <= 19:  # the versions this server issues
            versions.add(int(tag))
    return frozenset(versions)


def expected_versions(value: str | None) -> frozenset[int] | None:
    """Return the versions an If-Match value allows a write to, or None when any will do."""
    tags = entity_tags(value)
    return None if tags in (None, ANY) else tags


def _member(body: Mapping, key: str) -> Any:
    """Return the member `key` of `body`; attribute names are case-insensitive (RFC 7643 §2.1)."""
    for name, value in body.items():
        if name.lower() == key:
            return value
    return None


def _check_schemas(
    schemas: Any, resource_type: ResourceType, leniencies: frozenset[Leniency]
) -> None:
    """Require the core schema URN in `schemas` (RFC 7643 §3), and no URN but the resource
    type's own schemas unless EXTRA_SCHEMAS allows them (Entra sends an extra, unpublished
    schema URI on Groups)."""
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidSyntax(
            f"'schemas' must be a list of schema URIs including '{resource_type.schema.id}'."
        )
    if resource_type.schema.id.lower() not in (s.lower() for s in schemas):
        raise InvalidSyntax(f"'schemas' must include '{resource_type.schema.id}'.")
    if Leniency.EXTRA_SCHEMAS not in leniencies:
        for urn in schemas:
            if resource_type.schema_for(urn) is None:
                raise InvalidSyntax(f"'{urn}' is not a schema of {resource_type.name}.")


def _parse_extension(schema: Schema, value: Any, leniencies: frozenset[Leniency]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"Schema extension '{schema.id}' must be a JSON object.")
    return _parse_object(schema.attributes, schema.attribute, value, schema.id, leniencies)


def _parse_object(
    attributes, lookup, value: Mapping, where: str, leniencies: frozenset[Leniency]
) -> dict:
    """Return the known, writable members of a JSON object in the schema's order."""
    parsed: dict = {}
    for key, member in value.items():
        attr = lookup(key)
        if attr is None:
            continue
        if attr.name in parsed:
            raise InvalidSyntax(f"Attribute '{where}.{key}' appears more than once.")
        result = parse_value(attr, member, f"{where}.{attr.name}", leniencies)
        if result is not None and is_stored(attr):
            parsed[attr.name] = result
    return {a.name: parsed[a.name] for a in attributes if a.name in parsed}


def is_stored(attr: Attribute) -> bool:
    """Return whether values of `attr` are kept in the canonical document.

    Read-only values belong to the server; write-only ones are accepted and not stored.
    """
    return attr.mutability not in (Mut.READ_ONLY, Mut.WRITE_ONLY)


def parse_value(
    attr: Attribute,
    value: Any,
    where: str | None = None,
    leniencies: frozenset[Leniency] = NO_LENIENCY,
) -> Any:
    """Return `value` checked and normalised for `attr`, or None when it is unassigned: null,
    an empty array, or a complex value with no stored member. PATCH (`patch.py`) reads
    operation values through this too, so a PATCH stores exactly what a POST would."""
    where = where or attr.name
    if value is None:
        return None
    if attr.multi_valued:
        if not isinstance(value, list):
            raise InvalidValue(f"Attribute '{where}' is multi-valued and must be a JSON array.")
        if attr.max_values is not None and len(value) > attr.max_values:
            raise InvalidValue(f"Attribute '{where}' may hold at most {attr.max_values} values.")
        items = [parse_element(attr, item, where, leniencies) for item in value]
        items = [item for item in items if item is not None]
        if attr.is_complex and sum(1 for i in items if i.get("primary") is True) > 1:
            # RFC 7643 §2.4: the primary attribute value 'true' MUST appear no more than once.
            raise InvalidValue(f"Attribute '{where}' has more than one primary value.")
        return items or None
    return parse_element(attr, value, where, leniencies)


def parse_element(
    attr: Attribute,
    value: Any,
    where: str | None = None,
    leniencies: frozenset[Leniency] = NO_LENIENCY,
) -> Any:
    """Return one value of `attr` (one element when `attr` is multi-valued), or None."""
    where = where or attr.name
    if value is None:
        return None
    if attr.is_complex:
        if (
            isinstance(value, str)
            and Leniency.BARE_VALUES in leniencies
            and attr.sub_attribute("value") is not None
        ):
            # Entra sends `manager` as a bare id: read it as {"value": ...}, checked as that
            # object is.
            value = {"value": value}
        if not isinstance(value, Mapping):
            raise InvalidValue(f"Attribute '{where}' must be a JSON object.")
        parsed = _parse_object(attr.sub_attributes, attr.sub_attribute, value, where, leniencies)
        if parsed.get("value") == "":
            # Entra clears `manager` with "" or {"value": ""}; RFC 7643 §2.5 with null.
            if Leniency.EMPTY_VALUE_UNASSIGNS not in leniencies:
                raise InvalidValue(
                    f"'{where}.value' is empty: unassign '{where}' with null (RFC 7643 §2.5)."
                )
            del parsed["value"]
        for sub in attr.sub_attributes:
            if sub.required and sub.name not in parsed:
                raise InvalidValue(f"Each value of '{where}' needs '{sub.name}'.")
        return parsed or None
    return coerce_scalar(attr, value, where, leniencies)


def coerce_scalar(
    attr: Attribute,
    value: Any,
    where: str | None = None,
    leniencies: frozenset[Leniency] = NO_LENIENCY,
) -> Any:
    """Return a simple (non-complex) value checked against `attr`'s type (RFC 7643 §2.3).

    With STRING_BOOLEANS, booleans sent as the strings "True"/"False" (Entra's PATCH
    dialect) are read as booleans.
    """
    where = where or attr.name
    kind = attr.type
    if kind is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        if (
            isinstance(value, str)
            and Leniency.STRING_BOOLEANS in leniencies
            and value.lower() in ("true", "false")
        ):
            return value.lower() == "true"
        raise InvalidValue(f"Attribute '{where}' must be a boolean.")
    if kind is Type.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"Attribute '{where}' must be an integer.")
    if kind is Type.DECIMAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"Attribute '{where}' must be a number.")
    if not isinstance(value, str):
        raise InvalidValue(f"Attribute '{where}' must be a string.")
    if attr.max_length is not None and len(value) > attr.max_length:
        raise InvalidValue(f"Attribute '{where}' is longer than {attr.max_length} characters.")
    if not storable(value):
        # PostgreSQL text cannot hold NUL, and UTF-8 cannot encode a lone surrogate.
        raise InvalidValue(f"Attribute '{where}' contains a NUL character or a lone surrogate.")
    if kind is Type.DATETIME and parse_datetime(value) is None:
        raise InvalidValue(
            f"Attribute '{where}' must be an xsd:dateTime, e.g. 2024-01-31T12:00:00Z."
        )
    if kind is Type.BINARY:
        try:
            base64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text, which is no base64 either
            raise InvalidValue(f"Attribute '{where}' must be base64-encoded.") from None
    return value


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Return whether PostgreSQL can store `text`: no NUL, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def parse_datetime(value: str) -> dt.datetime | None:
    """Return the instant an xsd:dateTime string names, or None when it is not one.

    A date-time without a zone offset is read as UTC. The instant is returned in UTC: PostgreSQL
    accepts offsets up to ±15:59 only, and an instant near the ends of the calendar that does
    not fit once moved to UTC is no date-time this server can store.
    """
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if "T" not in value.upper():
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        return None


def _ordered(document: dict, resource_type: ResourceType) -> dict:
    """Return `document` with its attributes in the schema table's order."""
    order = [_EXTERNAL_ID.name, *(a.name for a in resource_type.schema.attributes)]
    order.extend(ext.schema.id for ext in resource_type.extensions)
    return {name: document[name] for name in order if name in document}
