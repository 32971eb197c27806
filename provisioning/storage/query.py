"""SCIM filters and sort orders as QuerySet expressions (RFC 7644 §3.4.2.2, §3.4.2.3).

A filter arrives parsed (`provisioning.scim.filter`, read with the connection's dialect where
the request is read); it is resolved against the schema table and turned into a `Q`:
attributes the table mirrors into columns compare against those indexed columns, values of
multi-valued attributes against their rows (an `EXISTS` over `UserValue`), and the rest
against the jsonb document. Nothing is filtered in Python and no SQL is written by hand.

The semantics are those of `provisioning.scim.filtering`, which also checks each comparison
(`check_comparison`): `caseExact: false` strings compare through `lower()` on both sides (so
the case-insensitive indexes serve them), and every comparison is two-valued (a missing
attribute compares false, never NULL), so that `not (...)` and `ne` match resources that lack
the attribute. What this module refuses on its own is what it cannot compile: `meta.location`
and `meta.version` (derived, never stored), date-times kept in the document, and a user's
`groups` by a sub-attribute that shows no attribute of the group (`shows` in the schema table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    DecimalField,
    Exists,
    Expression,
    F,
    Func,
    OrderBy,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models import lookups as lk
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast, Lower

from ..scim.errors import InvalidFilter, InvalidValue
from ..scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)
from ..scim.filtering import check_comparison, compare_text
from ..scim.resource import parse_datetime, parse_id, storable
from ..scim.schema import COMMON_ATTRIBUTES, Attribute, ResourceType, Returned, Rows, Schema, Type
from .statements import Slot

# Conditions that hold for no row and for every row. An empty Q() would not do for the latter:
# negated, it is still empty, so `not (id pr)` would match everything.
NOTHING = Q(pk__in=[])
EVERYTHING = Q(pk__isnull=False)
_STRING_TYPES = (Type.STRING, Type.REFERENCE, Type.BINARY)
_ORDERING_OPS = {
    "gt": lk.GreaterThan,
    "ge": lk.GreaterThanOrEqual,
    "lt": lk.LessThan,
    "le": lk.LessThanOrEqual,
}
_PATTERN_OPS = {"co": lk.Contains, "sw": lk.StartsWith, "ew": lk.EndsWith}


@dataclass(frozen=True)
class Source:
    """Where a resource type's attributes live: its document column and its value rows."""

    resource_type: ResourceType
    # Return the rows of the multi-valued attribute `key` that belong to the outer resource.
    values: Callable[[str], QuerySet]
    document: str = "data"
    # Compile a comparison on a sub-attribute of those rows, where they are not JSON
    # elements (Group members are rows with foreign keys).
    element_leaf: Callable[[Attribute, Present | Compare], Q] | None = None
    # A user's `groups` (RFC 7643 §4.1.2), worked out from membership rows: where group
    # attributes live, and the condition "a member, directly or through nested groups, of a
    # group matching this condition on groups".
    group_source: Source | None = None
    members_of: Callable[[Q], Q] | None = None


def filter_q(node: Filter, source: Source, *, unknown_is_unassigned: bool = False) -> Q:
    """Return the `Q` that selects the resources matching the parsed filter `node`.

    An attribute the resource type lacks is an `UnknownAttribute` error, or, with
    `unknown_is_unassigned`, an attribute without a value.
    """
    return _Compiler(source, unknown_is_unassigned).compile(node)


@dataclass(frozen=True)
class Shape:
    """A parsed filter with its string values taken out: filters of one shape compile to the
    same SQL, with the strings as parameters (`provisioning.storage.statements`)."""

    key: tuple
    strings: tuple[str, ...]
    node: Filter


def shape(node: Filter) -> Shape:
    """Return the shape of the parsed filter `node`."""
    strings: list[str] = []

    def walk(node: Filter) -> tuple:
        match node:
            case And(left, right) | Or(left, right):
                return (type(node).__name__, walk(left), walk(right))
            case Not(expr):
                return ("not", walk(expr))
            case ValuePath(path, inner):
                return ("[]", path, walk(inner))
            case Present(path):
                return ("pr", path)
            case Compare(path, op, value) if isinstance(value, str):
                strings.append(value)
                return (op, path, str)
            case Compare(path, op, value):
                return (op, path, type(value), value)
        raise InvalidFilter("Unsupported filter expression.")  # pragma: no cover - exhaustive

    return Shape(walk(node), tuple(strings), node)


def filter_template(
    shape: Shape, source: Source, first_slot: int, *, unknown_is_unassigned: bool = False
) -> tuple[Q, bool]:
    """Return the `Q` of a filter whose strings are the slots `first_slot`, `first_slot + 1`,
    ... in the order of `shape.strings`, and whether it may be compiled once for every filter
    of its shape. It may not when compiling it read a string's value (an `id` parsed as a
    UUID, a boolean or a date-time given as a string): that value is then part of the SQL."""
    compiler = _Compiler(source, unknown_is_unassigned)
    compiler.slots = {}
    for node in _string_compares(shape.node):
        compiler.slots[id(node)] = first_slot + len(compiler.slots)
    q = compiler.compile(shape.node)
    return q, not compiler.read_values


def check_strings(shape: Shape) -> None:
    """Refuse the strings a filter compiled once was not checked for: NUL, lone surrogates."""
    if not all(storable(value) for value in shape.strings):
        raise InvalidFilter("A filter value cannot contain a NUL character.")


def _string_compares(node: Filter):
    """Yield the comparisons with a string value, in the order `shape` lists their strings."""
    match node:
        case And(left, right) | Or(left, right):
            yield from _string_compares(left)
            yield from _string_compares(right)
        case Not(expr):
            yield from _string_compares(expr)
        case ValuePath(_, inner):
            yield from _string_compares(inner)
        case Compare(_, _, value) if isinstance(value, str):
            yield node


def unknown_everywhere(node: Filter, sources: list[Source]) -> str | None:
    """Return the first attribute of the parsed filter `node` that no resource type has, or
    None.

    A search over several resource types reads an attribute a type lacks as unassigned there
    (RFC 7644 §3.4.2.1), but an attribute none of them has is still an error.
    """
    compilers = [_Compiler(source) for source in sources]
    for path, parent in _paths(node):
        if parent is None and _is_schemas(path):
            continue  # every resource type has `schemas`
        known = False
        for compiler in compilers:
            try:
                target = compiler.resolve(parent or path)
            except UnknownAttribute:
                continue
            if parent is None or (
                target.multi_parent is not None
                and target.multi_parent.sub_attribute(path.attr) is not None
            ):
                known = True
                break
        if not known:
            return f"{parent}.{path.attr}" if parent else str(path)
    return None


def _is_schemas(path: AttrPath) -> bool:
    return path.attr.lower() == "schemas" and not path.sub_attr and path.schema is None


def _paths(node: Filter, parent: AttrPath | None = None):
    """Yield each attribute path of a filter, with the multi-valued parent of those in [...]."""
    match node:
        case And(left, right) | Or(left, right):
            yield from _paths(left, parent)
            yield from _paths(right, parent)
        case Not(expr):
            yield from _paths(expr, parent)
        case ValuePath(path, inner):
            yield from _paths(inner, AttrPath(path.attr, None, path.schema))
        case Present(path) | Compare(path, _, _):
            yield path, parent


def element_q(node: Filter, parent: Attribute, source: Source) -> Q:
    """Return the `Q` over the value rows of `parent` that match the value filter `node`."""
    return _Compiler(source)._element(node, parent)


def order_by(sort_by: AttrPath, descending: bool, source: Source) -> list[OrderBy]:
    """Return the ordering for `sortBy`/`sortOrder` (RFC 7644 §3.4.2.3), `sortBy` parsed and
    checked (`provisioning.scim.list_request.read_sort_by`).

    Strings sort case-insensitively unless case-exact; a multi-valued attribute sorts by its
    primary value, else its first; resources without a value "are ordered last if ascending
    and first if descending".
    """
    expression = sort_key(sort_by, source)
    return [expression.desc(nulls_first=True) if descending else expression.asc(nulls_last=True)]


class UnknownSortAttribute(InvalidValue):
    """`sortBy` names an attribute the resource type does not have."""


def sort_key(sort_by: AttrPath, source: Source, *, unknown_is_unassigned: bool = False):
    """Return the value `order_by` sorts by; with `unknown_is_unassigned`, None when the
    resource type lacks the attribute (a search over several types, RFC 7644 §3.4.2.1)."""
    try:
        target = _Compiler(source).resolve(sort_by, error=InvalidValue)
    except UnknownSortAttribute:
        if unknown_is_unassigned:
            return None
        raise
    if target.multi_parent is not None:
        rows = source.values(target.multi_key).order_by(
            KeyTransform("primary", "element").desc(nulls_last=True), "position"
        )
        expression = _subquery_value(rows, target.attr)
    else:
        expression = target.text()
    if target.attr.type in _STRING_TYPES and not target.attr.case_exact:
        expression = Lower(expression)
    return expression


def _subquery_value(rows: QuerySet, attr: Attribute) -> Expression:
    return Subquery(rows.annotate(sort_value=KT(f"element__{attr.name}")).values("sort_value")[:1])


def _is_groups(target: _Target) -> bool:
    """Return whether `target` is (a sub-attribute of) a user's `groups`."""
    return target.multi_parent is not None and target.multi_parent.rows is Rows.MEMBERSHIPS


@dataclass(frozen=True)
class _Target:
    """A resolved attribute: its definition and where its value is read."""

    attr: Attribute
    column: str | None = None  # an indexed column that mirrors it
    json_path: tuple[str, ...] = ()  # else its keys inside the document
    multi_parent: Attribute | None = (
        None  # set when it is (a sub-attribute of) a multi-valued attribute
    )
    multi_key: str = ""
    document: str = "data"

    def text(self) -> Expression:
        """Return the value as text (or the column as it is)."""
        if self.column:
            return F(self.column)
        return KT("__".join((self.document, *self.json_path)))

    def json(self) -> Expression:
        """Return the value as jsonb (for booleans kept in the document)."""
        expression: Expression = F(self.document)
        for key in self.json_path:
            expression = KeyTransform(key, expression)
        return expression


class UnknownAttribute(InvalidFilter):
    """A filter names an attribute the resource type does not have."""


def _unknown(error: type, path: AttrPath) -> Exception:
    kind = UnknownAttribute if error is InvalidFilter else UnknownSortAttribute
    return kind(f"Unknown attribute '{path}'.")


class _Compiler:
    def __init__(self, source: Source, unknown_is_unassigned: bool = False) -> None:
        self.source = source
        self.resource_type = source.resource_type
        # For a template (`filter_template`): the slot of each string comparison, and whether
        # compiling read a string's value rather than passing it on as a parameter.
        self.slots: dict[int, int] | None = None
        self.read_values = False
        # RFC 7644 §3.4.2.1, for queries over several resource types: "For filtered attributes
        # that are not part of a particular resource type, the service provider SHALL treat
        # the attribute as if there is no attribute value."
        self.unknown_is_unassigned = unknown_is_unassigned

    # --- resolution ------------------------------------------------------------------------

    def resolve(self, path: AttrPath, error: type = InvalidFilter) -> _Target:
        """Return where the attribute `path` names lives; unknown attributes are errors."""
        schema, attr = self._attribute(path, error)
        sub = None
        if path.sub_attr:
            sub = attr.sub_attribute(path.sub_attr)
            if sub is None:
                raise _unknown(error, path)
        elif attr.is_complex and attr.multi_valued and attr.sub_attribute("value"):
            # RFC 7644 §3.4.2.2: a complex multi-valued attribute without a sub-attribute is
            # compared through its "value" sub-attribute (`emails co "@example.com"`).
            sub = attr.sub_attribute("value")
        leaf = sub or attr
        core = schema is self.resource_type.schema or schema is None
        prefix = () if core else (schema.id,)
        if attr.multi_valued:
            key = attr.name if core else f"{schema.id}:{attr.name}"
            return _Target(
                leaf, json_path=(leaf.name,) if sub else (), multi_parent=attr, multi_key=key
            )
        if leaf.column:
            return _Target(leaf, column=leaf.column)
        keys = (*prefix, attr.name, *((sub.name,) if sub else ()))
        return _Target(leaf, json_path=keys, document=self.source.document)

    def _attribute(self, path: AttrPath, error: type) -> tuple[Schema | None, Attribute]:
        found = self.resource_type.resolve(path.attr, path.schema)
        if found is None:
            raise _unknown(error, path)
        schema, attr = found
        if attr.returned is Returned.NEVER:
            raise error(f"'{attr.name}' is never returned, so it cannot be filtered or sorted on.")
        common = COMMON_ATTRIBUTES.get(attr.name.lower()) is attr
        return (None if common else schema), attr

    def _resolve_or_none(self, path: AttrPath) -> _Target | None:
        """Resolve `path`; None for an unknown attribute read as having no value."""
        try:
            return self.resolve(path)
        except UnknownAttribute:
            if self.unknown_is_unassigned:
                return None
            raise

    # --- compilation -----------------------------------------------------------------------

    def compile(self, node: Filter) -> Q:
        match node:
            case And(left, right):
                return self.compile(left) & self.compile(right)
            case Or(left, right):
                return self.compile(left) | self.compile(right)
            case Not(expr):
                return ~self.compile(expr)
            case ValuePath(path, inner):
                target = self._resolve_or_none(AttrPath(path.attr, None, path.schema))
                if target is None:
                    return NOTHING
                if target.multi_parent is None:
                    raise InvalidFilter(f"'{path}[...]' needs a multi-valued attribute.")
                if _is_groups(target):
                    return self._groups(inner, target.multi_parent)
                parent = target.multi_parent
                return Q(
                    Exists(
                        self.source.values(target.multi_key).filter(self._element(inner, parent))
                    )
                )
            case Present(path) | Compare(path, _, _):
                special = self._special(node)
                if special is not None:
                    return special
                target = self._resolve_or_none(path)
                if target is None:
                    # No value, as for an unassigned attribute: `eq null` and `ne <value>` hold.
                    unassigned = isinstance(node, Compare) and (
                        (node.op == "eq" and node.value is None)
                        or (node.op == "ne" and node.value is not None)
                    )
                    return EVERYTHING if unassigned else NOTHING
                if target.multi_parent is not None:
                    element_node = _relative(node, target)
                    if self.slots is not None and id(node) in self.slots:
                        self.slots[id(element_node)] = self.slots[id(node)]
                    if _is_groups(target):
                        return self._groups(element_node, target.multi_parent)
                    rows = self.source.values(target.multi_key)
                    if element_node is None:  # `emails pr`: any value at all
                        return Q(Exists(rows))
                    return Q(Exists(rows.filter(self._element(element_node, target.multi_parent))))
                return self._leaf(node, target)
        raise InvalidFilter("Unsupported filter expression.")  # pragma: no cover - exhaustive

    def _element(self, node: Filter, parent: Attribute) -> Q:
        """Compile a filter over one value of the multi-valued attribute `parent`."""
        match node:
            case And(left, right):
                return self._element(left, parent) & self._element(right, parent)
            case Or(left, right):
                return self._element(left, parent) | self._element(right, parent)
            case Not(expr):
                return ~self._element(expr, parent)
            case ValuePath():
                raise InvalidFilter("A value filter cannot contain another value filter.")
            case Present(path) | Compare(path, _, _):
                if path.sub_attr or path.schema:
                    raise InvalidFilter(f"'{path}' is not a sub-attribute of '{parent.name}'.")
                sub = parent.sub_attribute(path.attr)
                if sub is None:
                    raise InvalidFilter(f"Unknown attribute '{parent.name}.{path.attr}'.")
                if self.source.element_leaf is not None:
                    self.read_values = True
                    return self.source.element_leaf(sub, node)
                return self._leaf(node, _Target(sub, json_path=(sub.name,), document="element"))
        raise InvalidFilter("Unsupported filter expression.")  # pragma: no cover - exhaustive

    def _groups(self, node: Filter | None, groups_attr: Attribute) -> Q:
        """Compile a filter over one of a user's `groups` (None: any group at all).

        RFC 7643 §4.1.2: a user's groups are those it is in "either through direct group
        membership, through nested groups, or dynamically calculated". A value is a group, so
        the filter is compiled against the groups' own attributes, those the schema table
        says each sub-attribute shows (`shows`: `value` is their `id`, `display` their
        `displayName`), with their case rules, and the users are those in a matching group or
        in a group nested below one.
        """
        groups = _Compiler(self.source.group_source, self.unknown_is_unassigned)
        condition = EVERYTHING
        if node is not None:
            if self.slots is not None:
                groups.slots = {}
            condition = groups.compile(self._as_group_filter(node, groups.slots, groups_attr))
            self.read_values |= groups.read_values
        return self.source.members_of(condition)

    def _as_group_filter(self, node: Filter, slots: dict | None, groups_attr: Attribute) -> Filter:
        """Return the filter on one `groups` value rewritten against the group it names,
        moving each string's slot along."""
        match node:
            case And(left, right) | Or(left, right):
                return type(node)(
                    self._as_group_filter(left, slots, groups_attr),
                    self._as_group_filter(right, slots, groups_attr),
                )
            case Not(expr):
                return Not(self._as_group_filter(expr, slots, groups_attr))
            case ValuePath():
                raise InvalidFilter("A value filter cannot contain another value filter.")
            case Present(path) | Compare(path, _, _):
                sub = groups_attr.sub_attribute(path.attr) if not path.schema else None
                name = sub.shows if sub is not None else None
                if name is None or path.sub_attr:
                    # The others (`type`, `$ref`) are worked out when a user is read.
                    shown = " and ".join(
                        f"'{each.name}'" for each in groups_attr.sub_attributes if each.shows
                    )
                    raise InvalidFilter(
                        f"A user's {groups_attr.name} can be filtered by {shown}, not '{path}'."
                    )
                if isinstance(node, Present):
                    return Present(AttrPath(name))
                rewritten = Compare(AttrPath(name), node.op, node.value)
                if slots is not None and self.slots is not None and id(node) in self.slots:
                    slots[id(rewritten)] = self.slots[id(node)]
                return rewritten
        raise InvalidFilter("Unsupported filter expression.")  # pragma: no cover - exhaustive

    def _special(self, node: Present | Compare) -> Q | None:
        """Compile filters on `id` and `meta` attributes that have no plain storage."""
        path = node.path
        name = path.attr.lower()
        previous, self.read_values = self.read_values, True  # unless it is no special one
        if name == "id" and not path.sub_attr:
            if isinstance(node, Present):
                return EVERYTHING
            check_comparison(COMMON_ATTRIBUTES["id"], node.op, node.value)
            if node.op in ("eq", "ne") and isinstance(node.value, str):
                # RFC 7643 §3.1: `id` is caseExact, so an upper-cased id matches nothing.
                pk = parse_id(node.value)
                matched = NOTHING if pk is None else Q(pk=pk)
                return matched if node.op == "eq" else ~matched
            id_text = _Target(Attribute("id", case_exact=True), column="id")
            return self._leaf(node, id_text, lhs=Cast(F("pk"), TextField()))
        if _is_schemas(path):
            return self._schemas(node)
        if name == "meta" and not path.sub_attr and isinstance(node, Present):
            return EVERYTHING  # every resource has meta
        if name == "meta" and path.sub_attr:
            sub = path.sub_attr.lower()
            if sub == "resourcetype":
                if isinstance(node, Present):
                    return EVERYTHING
                # RFC 7643 §3.1: resourceType is caseExact.
                resource_type = COMMON_ATTRIBUTES["meta"].sub_attribute("resourceType")
                check_comparison(resource_type, node.op, node.value)
                matched = node.value is not None and compare_text(
                    node.op, self.resource_type.name, node.value, case_exact=True
                )
                if node.value is None:  # every resource has one: `eq null` holds for none
                    matched = node.op == "ne"
                return EVERYTHING if matched else NOTHING
            if sub in ("location", "version"):
                # Both are derived from the request's host and the version counter.
                raise InvalidFilter(f"Filtering on 'meta.{path.sub_attr}' is not supported.")
        self.read_values = previous
        return None

    def _schemas(self, node: Present | Compare) -> Q:
        """Compile a filter on `schemas` (RFC 7643 §3): the resources carrying a schema URI.

        Every resource carries its core schema; it carries an extension's when it has a value
        of that extension, which is when the document holds the extension's object. As with
        any multi-valued attribute, a comparison holds when one of the URIs satisfies it;
        schema URIs compare case-insensitively, as everywhere in this server.
        """
        if isinstance(node, Present):
            return EVERYTHING
        matched = NOTHING
        for schema in self.resource_type.schemas:
            if _constant_match(node, schema.id):
                if schema is self.resource_type.schema:
                    return EVERYTHING
                matched |= Q(**{f"{self.source.document}__has_key": schema.id})
        return matched

    def _leaf(self, node: Present | Compare, target: _Target, lhs: Expression | None = None) -> Q:
        attr = target.attr
        if isinstance(node, Present):
            return self._present(target)
        op, value = node.op, node.value
        check_comparison(attr, op, value)
        if value is None:
            # `attr eq null` asks for an unassigned attribute; `ne null` for an assigned one.
            return ~self._present(target) if op == "eq" else self._present(target)
        if attr.type is Type.BOOLEAN:
            self.read_values = True
            return self._boolean(node, target)
        if attr.type in (Type.INTEGER, Type.DECIMAL):
            self.read_values = True
            return self._number(node, target)
        if attr.type is Type.DATETIME and not target.column:
            # Kept as the client wrote it, in any of the forms xsd:dateTime allows, which
            # PostgreSQL's own reading would not all accept.
            raise InvalidFilter(f"Filtering on '{attr.name}' is not supported.")
        if attr.type is Type.DATETIME:
            self.read_values = True
            return self._datetime(node, target)
        raw = lhs if lhs is not None else target.text()
        slot = self.slots.get(id(node)) if self.slots is not None else None
        if slot is None:
            self.read_values = True  # the value is written into the SQL
        lhs, rhs = raw, Value(value) if slot is None else Slot(slot)
        if not attr.case_exact:
            lhs, rhs = Lower(raw), Lower(rhs)
        # On the raw value, so the planner drops it where the column is NOT NULL and it never
        # lures the planner into a btree scan of lower(column).
        assigned = Q(lk.IsNull(raw, False))
        if op in ("eq", "ne"):
            matched = Q(lk.Exact(lhs, rhs)) & assigned
            return matched if op == "eq" else ~matched
        lookup = _PATTERN_OPS.get(op) or _ORDERING_OPS[op]
        return Q(lookup(lhs, rhs)) & assigned

    def _present(self, target: _Target) -> Q:
        """RFC 7644 §3.4.2.2 `pr`: a non-empty, non-null value."""
        if target.attr.is_complex:
            parent = "__".join((target.document, *target.json_path[:-1]))
            return Q(**{f"{parent}__has_key": target.json_path[-1]})
        lhs = target.text()
        present = Q(lk.IsNull(lhs, False))
        if target.attr.type in _STRING_TYPES:
            present &= ~Q(lk.Exact(lhs, ""))
        return present

    def _boolean(self, node: Compare, target: _Target) -> Q:
        value = node.value
        if target.column:
            lhs: Expression = F(target.column)
            matched = Q(lk.Exact(lhs, value))
        else:
            # jsonb: a JSON comparison, so that `true` matches the stored JSON true.
            lhs = target.json()
            matched = Q(**{"__".join((target.document, *target.json_path)): value})
        matched &= Q(lk.IsNull(lhs, False))
        return matched if node.op == "eq" else ~matched

    def _number(self, node: Compare, target: _Target) -> Q:
        """Compare an integer or decimal numerically, exactly (as `numeric`, not a float)."""
        lhs: Expression = F(target.column) if target.column else _numeric(target.text())
        rhs = Value(Decimal(str(node.value)), output_field=DecimalField())
        matched = Q(lk.IsNull(lhs, False))
        if node.op in ("eq", "ne"):
            matched &= Q(lk.Exact(lhs, rhs))
            return matched if node.op == "eq" else ~matched
        return matched & Q(_ORDERING_OPS[node.op](lhs, rhs))

    def _datetime(self, node: Compare, target: _Target) -> Q:
        instant = parse_datetime(node.value)
        lhs = F(target.column)
        if node.op in ("eq", "ne"):
            matched = Q(lk.Exact(lhs, instant))
            return matched if node.op == "eq" else ~matched
        return Q(_ORDERING_OPS[node.op](lhs, instant))


class _numeric(Func):
    """The text of a JSON number as `numeric`: its exact value, whatever its size."""

    template = "(%(expressions)s)::numeric"
    output_field = DecimalField()


def _relative(node: Present | Compare, target: _Target) -> Present | Compare | None:
    """Return `node` rewritten against one value of its multi-valued attribute."""
    if not target.json_path:
        return None if isinstance(node, Present) else node
    sub = AttrPath(target.json_path[0])
    if isinstance(node, Present):
        return Present(sub)
    return Compare(sub, node.op, node.value)


def _constant_match(node: Compare, actual: str) -> bool:
    """Evaluate a comparison against a schema URI, which the server knows without reading a
    row; URIs compare case-insensitively."""
    if not isinstance(node.value, str):
        raise InvalidFilter(f"'{node.path}' is a string: compare it with a string.")
    return compare_text(node.op, actual, node.value, case_exact=False)
