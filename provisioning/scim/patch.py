"""Apply a PATCH request (RFC 7644 §3.5.2) to a stored canonical document.

`apply_patch` reads the PatchOp body, applies its operations in order to a working copy of the
document that `parse_resource` produced, and returns the new document together with the changes
to multi-valued attributes stored as rows (Group `members`), which it never materialises. It is
pure: no database, no Django; the storage layer persists the result. A body that only adds
members, in the shape the IdPs send them, is read by a shortcut (`_member_adds`) that gives
exactly the general reader's result; every other body, and every body in error, takes the
general reader.

RFC 7644 §3.5.2, the rules followed throughout:

* "The body of each request MUST contain the "schemas" attribute with the URI value of
  "urn:ietf:params:scim:api:messages:2.0:PatchOp"."
* "The body of an HTTP PATCH request MUST contain the attribute "Operations", whose value is an
  array of one or more PATCH operations. Each PATCH operation object MUST have exactly one "op"
  member, whose value indicates the operation to perform and MAY be one of "add", "remove", or
  "replace"."
* "Each operation against an attribute MUST be compatible with the attribute's mutability and
  schema ... a client MUST NOT modify an attribute that has mutability "readOnly" or
  "immutable". However, a client MAY "add" a value to an "immutable" attribute if the attribute
  had no previous value."
* "Operations are applied sequentially in the order they appear in the array. Each operation in
  the sequence is applied to the target resource; the resulting resource becomes the target of
  the next operation."
* "A patch request, regardless of the number of operations, SHALL be treated as atomic. If a
  single operation encounters an error condition, the original SCIM resource MUST be restored,
  and a failure status SHALL be returned." Here: the input is never touched, and the first error
  propagates as a `SCIMError`, so the caller stores nothing.

Error codes (RFC 7644 §3.12, Table 9): a body that does not conform to the PatchOp message
(not an object, no PatchOp URN, `Operations` missing, not an array or empty, an operation that is
not an object, an `op` other than add/remove/replace, a `path` that is not a string) is
``invalidSyntax``: "The request body message structure was invalid or did not conform to the
request schema." A missing `value` for add or replace is ``invalidValue``: "A required value was
missing". A malformed filter inside a path, or a filter naming an unknown sub-attribute, is
``invalidFilter``, which Table 9 lists for "PATCH (Path Filter)". Value filters are checked and
evaluated as every filter is (`filtering.py`).

Decisions, each taken where the RFC is silent:

* The member names of the body and of each operation are case-insensitive (RFC 7643 §2.1). A
  `path` of ``""`` counts as no path.
* Values are read exactly as `parse_resource` reads a POST body (`parse_value`); read-only
  members inside a value (`display` of a member, `manager.displayName`) are dropped, as RFC
  7644 §3.5.1 does for PUT. A ``null`` value in add or replace unassigns the target (RFC 7643
  §2.5).
* Without a path, the keys of `value` name attributes applied one by one: attribute names and
  extension URNs holding an object. Keys naming `schemas` or nothing the server knows are
  ignored, as `parse_resource` ignores them. With an explicit `path`, an unknown attribute is
  ``invalidPath`` and a read-only one ``mutability``.
* A path naming a whole extension (``urn:...:enterprise:2.0:User``) targets the extension object:
  add and replace apply each attribute of `value` in turn (RFC 7644 §3.5.2.3: sub-attributes "not
  specified in the "value" parameter are left unchanged"), remove unassigns the extension.
* Adding a value that is already present changes nothing (RFC 7644 §3.5.2.1: "If the target
  location already contains the value specified, no changes SHOULD be made"), which JumpCloud
  relies on when it repeats adds. Removing by a filter that matches nothing succeeds and changes
  nothing.
* A value written with ``primary: true`` resets `primary` to false on the other values (RFC 7643
  §2.4, and RFC 7644 §3.5.2.3's example: "by setting "primary" to "true", the service provider
  will reset "primary" to "false" for any other existing values").
* A sub-attribute path on a multi-valued attribute without a filter (``emails.value``) targets
  every value; when there is none, add and replace create one.
* After the last operation the document is run through `parse_resource`, so a PATCH can never
  store what a POST would refuse (types, `primary` at most once). A required attribute left
  unassigned is ``mutability``, per RFC 7644 §3.5.2.2: "If an attribute is removed or becomes
  unassigned and is defined as a required attribute or a read-only attribute, the server SHALL
  return ... a "scimType" error code of "mutability"." An immutable attribute whose stored value
  changed is ``mutability`` too.

The IdPs' departures from the RFC are read only when the connection's `leniencies` (see
`dialect.py`, docs/dialects.md, docs/entra.md, docs/okta.md) include them; without them, each
gets the RFC's answer:

* CAPITALISED_OPS: `op` in any case (Entra's ``Add``, ``Replace``, ``Remove``); else
  ``invalidSyntax``.
* STRING_BOOLEANS, BARE_VALUES, EMPTY_VALUE_UNASSIGNS: in values, as `parse_resource` reads
  them (Entra's ``"False"``, a bare-string `manager` id, ``""`` or ``{"value": ""}`` to clear it).
* PATH_KEYS: the keys of a path-less value may be attribute paths, resolved as an explicit
  `path` is (Entra's ``aadOptscim062020`` sends ``"name.givenName"`` and
  ``"urn:...:enterprise:2.0:User:employeeNumber"``); else such a key is ``invalidPath``.
* READ_ONLY_KEYS: a key naming a read-only attribute is ignored (Okta sends `id` with a group
  rename); else ``mutability``.
* FILTERED_UPSERT: a filtered add or replace that matches nothing creates the element; see
  `_add_or_replace`.
* REMOVE_BY_VALUE: Entra removes members with ``{"op": "Remove", "path": "members", "value":
  [{"value": id}]}``: a remove whose path has no filter but which carries a `value` removes
  only the values equal on their `value` sub-attribute (or, without one, equal as a whole). An
  empty array removes nothing; only a remove without a `value` (or with ``null``) removes all
  values. Without the leniency such a remove is ``invalidSyntax``: RFC 7644 defines no `value`
  for remove, and reading it as "remove every value" would empty the group.

Attributes stored as rows (`row_attributes`, the caller passes ``{"members"}`` for Groups) are
never read or written here: each operation on them becomes a `MemberChange`, in order. The engine
cannot know which members exist, so the storage layer must: check that added member ids name
resources of the tenant (``invalidValue`` otherwise), ignore adds of present members and removes
of absent ones, evaluate `value_filter` against the stored rows (a ``replace`` with a filter
swaps only the matching members for `values`; it never overwrites the whole list), and answer
``noTarget`` for a filtered replace that matches no member (RFC 7644 §3.5.2.3).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from .dialect import NO_LENIENCY, Leniency
from .errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
)
from .filter import (
    And,
    Compare,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    parse_patch_path,
)
from .filtering import (
    check_value_filter,
    matches_value,
    value_attribute,
    value_string_booleans,
)
from .resource import (
    coerce_scalar,
    is_stored,
    parse_element,
    parse_resource,
    parse_value,
    storable,
)
from .schema import COMMON_ATTRIBUTES, Attribute, ResourceType, Schema, Type
from .schema import Mutability as Mut

__all__ = ["PATCH_OP_URN", "MemberChange", "PatchResult", "apply_patch"]

PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = 1000

_OPS = ("add", "remove", "replace")


# The paths IdPs send are few (`members`, `active`, `emails[type eq "work"].value`) and each is
# sent again and again, by every PATCH and by every operation of a Bulk: each is parsed once.
# The parsed paths are frozen; a path that does not parse raises, and is not kept.
_parsed_path = functools.lru_cache(maxsize=1024)(parse_patch_path)


@dataclass(frozen=True)
class MemberChange:
    """A change to a multi-valued attribute stored as rows (Group `members`).

    `values` are member objects as parsed, ``{"value": id, "type"?: "User" | "Group"}``; `display`
    (read-only) and `$ref` (derived from the id) are dropped. `value_filter` selects members by
    their `value` and `type` sub-attributes. ``op="remove"`` with neither values nor a filter
    removes every member; ``op="replace"`` without a filter overwrites the members with exactly
    `values`; with a filter it replaces the matching members by `values`.
    """

    op: Literal["add", "remove", "replace"]
    values: tuple[dict, ...] = ()
    value_filter: Filter | None = None


@dataclass(frozen=True)
class PatchResult:
    """The outcome of a PATCH: the new document and the changes to row-stored attributes.

    `document` is a new object, or the input itself when the body only changed row-stored
    attributes; either way the input is never changed. Something may have changed when
    `document` differs from the input or `member_changes` is not empty.
    """

    document: dict
    member_changes: tuple[MemberChange, ...]


@dataclass(frozen=True)
class _Operation:
    """One entry of `Operations`, checked for structure."""

    op: str  # lowercase
    path: str | None
    value: Any
    has_value: bool


@dataclass(frozen=True)
class _Target:
    """Where an operation applies, resolved against the schema table.

    `extension` is the extension schema holding the attribute (None for the core schema and the
    common attributes). `attr` is None when the target is the whole extension.
    """

    extension: Schema | None
    attr: Attribute | None
    sub: Attribute | None = None
    value_filter: Filter | None = None

    @property
    def where(self) -> str:
        """Return the target as an attribute path, for error details."""
        if self.attr is None:
            return self.extension.id
        text = self.attr.name if self.extension is None else f"{self.extension.id}:{self.attr.name}"
        if self.value_filter is not None:
            text += "[...]"
        return f"{text}.{self.sub.name}" if self.sub is not None else text


def apply_patch(
    resource_type: ResourceType,
    document: dict,
    body: Any,
    *,
    row_attributes: frozenset[str] = frozenset(),
    leniencies: frozenset[Leniency] = NO_LENIENCY,
) -> PatchResult:
    """Return the result of applying the PATCH request `body` to the canonical `document`.

    `row_attributes` names the attributes the caller stores as rows; operations on them become
    `MemberChange`s. `leniencies` are the IdP departures from the RFC to read (none: the
    letter of RFC 7644). Raise a `SCIMError` on the first operation that fails: RFC 7644
    §3.5.2 makes the request atomic, so the caller then stores nothing.
    """
    added = _member_adds(resource_type, body, row_attributes, leniencies)
    if added is not None:
        return PatchResult(document, added)
    return _apply_operations(resource_type, document, body, row_attributes, leniencies)


def _apply_operations(
    resource_type: ResourceType,
    document: dict,
    body: Any,
    row_attributes: frozenset[str],
    leniencies: frozenset[Leniency],
) -> PatchResult:
    """Return the result of any PATCH body: `apply_patch`'s general reader."""
    operations = _read_body(body, leniencies)
    patcher = _Patcher(resource_type, copy.deepcopy(document), row_attributes, leniencies)
    for operation in operations:
        patcher.apply(operation)
    result = _validated(resource_type, document, patcher.document, row_attributes, leniencies)
    return PatchResult(result, tuple(patcher.member_changes))


# --- The request body ----------------------------------------------------------------------------


def _member_adds(
    resource_type: ResourceType,
    body: Any,
    row_attributes: frozenset[str],
    leniencies: frozenset[Leniency],
) -> tuple[MemberChange, ...] | None:
    """Return the member changes of a body that only adds members in the shape the IdPs send,
    or None for any other body, which the general reader then reads.

    The shape: ``{"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members",
    "value": [{"value": id}, ...]}, ...]}``, each value with `display` (Okta) or `type` too,
    `op` as Entra writes it (``Add``) when CAPITALISED_OPS allows it. Every name is spelt
    exactly so, and every value is a non-empty string that `coerce_scalar` would take as it
    is. Such a body changes no attribute of the document, and the general reader would
    return exactly these changes: a Bulk of a thousand one-member adds reads a thousand of
    them, and the general reader cost about nine tenths of that reading.
    """
    if not row_attributes or type(body) is not dict or len(body) != 2:
        return None
    if body.get("schemas") != [PATCH_OP_URN]:
        return None
    operations = body.get("Operations")
    if type(operations) is not list or not 0 < len(operations) <= MAX_OPERATIONS:
        return None
    shapes = _member_shapes(resource_type, row_attributes)
    changes = []
    for operation in operations:
        if type(operation) is not dict or len(operation) != 3:
            return None
        op, path, values = operation.get("op"), operation.get("path"), operation.get("value")
        if op != "add" and not (
            Leniency.CAPITALISED_OPS in leniencies and type(op) is str and op.lower() == "add"
        ):
            return None
        shape = shapes.get(path) if type(path) is str else None
        if shape is None or type(values) is not list:
            return None
        members = _plain_members(shape, values)
        if members is None:
            return None
        if members:
            changes.append(MemberChange("add", members))
    return tuple(changes)


@dataclass(frozen=True)
class _MemberShape:
    """What `_plain_members` accepts in the values of a row-stored attribute: sub-attributes
    of type string, by name, with their `max_length`; the stored ones in the schema's order
    (`value` first); the required ones."""

    attr: Attribute
    strings: dict[str, int | None]
    stored: tuple[str, ...]
    required: frozenset[str]


@functools.cache
def _member_shapes(
    resource_type: ResourceType, row_attributes: frozenset[str]
) -> dict[str, _MemberShape]:
    """Return the shape of each of `row_attributes`, by its name as the schema spells it."""
    rows = {name.lower() for name in row_attributes}
    shapes = {}
    for attr in resource_type.schema.attributes:
        if attr.name.lower() in rows and attr.is_complex and not attr.is_read_only:
            subs = [sub for sub in attr.sub_attributes if sub.type is Type.STRING]
            strings = {sub.name: sub.max_length for sub in subs}
            stored = tuple(sub.name for sub in subs if is_stored(sub))
            required = frozenset(sub.name for sub in attr.sub_attributes if sub.required)
            shapes[attr.name] = _MemberShape(attr, strings, stored, required)
    return shapes


def _plain_members(shape: _MemberShape, values: list) -> tuple[dict, ...] | None:
    """Return `values` as `_member_values` reads them, or None unless each is an object of
    non-empty strings that `coerce_scalar` takes, named exactly as string sub-attributes, with
    each required one."""
    limit = shape.attr.max_values
    if limit is not None and len(values) > limit:
        return None
    strings, stored, required = shape.strings, shape.stored, shape.required
    members: dict[str, dict] = {}
    for item in values:
        if type(item) is not dict:
            return None
        for name, text in item.items():
            if name not in strings or type(text) is not str or not text:
                return None
            # What `coerce_scalar` checks of a string, without its call for each.
            length = strings[name]
            if (length is not None and len(text) > length) or not storable(text):
                return None
        if not required <= item.keys():
            return None
        member = {name: item[name] for name in stored if name in item}
        members.setdefault(member["value"], member)
    return tuple(members.values())


def _read_body(body: Any, leniencies: frozenset[Leniency]) -> list[_Operation]:
    """Return the operations of a PatchOp message (RFC 7644 §3.5.2), checked for structure."""
    if not isinstance(body, Mapping):
        raise InvalidSyntax("The request body must be a JSON object.")
    members = object_members(body, "request body")
    schemas = members.get("schemas")
    if not isinstance(schemas, list) or PATCH_OP_URN.lower() not in (
        s.lower() for s in schemas if isinstance(s, str)
    ):
        raise InvalidSyntax(f"'schemas' must be a list that includes '{PATCH_OP_URN}'.")
    operations = members.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be an array of one or more PATCH operations.")
    if len(operations) > MAX_OPERATIONS:
        # IdPs send one operation per attribute, or one per batch of members: a few dozen.
        raise InvalidValue(f"A PATCH may hold at most {MAX_OPERATIONS} operations.")
    return [_read_operation(item, index, leniencies) for index, item in enumerate(operations)]


def _read_operation(item: Any, index: int, leniencies: frozenset[Leniency]) -> _Operation:
    where = f"Operations[{index}]"
    if not isinstance(item, Mapping):
        raise InvalidSyntax(f"'{where}' must be a JSON object.")
    members = object_members(item, where)
    op = members.get("op")
    if isinstance(op, str) and Leniency.CAPITALISED_OPS in leniencies:
        op = op.lower()
    if op not in _OPS:
        raise InvalidSyntax(f"'{where}.op' must be one of 'add', 'remove' or 'replace'.")
    path = members.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidSyntax(f"'{where}.path' must be a string.")
    if path is not None and not path.strip():
        path = None
    has_value = "value" in members
    if op != "remove" and not has_value:
        # RFC 7644 §3.5.2.1 and §3.5.2.3: the operation MUST contain a "value" member.
        raise InvalidValue(f"'{where}' ({op}) must contain a 'value'.")
    return _Operation(op, path, members.get("value"), has_value)


def object_members(obj: Mapping, where: str) -> dict[str, Any]:
    """Return the members of `obj` keyed by lowercase name; names are case-insensitive."""
    members: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = key.lower()
        if lowered in members:
            raise InvalidSyntax(f"'{key}' appears more than once in {where}.")
        members[lowered] = value
    return members


# --- Applying operations -------------------------------------------------------------------------


class _Patcher:
    """Apply operations one after another to `document`, a working copy."""

    def __init__(
        self,
        resource_type: ResourceType,
        document: dict,
        row_attributes: frozenset[str],
        leniencies: frozenset[Leniency],
    ) -> None:
        self.resource_type = resource_type
        self.document = document
        self.row_attributes = frozenset(name.lower() for name in row_attributes)
        self.leniencies = leniencies
        self.member_changes: list[MemberChange] = []

    def apply(self, operation: _Operation) -> None:
        """Apply one operation to the working copy."""
        if operation.path is None:
            if operation.op == "remove":
                # RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with HTTP
                # status code 400 and a "scimType" error code of "noTarget"."
                raise NoTarget("A 'remove' operation needs a 'path'.")
            # RFC 7644 §3.5.2.1: "If omitted, the target location is assumed to be the resource
            # itself. The "value" parameter contains a set of attributes to be added to the
            # resource." §3.5.2.3: "the "value" attribute SHALL contain a list of one or more
            # attributes that are to be replaced."
            self._apply_object(operation.op, operation.value, extension=None)
            return
        target = self._resolve(_parsed_path(operation.path))
        self._apply(operation.op, target, operation.value, operation.has_value)

    # Resolution

    def _resolve(self, patch_path: PatchPath) -> _Target:
        """Return the target of a PATCH path (RFC 7644 §3.5.2, Figure 7).

        Raise `InvalidPath` for attributes the schema table does not know, a sub-attribute of a
        simple attribute and a value filter on a singular attribute; `InvalidFilter` for a
        value filter naming unknown sub-attributes; `Mutability` for read-only targets (RFC
        7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability "readOnly"").
        """
        rt = self.resource_type
        path = patch_path.path
        if (
            path.schema is not None
            and path.sub_attr is None
            and patch_path.value_filter is None
            and patch_path.sub_attr is None
        ):
            # A URN-only path parses as schema + last segment (see `AttrPath`).
            whole = rt.schema_for(str(path))
            if whole is rt.schema:
                raise InvalidPath(f"'{path}' names the core schema: omit 'path' instead.")
            if whole is not None:
                return _Target(whole, None)
        if path.attr.lower() == "schemas" and (
            path.schema is None or rt.schema_for(path.schema) is rt.schema
        ):
            raise Mutability("'schemas' follows the resource's extensions and cannot be patched.")
        found = rt.resolve(path.attr, path.schema)
        if found is None:
            raise InvalidPath(f"Unknown attribute '{path}'.")
        schema, attr = found
        extension = None if schema is rt.schema else schema
        sub_name = path.sub_attr or patch_path.sub_attr
        sub = None
        if sub_name is not None:
            if not attr.is_complex:
                raise InvalidPath(f"'{attr.name}' is not complex: it has no '{sub_name}'.")
            sub = attr.sub_attribute(sub_name)
            if sub is None:
                raise InvalidPath(f"Unknown attribute '{attr.name}.{sub_name}'.")
        if patch_path.value_filter is not None:
            if not (attr.multi_valued and attr.is_complex):
                raise InvalidPath(
                    f"'{attr.name}' is not a multi-valued complex attribute: it takes no filter."
                )
            value_filter = patch_path.value_filter
            if Leniency.STRING_BOOLEANS in self.leniencies:
                value_filter = value_string_booleans(value_filter, attr)
            check_value_filter(value_filter, attr)
            patch_path = replace(patch_path, value_filter=value_filter)
        target = _Target(extension, attr, sub, patch_path.value_filter)
        if attr.is_read_only or (sub is not None and sub.is_read_only):
            raise Mutability(f"'{target.where}' is read-only.")
        return target

    def _resolve_key(self, key: str, extension: Schema | None) -> _Target | None:
        """Return the target a key of a no-path (or whole-extension) value names, or None.

        Keys are attribute names. With PATH_KEYS they may be attribute paths, resolved as an
        explicit `path` is (Entra sends ``"name.givenName"`` and URN-qualified keys); without
        it such a key is ``invalidPath``. None means the key is ignored: `schemas` and anything
        the schema table does not know, as `parse_resource` ignores them in a POST body, and
        read-only attributes with READ_ONLY_KEYS (``mutability`` without it). Inside a
        whole-extension value, unqualified keys name that extension's attributes.
        """
        rt = self.resource_type
        if key.lower() == "schemas":
            return None
        if extension is None:
            whole = rt.extension(key)
            if whole is not None:
                return _Target(whole, None)
        try:
            patch_path = parse_patch_path(key)
        except (InvalidPath, InvalidFilter):
            return None
        path = patch_path.path
        if Leniency.PATH_KEYS not in self.leniencies and (
            path.schema is not None
            or path.sub_attr is not None
            or patch_path.value_filter is not None
            or patch_path.sub_attr is not None
        ):
            raise InvalidPath(
                f"'{key}' is an attribute path: a value without 'path' holds attributes by name "
                "(RFC 7644 §3.5.2.3); send the path as the operation's 'path'."
            )
        if extension is not None:
            if path.schema is None:
                patch_path = replace(patch_path, path=replace(path, schema=extension.id))
            elif rt.schema_for(path.schema) is not extension:
                return None
        try:
            return self._resolve(patch_path)
        except InvalidPath:
            return None
        except Mutability:
            if Leniency.READ_ONLY_KEYS in self.leniencies:
                return None
            raise

    # Dispatch

    def _apply_object(self, op: str, value: Any, extension: Schema | None) -> None:
        """Apply `op` to each attribute named by a key of the object `value`."""
        if value is None and extension is not None:
            self.document.pop(extension.id, None)  # null unassigns (RFC 7643 §2.5)
            return
        if not isinstance(value, Mapping):
            where = "the resource" if extension is None else f"'{extension.id}'"
            raise InvalidValue(f"A '{op}' of {where} needs a JSON object of attributes.")
        seen: set[str] = set()
        for key, member in value.items():
            if key.lower() in seen:
                raise InvalidSyntax(f"Attribute '{key}' appears more than once in the value.")
            seen.add(key.lower())
            target = self._resolve_key(key, extension)
            if target is not None:
                self._apply(op, target, member, has_value=True)

    def _apply(self, op: str, target: _Target, value: Any, has_value: bool) -> None:
        attr = target.attr
        if attr is None:
            if op == "remove":
                self.document.pop(target.extension.id, None)
            else:
                self._apply_object(op, value, target.extension)
            return
        if target.extension is None and attr.name.lower() in self.row_attributes:
            self.member_changes.extend(self._member_changes(op, target, value, has_value))
            return
        leaf = target.sub or attr
        if leaf.mutability is Mut.WRITE_ONLY:
            # RFC 7643 §2.2 writeOnly (`password`): checked, then not stored.
            if op != "remove" and value is not None:
                if target.sub is None:
                    parse_value(attr, value, target.where, self.leniencies)
                else:
                    coerce_scalar(leaf, value, target.where, self.leniencies)
            return
        container = self._container(target.extension)
        if attr.multi_valued:
            self._multi_valued(op, target, container, value, has_value)
        elif target.sub is not None:
            self._sub_attribute(op, target, container, value)
        else:
            self._singular(op, target, container, value)

    def _container(self, extension: Schema | None) -> dict:
        """Return the object that holds the attributes of `extension` (or of the core schema)."""
        if extension is None:
            return self.document
        return self.document.setdefault(extension.id, {})

    # Singular attributes

    def _singular(self, op: str, target: _Target, container: dict, value: Any) -> None:
        """Add, replace or remove a singular attribute.

        RFC 7644 §3.5.2.1: "If the target location specifies a single-valued attribute, the
        existing value is replaced." §3.5.2.3: "If the target location specifies a complex
        attribute, a set of sub-attributes SHALL be specified in the "value" parameter, which
        replaces any existing values or adds where an attribute did not previously exist.
        Sub-attributes that are not specified in the "value" parameter are left unchanged."
        §3.5.2.2: "If the target location is a single-value attribute, the attribute and its
        associated value is removed, and the attribute SHALL be considered unassigned."
        """
        attr = target.attr
        if op == "remove" or _clears(attr, value, self.leniencies):
            container.pop(attr.name, None)
            return
        parsed = parse_element(attr, value, target.where, self.leniencies)
        if parsed is None:
            return  # a complex value with no writable member: nothing to merge
        if attr.is_complex:
            container[attr.name] = {**(container.get(attr.name) or {}), **parsed}
        else:
            container[attr.name] = parsed

    def _sub_attribute(self, op: str, target: _Target, container: dict, value: Any) -> None:
        """Add, replace or remove a sub-attribute of a singular complex attribute."""
        attr, sub = target.attr, target.sub
        current = container.get(attr.name) or {}
        if op == "remove" or value is None:
            # RFC 7644 §3.5.2.2: removing a sub-attribute leaves it unassigned; an emptied
            # complex attribute is unassigned too, as `parse_resource` drops empty objects.
            current.pop(sub.name, None)
            if not current:
                container.pop(attr.name, None)
            return
        container[attr.name] = {
            **current,
            sub.name: coerce_scalar(sub, value, target.where, self.leniencies),
        }

    # Multi-valued attributes

    def _multi_valued(
        self, op: str, target: _Target, container: dict, value: Any, has_value: bool
    ) -> None:
        attr = target.attr
        items: list[dict] = list(container.get(attr.name) or [])
        if op == "remove":
            items = self._remove(target, items, value, has_value)
        elif target.sub is None and target.value_filter is None:
            # RFC 7644 §3.5.2.3: "If the target location is a multi-valued attribute and no
            # filter is specified, the attribute and all values are replaced."
            new = self._parse_values(target, value)
            items = new if op == "replace" else _append(attr, items, new)
        else:
            items = self._add_or_replace(op, target, items, value)
        if items:
            container[attr.name] = items
        else:
            container.pop(attr.name, None)

    def _parse_values(self, target: _Target, value: Any) -> list:
        """Return the values of an add or replace; a single value counts as a list of one."""
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        return parse_value(target.attr, values, target.where, self.leniencies) or []

    def _remove(self, target: _Target, items: list[dict], value: Any, has_value: bool) -> list:
        """Return `items` after a remove (RFC 7644 §3.5.2.2).

        "If the target location is a multi-valued attribute and no filter is specified, the
        attribute and all values are removed, and the attribute SHALL be considered unassigned."
        "If the target location is a complex multi-valued attribute and a complex filter is
        specified based on the attribute's sub-attributes, the matching records are removed."
        A filter that matches nothing removes nothing (JumpCloud repeats removes).
        """
        attr, sub, value_filter = target.attr, target.sub, target.value_filter
        if sub is not None:
            for item in _matching(value_filter, attr, items):
                item.pop(sub.name, None)
            return [item for item in items if item]
        if value_filter is not None:
            return [item for item in items if not _matches(value_filter, item, attr)]
        if has_value and value is not None:
            self._check_remove_by_value(target)
            return _without(attr, items, self._parse_values(target, value))
        return []

    def _check_remove_by_value(self, target: _Target) -> None:
        """Refuse Entra's remove carrying the values to remove, unless REMOVE_BY_VALUE."""
        if Leniency.REMOVE_BY_VALUE not in self.leniencies:
            raise InvalidSyntax(
                f"A 'remove' takes no 'value' (RFC 7644 §3.5.2.2): select the values to remove "
                f"with a filter, e.g. '{target.attr.name}[value eq \"...\"]'."
            )

    def _add_or_replace(self, op: str, target: _Target, items: list[dict], value: Any) -> list:
        """Return `items` after an add or replace through a value filter or a sub-attribute.

        RFC 7644 §3.5.2.3: "If the target location is a multi-valued attribute and a value
        selection ("valuePath") filter is specified that matches one or more values of the
        multi-valued attribute, then all matching record values SHALL be replaced." "If the
        target location is a complex multi-valued attribute with a value selection filter
        ("valuePath") and a specific sub-attribute (e.g., "addresses[type eq "work"].
        streetAddress"), the matching sub-attribute of all matching records is replaced." An
        add through a filter merges `value` into the matching records.

        When no record matches, RFC 7644 §3.5.2.3 says: "the service provider SHALL indicate
        failure by returning HTTP status code 400 and a "scimType" error code of "noTarget"."
        An add through a filter that matches nothing has no target either (§3.5.2.1 creates
        values, not values selected by a filter): ``noTarget`` too.

        With FILTERED_UPSERT (Entra): Microsoft Entra ID sends ``{"op": "Add" or "Replace",
        "path": "emails[type eq \\"work\\"].value", "value": "x"}`` for a user without a work
        email, and means to give them one (docs/entra.md; RFC errata ID 8097 records the
        same reading of §3.5.2.1's "If the target location does not exist, the attribute
        and value are added."). So when the filter is a conjunction of `eq` comparisons, a new
        record is built from those comparisons plus the value: for a replace only when a
        sub-attribute is given (Entra's shape), for an add always. Any other filter is
        ``noTarget``.
        """
        attr, sub, value_filter = target.attr, target.sub, target.value_filter
        matched = [i for i, item in enumerate(items) if _matches(value_filter, item, attr)]
        if value is None:  # null unassigns the selected values or sub-attributes
            if sub is None:
                return [item for i, item in enumerate(items) if i not in matched]
            for i in matched:
                items[i].pop(sub.name, None)
            return [item for item in items if item]
        upsert = Leniency.FILTERED_UPSERT in self.leniencies
        if sub is not None:
            new_value = coerce_scalar(sub, value, target.where, self.leniencies)
            for i in matched:
                items[i] = {**items[i], sub.name: new_value}
            fresh = set(matched)
            if not matched:
                template = _template(value_filter, attr, self.leniencies) if upsert else None
                if template is None:
                    raise NoTarget(f"No value of '{attr.name}' matches the filter.")
                items.append({**template, sub.name: new_value})
                fresh = {len(items) - 1}
        else:
            if isinstance(value, list):
                raise InvalidValue(f"'{target.where}' selects values: give one JSON object.")
            parsed = parse_element(attr, value, target.where, self.leniencies) or {}
            for i in matched:
                items[i] = dict(parsed) if op == "replace" else {**items[i], **parsed}
            fresh = set(matched)
            if not matched:
                template = (
                    _template(value_filter, attr, self.leniencies)
                    if upsert and op == "add"
                    else None
                )
                if template is None:
                    raise NoTarget(f"No value of '{attr.name}' matches the filter.")
                items.append({**template, **parsed})
                fresh = {len(items) - 1}
        _settle_primary(attr, items, fresh)
        return [item for item in items if item]

    # Row-stored attributes

    def _member_changes(
        self, op: str, target: _Target, value: Any, has_value: bool
    ) -> list[MemberChange]:
        """Return the changes an operation makes to a row-stored attribute (Group `members`)."""
        attr, value_filter = target.attr, target.value_filter
        if target.sub is not None:
            # Group members: value, type and $ref are immutable, display is read-only (RFC 7643
            # §4.2), so a member is replaced as a whole, never edited in place.
            raise Mutability(f"'{target.where}' cannot be modified: replace the whole value.")
        if value_filter is not None:
            _check_row_filter(value_filter, attr)
        if op == "remove":
            if value_filter is not None:
                return [MemberChange("remove", value_filter=value_filter)]
            if has_value and value is not None:
                self._check_remove_by_value(target)
                values = self._member_values(target, value)
                return [MemberChange("remove", values)] if values else []
            return [MemberChange("remove")]
        if value_filter is not None and op == "add":
            raise InvalidPath(f"Add to '{attr.name}' with the path '{attr.name}', not a filter.")
        values = self._member_values(target, value)
        if op == "add":
            return [MemberChange("add", values)] if values else []
        if value_filter is not None and not values:
            return [MemberChange("remove", value_filter=value_filter)]
        return [MemberChange("replace", values, value_filter)]

    def _member_values(self, target: _Target, value: Any) -> tuple[dict, ...]:
        """Return the member objects in `value` without duplicates; parsing has made sure that
        each has a `value` id (required by the schema table)."""
        members: dict[str, dict] = {}
        for item in self._parse_values(target, value):
            member = {key: v for key, v in item.items() if key != "$ref"}
            members.setdefault(member["value"], member)
        return tuple(members.values())


# --- Values of multi-valued attributes -----------------------------------------------------------


def _clears(attr: Attribute, value: Any, leniencies: frozenset[Leniency]) -> bool:
    """Return whether `value` unassigns the singular attribute `attr`.

    ``null`` always does (RFC 7643 §2.5). With EMPTY_VALUE_UNASSIGNS, so do ``""`` and
    ``{"value": ""}``, Entra's way to clear `manager` (docs/entra.md): for a complex attribute
    with a `value` sub-attribute, an empty `value` unassigns the whole attribute.
    """
    if value is None:
        return True
    if Leniency.EMPTY_VALUE_UNASSIGNS not in leniencies:
        return False
    if not attr.is_complex or attr.sub_attribute("value") is None:
        return False
    if value == "":
        return True
    return isinstance(value, Mapping) and any(
        key.lower() == "value" and member == "" for key, member in value.items()
    )


def _append(attr: Attribute, items: list[dict], new: list) -> list:
    """Return `items` with the values of `new` not already present appended.

    RFC 7644 §3.5.2.1: "If the target location specifies a multi-valued attribute, a new value
    is added to the attribute." and "If the target location already contains the value
    specified, no changes SHOULD be made to the resource".
    """
    fresh: set[int] = set()
    present = {_identity(item) for item in items}
    for value in new:
        if (key := _identity(value)) not in present:
            present.add(key)
            items.append(value)
            fresh.add(len(items) - 1)
    _settle_primary(attr, items, fresh)
    return items


def _identity(value: Any) -> str:
    """Return a hashable stand-in for a value, equal exactly when the values are equal."""
    return json.dumps(value, sort_keys=True, default=str)


def _without(attr: Attribute, items: list[dict], given: list) -> list:
    """Return `items` without the values equal to one in `given`: on their `value`
    sub-attribute when `attr` has one (compared as the schema says), else as a whole."""
    value_sub = attr.sub_attribute("value") if attr.is_complex else None
    if value_sub is None:
        return [item for item in items if item not in given]
    keys = {_fold(value_sub, g.get("value")) for g in given if g.get("value") is not None}
    return [item for item in items if _fold(value_sub, item.get("value")) not in keys]


def _fold(attr: Attribute, value: Any) -> Any:
    """Return `value` in the form it is compared in: lowercase unless `attr` is caseExact."""
    if isinstance(value, str) and not attr.case_exact:
        return value.lower()
    return value


def _settle_primary(attr: Attribute, items: list[dict], fresh: set[int]) -> None:
    """Reset `primary` to false on the older values when a fresh one is primary.

    RFC 7643 §2.4: "The primary attribute value "true" MUST appear no more than once."
    """
    if not attr.is_complex or attr.sub_attribute("primary") is None:
        return
    if not any(items[i].get("primary") is True for i in fresh):
        return
    for i, item in enumerate(items):
        if i not in fresh and item.get("primary") is True:
            items[i] = {**item, "primary": False}


# --- Value filters, evaluated on one value of a multi-valued attribute ---------------------------


def _check_row_filter(node: Filter, attr: Attribute) -> None:
    """Allow only the sub-attributes the rows store (`value` and `type`, not the `derived`
    ones) in a filter the storage layer evaluates on rows."""
    match node:
        case And(left, right) | Or(left, right):
            _check_row_filter(left, attr)
            _check_row_filter(right, attr)
        case Not(expr):
            _check_row_filter(expr, attr)
        case Present(path) | Compare(path, _, _):
            sub = attr.sub_attribute(path.attr)
            if sub is None or sub.derived:
                stored = " and ".join(f"'{s.name}'" for s in attr.sub_attributes if not s.derived)
                raise InvalidFilter(
                    f"Filters on '{attr.name}' may compare {stored}, not '{path.attr}'."
                )


def _matching(node: Filter | None, attr: Attribute, items: list[dict]) -> list[dict]:
    """Return the values of `items` that `node` selects; all of them without a filter."""
    return [item for item in items if _matches(node, item, attr)]


def _matches(node: Filter | None, item: Mapping, attr: Attribute) -> bool:
    """Return whether the value `item` of `attr` matches the checked value filter `node`."""
    return node is None or matches_value(node, item, attr)


def _template(node: Filter | None, attr: Attribute, leniencies: frozenset[Leniency]) -> dict | None:
    """Return the value a conjunction of `eq` comparisons describes, or None for other filters.

    ``type eq "work"`` gives ``{"type": "work"}``; no filter at all gives ``{}``. Values are
    coerced to the sub-attributes' types; sub-attributes that are not stored are left out.
    """
    match node:
        case None:
            return {}
        case Compare(path, "eq", value) if value is not None:
            sub = value_attribute(attr, path)
            if not is_stored(sub):
                return {}
            scalar = float(value) if isinstance(value, Decimal) else value
            return {sub.name: coerce_scalar(sub, scalar, f"{attr.name}.{sub.name}", leniencies)}
        case And(left, right):
            first, second = _template(left, attr, leniencies), _template(right, attr, leniencies)
            if first is None or second is None:
                return None
            if any(first[key] != second[key] for key in first.keys() & second.keys()):
                return None  # type eq "work" and type eq "home": no value can match
            return {**first, **second}
    return None


# --- The result ----------------------------------------------------------------------------------


def _validated(
    resource_type: ResourceType,
    original: dict,
    document: dict,
    row_attributes: frozenset[str],
    leniencies: frozenset[Leniency],
) -> dict:
    """Return `document` as `parse_resource` reads it; refuse what a POST would refuse.

    Required attributes left unassigned and changed immutable attributes are ``mutability``
    (RFC 7644 §3.5.2.2 and §3.5.2); everything else `parse_resource` checks (types, `primary`
    at most once) keeps its own error. A document the operations left as it was (they
    changed only `row_attributes`, say) is the stored one, which was read so when stored.
    """
    if document == original:
        return document
    rows = {name.lower() for name in row_attributes}
    for attr in resource_type.schema.attributes:
        if attr.required and attr.name.lower() not in rows and document.get(attr.name) is None:
            raise Mutability(f"'{attr.name}' is required: it cannot be removed or unassigned.")
    _check_immutable(resource_type, original, document)
    schemas = [resource_type.schema.id]
    schemas.extend(ext.schema.id for ext in resource_type.extensions if ext.schema.id in document)
    return parse_resource({"schemas": schemas, **document}, resource_type, leniencies)


def _check_immutable(resource_type: ResourceType, original: dict, document: dict) -> None:
    """Refuse a change to an immutable attribute that had a value (RFC 7643 §2.2: "SHALL NOT
    be updated"; RFC 7644 §3.5.2: a client "MAY "add" a value to an "immutable" attribute if
    the attribute had no previous value")."""
    scopes = [
        (original, document, (COMMON_ATTRIBUTES["externalid"], *resource_type.schema.attributes))
    ]
    scopes.extend(
        (
            original.get(ext.schema.id) or {},
            document.get(ext.schema.id) or {},
            ext.schema.attributes,
        )
        for ext in resource_type.extensions
    )
    for before, after, attributes in scopes:
        for attr in attributes:
            _check_unchanged(attr, before.get(attr.name), after.get(attr.name))


def _check_unchanged(attr: Attribute, before: Any, after: Any, where: str | None = None) -> None:
    where = where or attr.name
    if attr.mutability is Mut.IMMUTABLE and before is not None and before != after:
        raise Mutability(f"'{where}' is immutable: it cannot change once set.")
    if attr.is_complex and not attr.multi_valued and isinstance(before, Mapping):
        after = after if isinstance(after, Mapping) else {}
        for sub in attr.sub_attributes:
            _check_unchanged(sub, before.get(sub.name), after.get(sub.name), f"{where}.{sub.name}")
