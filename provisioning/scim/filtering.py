"""What a filter selects (RFC 7644 §3.4.2.2): its checks against the schema table, and its
evaluation in Python.

`filter.py` parses a filter; this module says what the parsed filter means. Two places apply
one: PATCH evaluates value filters on the values of a document (`patch.py`, through
`check_value_filter` and `matches_value`), and the storage layer compiles filters into SQL
(`provisioning.storage.query`), checking each comparison with `check_comparison` and
compiling the rules below one for one. `matches` applies a filter to a whole resource as the
server renders it: it is the reference the SQL compiler is held to
(tests/fuzz/storage/test_filter_agreement.py runs both on generated resources and filters
against PostgreSQL).

The rules, where RFC 7644 §3.4.2.2 leaves a choice:

* Attribute paths resolve as everywhere else (`ResourceType.resolve`); an unknown attribute,
  or one that is never returned, is an ``invalidFilter``.
* Strings compare as their attribute's `caseExact` says: otherwise both sides lower-cased.
  The ordering operators compare code points (the database's collation is ``C.UTF-8``).
* ``pr`` holds for a value that is not null, not ``""`` and not an empty array or object
  ("If the attribute has a non-empty value, or if it contains a non-empty node for complex
  attributes, there is a match"). ``eq null`` holds exactly where ``pr`` does not and
  ``ne null`` where it does (RFC 7643 §2.5: unassigned and null are the same state); any
  other operator with null is an ``invalidFilter``.
* Every comparison is two-valued: an attribute without a value compares false, so that
  ``ne`` and ``not (...)`` match the resources that lack it.
* "If the specified attribute in a filter expression is a multi-valued attribute, the filter
  matches if any of the values of the specified attribute match the specified criterion";
  a complex multi-valued attribute named without a sub-attribute (``emails co "@x"``) is
  compared through its ``value``. ``emails[...]`` holds when one value matches the whole
  value filter.
* Booleans take ``eq`` and ``ne`` only, with ``true`` or ``false``; the strings ``"true"`` and
  ``"false"`` (any case) are read as those only with the STRING_BOOLEANS leniency
  (`read_filter`, `value_string_booleans`); binaries take no ordering operator ("gt",
  "ge", "lt" and "le" on Binary attributes SHALL be invalidFilter); date-times and numbers
  take no ``co``/``sw``/``ew`` and compare as instants and numbers; a complex attribute is
  compared through its sub-attributes, never as a whole.
* ``schemas`` is a multi-valued string of every resource: its core URN, and each extension
  URN the resource has a value of; URNs compare case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .dialect import Leniency
from .errors import InvalidFilter
from .filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    Value,
    ValuePath,
    parse_filter,
)
from .resource import parse_datetime, storable
from .schema import Attribute, ResourceType, Returned, Schema, Type

__all__ = [
    "check_comparison",
    "check_filter",
    "check_value_filter",
    "compare_text",
    "matches",
    "matches_value",
    "present",
    "read_filter",
    "value_attribute",
    "value_string_booleans",
]

_ORDERING_OPS = ("gt", "ge", "lt", "le")
_PATTERN_OPS = ("co", "sw", "ew")


# --- Reading ------------------------------------------------------------------------------------


def read_filter(
    text: str, resource_types: Iterable[ResourceType], leniencies: frozenset[Leniency]
) -> Filter:
    """Return the filter `text` parsed as a connection reads it, for a query over
    `resource_types`: its leniencies shape the grammar (`parse_filter`), and with
    STRING_BOOLEANS a string ``"true"`` or ``"false"`` compared with a boolean attribute is
    that boolean (RFC 7644 §3.4.2.2: a compValue is ``false``, ``true``, null, a number or a
    string; compared with a boolean, a string is an invalidFilter)."""
    node = parse_filter(text, leniencies=leniencies)
    if Leniency.STRING_BOOLEANS in leniencies:
        node = _string_booleans(node, tuple(resource_types))
    return node


def value_string_booleans(node: Filter, parent: Attribute) -> Filter:
    """Return the value filter `node` on values of `parent` with a string ``"true"`` or
    ``"false"`` compared with a boolean sub-attribute read as that boolean (STRING_BOOLEANS)."""
    return _rewrite(node, lambda path: _is_boolean(parent.sub_attribute(path.attr)))


def _string_booleans(node: Filter, resource_types: tuple[ResourceType, ...]) -> Filter:
    def names_boolean(path: AttrPath) -> bool:
        return any(_is_boolean(_leaf_or_none(rt, path)) for rt in resource_types)

    def in_values(value_path: ValuePath) -> Filter:
        parents = [
            found[1]
            for rt in resource_types
            if (found := rt.resolve(value_path.path.attr, value_path.path.schema)) is not None
        ]
        return _rewrite(
            value_path.filter,
            lambda path: any(_is_boolean(parent.sub_attribute(path.attr)) for parent in parents),
        )

    return _rewrite(node, names_boolean, in_values)


def _rewrite(node: Filter, names_boolean, in_values=None) -> Filter:
    """Return `node` with string booleans read as booleans where `names_boolean(path)`."""
    match node:
        case And(left, right) | Or(left, right):
            return type(node)(
                _rewrite(left, names_boolean, in_values), _rewrite(right, names_boolean, in_values)
            )
        case Not(expr):
            return Not(_rewrite(expr, names_boolean, in_values))
        case ValuePath(path, _) if in_values is not None:
            return ValuePath(path, in_values(node))
        case Compare(path, op, str(value)) if value.lower() in ("true", "false"):
            if names_boolean(path):
                return Compare(path, op, value.lower() == "true")
    return node


def _is_boolean(attr: Attribute | None) -> bool:
    return attr is not None and attr.type is Type.BOOLEAN


def _leaf_or_none(resource_type: ResourceType, path: AttrPath) -> Attribute | None:
    """Return the attribute a comparison on `path` compares, or None if it names none."""
    try:
        attr, sub = _leaf_attribute(resource_type, path)
    except InvalidFilter:
        return None
    return sub or attr


# --- Checks --------------------------------------------------------------------------------------


def check_comparison(attr: Attribute, op: str, value: Value) -> None:
    """Refuse a comparison `op value` that the type of `attr` does not allow (invalidFilter)."""
    if value is None:
        if op not in ("eq", "ne"):
            raise InvalidFilter(f"'{op}' cannot compare with null.")
        return
    kind = attr.type
    if kind is Type.COMPLEX:
        raise InvalidFilter(f"'{attr.name}' is complex: compare one of its sub-attributes.")
    if kind is Type.BOOLEAN:
        if op not in ("eq", "ne"):
            raise InvalidFilter(f"'{op}' does not apply to boolean attribute '{attr.name}'.")
        if not isinstance(value, bool):
            raise InvalidFilter(f"'{attr.name}' is a boolean: compare it with true or false.")
    elif kind in (Type.INTEGER, Type.DECIMAL):
        if op in _PATTERN_OPS:
            raise InvalidFilter(f"'{op}' does not apply to number attribute '{attr.name}'.")
        if not _is_number(value):
            raise InvalidFilter(f"'{attr.name}' is a number: compare it with a number.")
    elif kind is Type.DATETIME:
        if op in _PATTERN_OPS:
            raise InvalidFilter(f"'{op}' does not apply to date-time attribute '{attr.name}'.")
        if not isinstance(value, str) or parse_datetime(value) is None:
            raise InvalidFilter(
                f"'{attr.name}' is a date-time: compare it with an xsd:dateTime string."
            )
    elif not isinstance(value, str):
        raise InvalidFilter(f"'{attr.name}' is a string: compare it with a string.")
    elif not storable(value):
        # No stored value holds one, and PostgreSQL cannot even be asked.
        raise InvalidFilter("A filter value cannot contain a NUL character.")
    elif kind is Type.BINARY and op in _ORDERING_OPS:
        # RFC 7644 §3.4.2.2: gt/ge/lt/le on Binary attributes SHALL be invalidFilter.
        raise InvalidFilter(f"'{op}' does not apply to binary attribute '{attr.name}'.")


def value_attribute(parent: Attribute, path: AttrPath) -> Attribute:
    """Return the sub-attribute of `parent` that a path inside ``parent[...]`` names."""
    sub = None
    if path.schema is None and path.sub_attr is None:
        sub = parent.sub_attribute(path.attr)
    if sub is None:
        raise InvalidFilter(f"'{path}' is not a sub-attribute of '{parent.name}'.")
    return sub


def check_value_filter(node: Filter, parent: Attribute) -> None:
    """Check a value filter on the values of `parent` before it is evaluated.

    Checked up front, because a filter applied to no value would otherwise never be looked at.
    """
    match node:
        case And(left, right) | Or(left, right):
            check_value_filter(left, parent)
            check_value_filter(right, parent)
        case Not(expr):
            check_value_filter(expr, parent)
        case Present(path):
            value_attribute(parent, path)
        case Compare(path, op, value):
            check_comparison(value_attribute(parent, path), op, value)
        case ValuePath():
            raise InvalidFilter("A value filter cannot contain another value filter.")


# --- Evaluation ----------------------------------------------------------------------------------


def check_filter(node: Filter, resource_type: ResourceType) -> None:
    """Refuse a filter on `resource_type` that names an unknown attribute or compares one in
    a way its type does not allow (invalidFilter); the whole filter, every branch."""
    match node:
        case And(left, right) | Or(left, right):
            check_filter(left, resource_type)
            check_filter(right, resource_type)
        case Not(expr):
            check_filter(expr, resource_type)
        case ValuePath(path, inner):
            _, attr = _attribute(resource_type, path)
            if not (attr.multi_valued and attr.is_complex):
                raise InvalidFilter(f"'{path}[...]' needs a multi-valued complex attribute.")
            check_value_filter(inner, attr)
        case Present(path):
            if not _is_schemas(path):
                _leaf_attribute(resource_type, path)
        case Compare(path, op, value):
            if _is_schemas(path):
                if not isinstance(value, str):
                    raise InvalidFilter(f"'{path}' is a string: compare it with a string.")
                return
            attr, sub = _leaf_attribute(resource_type, path)
            if attr.multi_valued and sub is None and attr.is_complex:
                # No `value` to compare through (`addresses`): only `pr` applies.
                raise InvalidFilter(f"'{attr.name}' is complex: compare one of its sub-attributes.")
            check_comparison(sub or attr, op, value)


def matches(node: Filter, resource: Mapping[str, Any], resource_type: ResourceType) -> bool:
    """Return whether the rendered `resource` of `resource_type` matches the filter `node`;
    raise `InvalidFilter` as `check_filter` does.

    `resource` is laid out as `render_resource` lays it out: common and core attributes at
    the top level, each extension's attributes in an object keyed by its URN.
    """
    check_filter(node, resource_type)
    return _matches(node, resource, resource_type)


def _matches(node: Filter, resource: Mapping[str, Any], resource_type: ResourceType) -> bool:
    match node:
        case And(left, right):
            return _matches(left, resource, resource_type) and _matches(
                right, resource, resource_type
            )
        case Or(left, right):
            return _matches(left, resource, resource_type) or _matches(
                right, resource, resource_type
            )
        case Not(expr):
            return not _matches(expr, resource, resource_type)
        case ValuePath(path, inner):
            schema, attr = _attribute(resource_type, path)
            values = _value(resource, resource_type, schema, attr)
            return any(matches_value(inner, item, attr) for item in values or ())
        case Present(path) | Compare(path, _, _):
            if _is_schemas(path):
                return _schemas(node, resource, resource_type)
            schema, attr = _attribute(resource_type, path)
            _, sub = _leaf_attribute(resource_type, path)
            value = _value(resource, resource_type, schema, attr)
            if not attr.multi_valued:
                if sub is not None:
                    value = value.get(sub.name) if isinstance(value, Mapping) else None
                return _leaf(node, sub or attr, value)
            if sub is None:
                return present(value)  # a multi-valued attribute without `value`: only `pr`
            relative = AttrPath(sub.name)
            if isinstance(node, Present):
                element: Filter = Present(relative)
            else:
                element = Compare(relative, node.op, node.value)
            return any(matches_value(element, item, attr) for item in value or ())
    raise InvalidFilter("Unsupported filter expression.")  # pragma: no cover - exhaustive


def matches_value(node: Filter, item: Mapping, parent: Attribute) -> bool:
    """Return whether `item`, one value of `parent`, matches the checked value filter `node`."""
    match node:
        case And(left, right):
            return matches_value(left, item, parent) and matches_value(right, item, parent)
        case Or(left, right):
            return matches_value(left, item, parent) or matches_value(right, item, parent)
        case Not(expr):
            return not matches_value(expr, item, parent)
        case Present(path) | Compare(path, _, _):
            sub = value_attribute(parent, path)
            return _leaf(node, sub, item.get(sub.name) if isinstance(item, Mapping) else None)
    raise InvalidFilter("Unsupported value filter.")  # pragma: no cover - checked up front


def present(value: Any) -> bool:
    """RFC 7644 §3.4.2.2 ``pr``: "If the attribute has a non-empty value"."""
    return value not in (None, "", [], {})


def compare_text(op: str, actual: str, expected: str, *, case_exact: bool) -> bool:
    """Return whether the string `actual` satisfies `op expected` (RFC 7644 §3.4.2.2 Table 3)."""
    if not case_exact:
        actual, expected = actual.lower(), expected.lower()
    return _ordered(op, actual, expected)


def _leaf(node: Present | Compare, attr: Attribute, actual: Any) -> bool:
    """Evaluate a presence test or comparison on the value `actual` of the simple `attr`."""
    if isinstance(node, Present):
        return present(actual)
    op, expected = node.op, node.value
    check_comparison(attr, op, expected)
    if expected is None:
        return present(actual) == (op == "ne")
    if actual is None:
        return op == "ne"
    kind = attr.type
    if kind is Type.BOOLEAN:
        left: Any = actual
        right: Any = expected
    elif kind in (Type.INTEGER, Type.DECIMAL):
        if not _is_number(actual):
            return op == "ne"
        left, right = Decimal(str(actual)), Decimal(str(expected))
    elif kind is Type.DATETIME:
        left = parse_datetime(actual) if isinstance(actual, str) else None
        right = parse_datetime(expected)
        if left is None:
            return op == "ne"
    else:
        if not isinstance(actual, str):
            return op == "ne"
        return compare_text(op, actual, expected, case_exact=attr.case_exact)
    return _ordered(op, left, right)


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]


def _attribute(resource_type: ResourceType, path: AttrPath) -> tuple[Schema, Attribute]:
    """Return the schema and definition of the top-level attribute `path` names."""
    found = resource_type.resolve(path.attr, path.schema)
    if found is None:
        raise InvalidFilter(f"Unknown attribute '{path}'.")
    if found[1].returned is Returned.NEVER:
        raise InvalidFilter(f"'{found[1].name}' is never returned, so it cannot be filtered on.")
    return found


def _leaf_attribute(
    resource_type: ResourceType, path: AttrPath
) -> tuple[Attribute, Attribute | None]:
    """Return the attribute `path` names and the sub-attribute compared: the one it names, or
    `value` for a complex multi-valued attribute named alone (`emails co "@x"`)."""
    _, attr = _attribute(resource_type, path)
    if path.sub_attr is not None:
        sub = attr.sub_attribute(path.sub_attr) if attr.is_complex else None
        if sub is None:
            raise InvalidFilter(f"Unknown attribute '{path}'.")
        return attr, sub
    if attr.is_complex and attr.multi_valued:
        return attr, attr.sub_attribute("value")
    return attr, None


def _value(
    resource: Mapping[str, Any], resource_type: ResourceType, schema: Schema, attr: Attribute
) -> Any:
    """Return the value of a top-level attribute in a rendered resource."""
    container = resource if schema is resource_type.schema else resource.get(schema.id) or {}
    return container.get(attr.name)


def _is_schemas(path: AttrPath) -> bool:
    return path.schema is None and path.sub_attr is None and path.attr.lower() == "schemas"


def _schemas(node: Present | Compare, resource: Mapping, resource_type: ResourceType) -> bool:
    """Evaluate a filter on `schemas` (RFC 7643 §3): one of the URIs must satisfy it."""
    if isinstance(node, Present):
        return True
    carried = [resource_type.schema.id]
    carried += [ext.schema.id for ext in resource_type.extensions if ext.schema.id in resource]
    return any(compare_text(node.op, urn, node.value, case_exact=False) for urn in carried)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
