"""Hypothesis strategies for SCIM requests, built from the schema table
(`provisioning.scim.schema`) and the filter grammar (`provisioning.scim.filter`): every
attribute, sub-attribute, URN and operator comes from there, none is listed here.

Each strategy mixes what the server should accept with what it must refuse: the right type
or any JSON value at every attribute, names in any case, NULs and lone surrogates, numbers
past 64 bits, and filters and paths cut or spliced at random. Resources the test seeds are
named by placeholders (`seed("user", 0)`) that `resolve` swaps for their ids.
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass

from hypothesis import strategies as st

from provisioning.scim.filter import COMPARISON_OPERATORS
from provisioning.scim.patch import PATCH_OP_URN
from provisioning.scim.schema import (
    COMMON_ATTRIBUTES,
    SEARCH_REQUEST_URN,
    Attribute,
    ResourceType,
    Schema,
    Type,
)

# --- Text and JSON -----------------------------------------------------------------------------

# Inputs that broke SCIM servers before, kept in every draw's reach.
NASTY_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udc00x",
    "\ud83d\ude00",
    "é",
    "\u202e",
    "\ufeff",
    '"',
    "\\",
    "\\u0000",
    "\\ud800",
    "[",
    "]",
    "(",
    ")",
    ".",
    ":",
    "urn:",
    "%00",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "9" * 40,
    "x" * 600,
)
HUGE_NUMBERS = (2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**30))

any_text = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(st.characters(categories=None, exclude_categories=()), max_size=24),
)
numbers = st.one_of(
    st.sampled_from(HUGE_NUMBERS),
    st.integers(),
    st.floats(),  # infinities and NaN too: they encode as JSON that is no JSON
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=6,
)


def recased(name: str) -> st.SearchStrategy[str]:
    """Return `name` as sent, in lower or upper case: SCIM names are case-insensitive."""
    return st.sampled_from((name, name.lower(), name.upper()))


# --- Resources seeded by the test --------------------------------------------------------------

SEED_KINDS = {"User": "user", "Group": "group"}
SEEDS_PER_KIND = 3


def seed(kind: str, index: int) -> str:
    """Return the placeholder of a seeded resource's id, e.g. ``{{user:0}}``."""
    return f"{{{{{kind}:{index}}}}}"


def resolve(value, ids: dict[str, str]):
    """Return `value` with every placeholder string replaced by the seeded id it names."""
    if isinstance(value, str):
        for placeholder, resource_id in ids.items():
            value = value.replace(placeholder, resource_id)
        return value
    if isinstance(value, list):
        return [resolve(item, ids) for item in value]
    if isinstance(value, dict):
        return {resolve(key, ids): resolve(item, ids) for key, item in value.items()}
    return value


seed_ids = st.builds(
    seed, st.sampled_from(sorted(SEED_KINDS.values())), st.integers(0, SEEDS_PER_KIND - 1)
)
resource_ids = st.one_of(
    seed_ids, st.uuids().map(str), any_text, st.just("2819c223-7f76-453a-919d-413861904646")
)


# --- Values from the schema table --------------------------------------------------------------

# The strings that a database, an index or an encoder refuses, one draw away for any string.
KILLER_TEXT = ("\x00", "a\x00b", "\ud800", "\udc00x", "é", "", "x" * 3000, "\\u0000")
plain_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=16
)


def _datetime_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.sampled_from(
            ("2024-01-31T12:00:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+15:00")
        ),
    )


def valid_value(attr: Attribute, *, element: bool = False) -> st.SearchStrategy:
    """Return values the schema table allows for `attr` (one element when `element`)."""
    if attr.multi_valued and not element:
        return st.lists(valid_value(attr, element=True), max_size=3)
    if attr.is_complex:
        subs = {sub.name: valid_value(sub) for sub in attr.sub_attributes}
        required = {
            name: subs.pop(name) for name in list(subs) if attr.sub_attribute(name).required
        }
        return st.fixed_dictionaries(required, optional=subs)
    if attr.type is Type.BOOLEAN:
        return st.one_of(st.booleans(), st.sampled_from(("True", "false")))
    if attr.type is Type.DATETIME:
        return _datetime_text()
    if attr.type is Type.BINARY:
        return st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())
    if attr.type in (Type.INTEGER, Type.DECIMAL):
        return st.integers(-1000, 1000)
    choices = [plain_text, seed_ids]
    if attr.canonical_values:
        choices.append(st.sampled_from(attr.canonical_values))
    return st.one_of(*choices)


def hostile_value(attr: Attribute, *, element: bool = False) -> st.SearchStrategy:
    """Return values for `attr` that are wrong in one place: a string the database refuses,
    a number past 64 bits, another JSON type, a bare string for a complex value, a value too
    long for its index; inside a list or an object, next to valid neighbours."""
    wrong = [st.sampled_from(KILLER_TEXT), st.sampled_from(HUGE_NUMBERS), json_values]
    if attr.multi_valued and not element:
        wrong.append(
            st.tuples(
                st.lists(valid_value(attr, element=True), max_size=2),
                hostile_value(attr, element=True),
            ).map(lambda t: [*t[0], t[1]])
        )
    elif attr.is_complex:
        wrong.append(
            st.sampled_from(attr.sub_attributes).flatmap(
                lambda sub: st.tuples(valid_value(attr, element=True), hostile_value(sub)).map(
                    lambda t, name=sub.name: {**t[0], name: t[1]}
                )
            )
        )
    if attr.max_length:
        wrong.append(st.just("y" * (attr.max_length + 1)))
    return st.one_of(*wrong)


def value_for(attr: Attribute) -> st.SearchStrategy:
    """Return values for `attr`: mostly valid, one in four hostile."""
    valid = valid_value(attr)
    return st.one_of(valid, valid, valid, hostile_value(attr))


# --- Attribute paths ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPath:
    """An attribute path of the schema table: its text and the attribute it ends at."""

    text: str
    attr: Attribute | None  # None for a whole extension
    parent: Attribute | None = None  # the complex attribute of a sub-attribute path


def top_level(resource_type: ResourceType) -> list[tuple[Schema, Attribute]]:
    """Return every top-level attribute of `resource_type`: common, core and extensions'."""
    core = resource_type.schema
    found = [(core, attr) for attr in COMMON_ATTRIBUTES.values()]
    found += [(core, attr) for attr in core.attributes]
    found += [
        (ext.schema, attr) for ext in resource_type.extensions for attr in ext.schema.attributes
    ]
    return found


def named_paths(resource_type: ResourceType) -> list[NamedPath]:
    """Return every path the schema table knows for `resource_type`, plain and URN-qualified."""
    paths = [NamedPath(ext.schema.id, None) for ext in resource_type.extensions]
    for schema, attr in top_level(resource_type):
        for prefix in ("", f"{schema.id}:"):
            paths.append(NamedPath(f"{prefix}{attr.name}", attr))
            paths.extend(
                NamedPath(f"{prefix}{attr.name}.{sub.name}", sub, attr)
                for sub in attr.sub_attributes
            )
    return paths


unknown_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)


def path_texts(resource_type: ResourceType) -> st.SearchStrategy[str]:
    """Return attribute paths as `attributes`, `sortBy` and PATCH `path` carry them."""
    known = st.sampled_from(named_paths(resource_type)).flatmap(lambda p: recased(p.text))
    return st.one_of(known, known, unknown_names, any_text)


# --- Filters (RFC 7644 §3.4.2.2, the grammar of provisioning/scim/filter.py) -------------------

OPERATORS = sorted(COMPARISON_OPERATORS)


def _literal(value) -> str:
    return json.dumps(value)


def _comp_value(attr: Attribute | None) -> st.SearchStrategy[str]:
    """Return compValue texts: JSON strings (escapes and lone surrogates too), numbers,
    true/false/null, and the occasional token that is none of them."""
    typed = st.just('"x"') if attr is None else valid_value(attr, element=True).map(_literal)
    return st.one_of(
        typed,
        any_text.map(_literal),
        any_text.map(lambda s: json.dumps(s, ensure_ascii=False)),
        st.sampled_from(("true", "False", "null", "NULL", "-0", "1.5e999", "0.1", "1e-400")),
        st.sampled_from(HUGE_NUMBERS).map(str),
        unknown_names,
    )


def _comparison(path: str, attr: Attribute | None) -> st.SearchStrategy[str]:
    present = recased("pr").map(lambda op: f"{path} {op}")
    compared = st.tuples(st.sampled_from(OPERATORS).flatmap(recased), _comp_value(attr)).map(
        lambda t: f"{path} {t[0]} {t[1]}"
    )
    return st.one_of(present, compared)


def _value_filter(parent: Attribute) -> st.SearchStrategy[str]:
    """Return `parent[...]` over its sub-attributes, and Entra's `parent[...].sub op value`."""
    inner = _filter_tree(
        st.sampled_from(parent.sub_attributes).flatmap(
            lambda sub: recased(sub.name).flatmap(lambda name: _comparison(name, sub))
        )
    )
    entra = st.sampled_from(parent.sub_attributes).flatmap(
        lambda sub: _comparison(f".{sub.name}", sub)
    )
    return st.tuples(recased(parent.name), inner, st.one_of(st.just(""), entra)).map(
        lambda t: f"{t[0]}[{t[1]}]{t[2]}"
    )


def _filter_tree(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda child: st.one_of(
            st.tuples(child, st.sampled_from(("and", "or", "AND", "Or")), child).map(" ".join),
            child.map(lambda f: f"not ({f})"),
            child.map(lambda f: f"({f})"),
        ),
        max_leaves=5,
    )


def _mutated(text: str) -> st.SearchStrategy[str]:
    """Return `text` cut short, or with a character dropped or spliced in."""
    position = st.integers(0, len(text))
    return st.one_of(
        position.map(lambda i: text[:i]),
        position.map(lambda i: text[:i] + text[i + 1 :]),
        st.tuples(position, st.sampled_from(NASTY_TEXT + tuple('"[]().'))).map(
            lambda t: text[: t[0]] + t[1] + text[t[0] :]
        ),
    )


def filters(resource_type: ResourceType) -> st.SearchStrategy[str]:
    """Return filters for `resource_type`: well-formed ones over every attribute path of the
    schema table and every operator, value filters on every multi-valued complex attribute,
    and broken variants of both."""
    paths = st.sampled_from(named_paths(resource_type)).flatmap(
        lambda p: recased(p.text).flatmap(lambda text: _comparison(text, p.attr))
    )
    unknown = unknown_names.flatmap(lambda name: _comparison(name, None))
    multi = [attr for _, attr in top_level(resource_type) if attr.multi_valued and attr.is_complex]
    leaves = st.one_of(paths, paths, unknown, *map(_value_filter, multi))
    well_formed = _filter_tree(leaves)
    return st.one_of(well_formed, well_formed, well_formed.flatmap(_mutated), any_text)


# --- Bodies ------------------------------------------------------------------------------------


def _member_name(name: str) -> st.SearchStrategy[str]:
    return st.one_of(recased(name), recased(name), st.just(name + "\ud800"))


def resources(resource_type: ResourceType) -> st.SearchStrategy[dict]:
    """Return POST/PUT bodies: each attribute of the schema table absent, of its type, or any
    JSON value; `schemas` right, missing or wrong; names in any case, now and then twice."""
    required = {attr.name for _, attr in top_level(resource_type) if attr.required}
    core = resource_type.schema

    def member(attr: Attribute):
        return st.tuples(_member_name(attr.name), value_for(attr))

    def members_of(pairs):
        return st.lists(st.one_of(*pairs), max_size=6)

    core_pairs = [member(attr) for schema, attr in top_level(resource_type) if schema is core]
    extensions = [
        st.tuples(
            recased(ext.schema.id),
            st.one_of(
                members_of([member(attr) for attr in ext.schema.attributes]).map(dict),
                json_values,
            ),
        )
        for ext in resource_type.extensions
    ]
    all_schemas = [core.id, *(ext.schema.id for ext in resource_type.extensions)]
    right = st.sampled_from((all_schemas, [core.id]))
    schemas = st.one_of(
        right,
        right,
        right,
        right,
        st.lists(st.one_of(st.sampled_from(all_schemas), any_text), max_size=3),
        json_values,
    )
    needed = st.fixed_dictionaries(
        {name: valid_value(core.attribute(name)) for name in sorted(required)}
    )
    return st.tuples(schemas, needed, members_of(core_pairs + extensions)).map(
        lambda t: {"schemas": t[0], **t[1], **dict(t[2])}
    )


def patch_paths(resource_type: ResourceType) -> st.SearchStrategy[tuple[str, Attribute | None]]:
    """Return PATCH paths with the attribute they end at: plain, URN-qualified, whole
    extensions, value filters with and without a sub-attribute, unknown names, junk."""
    known = st.sampled_from(named_paths(resource_type)).flatmap(
        lambda p: recased(p.text).map(lambda text: (text, p.attr))
    )
    multi = [attr for _, attr in top_level(resource_type) if attr.multi_valued and attr.is_complex]
    filtered = (
        st.sampled_from(multi)
        .flatmap(
            lambda attr: st.tuples(
                st.just(attr),
                _filter_tree(
                    st.sampled_from(attr.sub_attributes).flatmap(
                        lambda sub: _comparison(sub.name, sub)
                    )
                ),
                st.one_of(st.none(), st.sampled_from(attr.sub_attributes)),
            )
        )
        .map(lambda t: (f"{t[0].name}[{t[1]}]" + (f".{t[2].name}" if t[2] else ""), t[2] or t[0]))
    )
    junk = st.one_of(unknown_names, any_text).map(lambda text: (text, None))
    return st.one_of(
        known,
        known,
        filtered,
        filtered,
        junk,
        known.flatmap(lambda p: _mutated(p[0]).map(lambda text: (text, p[1]))),
    )


def patch_operations(resource_type: ResourceType) -> st.SearchStrategy[dict]:
    """Return one PATCH operation: an op (any case, or none of the three), a path from the
    schema table or none, and a value of the path's type, any JSON value, or none."""
    ops = st.one_of(
        st.sampled_from(("add", "remove", "replace")).flatmap(recased), any_text, json_values
    )

    def with_path(path: tuple[str, Attribute | None]):
        text, attr = path
        value = json_values if attr is None else value_for(attr)
        return st.fixed_dictionaries(
            {"op": ops, "path": st.one_of(st.just(text), st.just(text), json_values)},
            optional={"value": value},
        )

    pathless = st.fixed_dictionaries(
        {"op": ops},
        optional={"value": st.one_of(resources(resource_type), json_values)},
    )
    return st.one_of(patch_paths(resource_type).flatmap(with_path), pathless)


def patch_bodies(resource_type: ResourceType) -> st.SearchStrategy:
    """Return PatchOp bodies (RFC 7644 §3.5.2), mostly well-formed around their operations."""
    operations = st.lists(patch_operations(resource_type), min_size=1, max_size=3)
    return st.one_of(
        st.builds(lambda ops: {"schemas": [PATCH_OP_URN], "Operations": ops}, operations),
        st.builds(lambda ops: {"schemas": [PATCH_OP_URN], "Operations": ops}, operations),
        st.fixed_dictionaries(
            {},
            optional={
                "schemas": st.one_of(st.just([PATCH_OP_URN]), json_values),
                "Operations": st.one_of(operations, json_values),
                "operations": operations,
            },
        ),
        json_values,
    )


# --- Query parameters and headers --------------------------------------------------------------

integer_texts = st.one_of(
    st.sampled_from(HUGE_NUMBERS).map(str),
    st.integers(-5, 5).map(str),
    st.sampled_from(("", " 1", "+2", "1_000", "0x10", "1.0", "\u0661", "\x00")),
    any_text,
)


def search_bodies(resource_type: ResourceType | None) -> st.SearchStrategy:
    """Return SearchRequest bodies (RFC 7644 §3.4.3) for one resource type or for the root."""
    types = [resource_type] if resource_type else []
    paths = st.one_of(*map(path_texts, types)) if types else any_text
    filter_texts = st.one_of(*map(filters, types)) if types else any_text
    optional = {
        "filter": st.one_of(filter_texts, json_values),
        "attributes": st.one_of(st.lists(paths, max_size=3), paths, json_values),
        "excludedAttributes": st.one_of(st.lists(paths, max_size=3), paths, json_values),
        "sortBy": st.one_of(paths, json_values),
        "sortOrder": st.one_of(st.sampled_from(("ascending", "DESCENDING")), json_values),
        "startIndex": st.one_of(numbers, json_values),
        "count": st.one_of(numbers, json_values),
        "cursor": st.one_of(st.just(""), any_text, json_values),
    }
    schemas = st.one_of(st.just([SEARCH_REQUEST_URN]), st.just([SEARCH_REQUEST_URN]), json_values)
    return st.one_of(st.fixed_dictionaries({"schemas": schemas}, optional=optional), json_values)


# What a header value can hold (HTTP forbids control characters and surrounding spaces).
visible_ascii = st.text(
    st.sampled_from(string.ascii_letters + string.digits + string.punctuation + " "), max_size=40
).map(str.strip)
media_types = st.sampled_from(
    (
        "application/scim+json",
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json;q=0.5, application/scim+json",
        "*/*",
        "application/*",
        "text/html",
        "application/xml",
        "text/plain; charset=latin-1",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/scim+json; q=abc",
        "",
    )
)
entity_tags = st.one_of(
    st.sampled_from(('W/"1"', '"1"', "*", 'W/"2", W/"1"', 'W/"' + "9" * 30 + '"', 'W/""')),
    visible_ascii,
)
