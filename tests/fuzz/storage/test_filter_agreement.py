"""One filter semantics: the SQL compiler (`provisioning.storage.query`, run on PostgreSQL)
and the Python evaluator (`provisioning.scim.filtering.matches`) agree on generated users and
filters (RFC 7644 §3.4.2.2).

Each example stores a handful of generated users, then runs generated filters both ways: the
filter is refused by both or by neither (invalidFilter), and when accepted it selects the
same users. The filters cover caseExact and case-insensitive strings, null, absent and empty
values with `pr`, booleans, integers and decimals, date-times, multi-valued complex
attributes with value filters, and `and`/`or`/`not`. The SQL is compiled as list requests
compile it, with the strings as parameters (`filter_template`).

Integers and decimals need an attribute of those types, which the User schema lacks: the
users here carry a test extension with `level` (integer) and `score` (decimal), kept in the
document as any extension is. Paths the store refuses on its own (`meta.location`,
`meta.version`, date-times kept in the document) and a user's `groups` are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from provisioning.models import User
from provisioning.scim.errors import InvalidFilter
from provisioning.scim.filter import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from provisioning.scim.filtering import matches
from provisioning.scim.resource import Meta, parse_resource, render_resource
from provisioning.scim.schema import (
    ENTERPRISE_USER_SCHEMA_URN,
    USER_RESOURCE_TYPE,
    USER_SCHEMA_URN,
    Attribute,
    ResourceType,
    Schema,
    SchemaExtension,
    Type,
)
from provisioning.storage import users
from provisioning.storage.listing import FIRST_STRING, TENANT
from provisioning.storage.query import check_strings, filter_template, shape
from provisioning.storage.statements import Compiled, Slot

NUMBERS_URN = "urn:example:params:scim:schemas:extension:numbers:2.0:User"
NUMBERS = Schema(
    NUMBERS_URN,
    "Numbers",
    "Numbers to filter on",
    (Attribute("level", Type.INTEGER), Attribute("score", Type.DECIMAL)),
)
USER = ResourceType(
    "User",
    "/Users",
    "User Account",
    USER_RESOURCE_TYPE.schema,
    (*USER_RESOURCE_TYPE.extensions, SchemaExtension(NUMBERS)),
)
SOURCE = replace(users.source(), resource_type=USER)

# Few distinct characters, so that values often collide, differ only in case, or contain
# one another; "É"/"é" fold as "E"/"e" do.
WORDS = st.text(alphabet="aAbé É", max_size=3)
EMAIL_TYPES = st.sampled_from(("work", "Work", "home", ""))
INSTANTS = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2020, 1, 3), timezones=st.just(dt.UTC)
).map(lambda instant: instant.replace(microsecond=instant.microsecond // 1000 * 1000))
NUMBERS_DRAWN = st.one_of(
    st.integers(-3, 3),
    st.decimals(min_value=-3, max_value=3, places=1, allow_nan=False),
)


def _optional(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def users_drawn(draw) -> tuple[dict, dt.datetime, dt.datetime]:
    """Return a User body, and its creation and last change time."""
    body: dict = {"schemas": [USER_SCHEMA_URN]}
    for name in ("displayName", "title", "nickName", "externalId"):
        body[name] = draw(_optional(WORDS))
    body["active"] = draw(_optional(st.booleans()))
    body["name"] = {"givenName": draw(_optional(WORDS)), "middleName": draw(_optional(WORDS))}
    body["emails"] = draw(
        st.lists(
            st.fixed_dictionaries(
                {"value": WORDS.filter(bool)},
                optional={"type": EMAIL_TYPES, "primary": st.just(True)},
            ),
            max_size=3,
        )
    )
    for email in body["emails"][1:]:
        email.pop("primary", None)  # RFC 7643 §2.4: primary true at most once
    body[ENTERPRISE_USER_SCHEMA_URN] = {"department": draw(_optional(WORDS))}
    level, score = draw(_optional(st.integers(-3, 3))), draw(_optional(NUMBERS_DRAWN))
    body[NUMBERS_URN] = {"level": level, "score": None if score is None else float(score)}
    created = draw(INSTANTS)
    return body, created, created + dt.timedelta(seconds=draw(st.integers(0, 3)))


# (path, the values it is compared with); every path resolves in USER.
STRINGS = st.one_of(WORDS, st.sampled_from(("work", "WORK", "User", "user")))
PATHS = [
    ("userName", STRINGS),
    ("displayName", STRINGS),
    ("title", STRINGS),
    ("externalId", STRINGS),
    ("name.givenName", STRINGS),
    ("name.middleName", STRINGS),
    ("name", STRINGS),
    ("department", STRINGS),
    (f"{ENTERPRISE_USER_SCHEMA_URN}:department", STRINGS),
    ("emails", STRINGS),
    ("emails.value", STRINGS),
    ("emails.type", STRINGS),
    ("emails.primary", st.booleans()),
    ("active", st.one_of(st.booleans(), st.sampled_from(("true", "False", "yes")))),
    ("level", NUMBERS_DRAWN),
    (f"{NUMBERS_URN}:score", NUMBERS_DRAWN),
    ("meta.created", INSTANTS.map(lambda instant: instant.isoformat())),
    ("meta.lastModified", INSTANTS.map(lambda instant: instant.isoformat())),
    ("meta.resourceType", STRINGS),
    ("schemas", st.sampled_from((USER_SCHEMA_URN, NUMBERS_URN.upper(), "urn:x"))),
    ("id", STRINGS),
]
OPERATORS = st.sampled_from(("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"))
# Now and then a value of another type than the attribute's: both sides must refuse it.
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-1, 1), WORDS)


def _path(text: str) -> AttrPath:
    schema, _, rest = text.rpartition(":") if text.startswith("urn:") else (None, "", text)
    attr, _, sub = rest.partition(".")
    return AttrPath(attr, sub or None, schema or None)


@st.composite
def comparisons(draw, paths=PATHS) -> Filter:
    text, values = draw(st.sampled_from(paths))
    path = _path(text)
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return Present(path)
    if kind == 1:  # `eq null` and `ne null` ask for (un)assigned values; others are refused
        return Compare(path, draw(st.sampled_from(("eq", "ne", "eq", "ne", "gt"))), None)
    value = draw(ODD_VALUES if kind == 2 else values)
    return Compare(path, draw(OPERATORS), value)


SUB_PATHS = [("value", STRINGS), ("type", STRINGS), ("primary", st.booleans())]


@st.composite
def value_filters(draw) -> Filter:
    inner = draw(
        st.recursive(
            comparisons(SUB_PATHS),
            lambda children: st.one_of(
                st.builds(And, children, children),
                st.builds(Or, children, children),
                st.builds(Not, children),
            ),
            max_leaves=3,
        )
    )
    return ValuePath(AttrPath("emails"), inner)


FILTERS = st.recursive(
    st.one_of(comparisons(), value_filters()),
    lambda children: st.one_of(
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
    ),
    max_leaves=4,
)


def _selected_by_sql(tenant, node: Filter) -> set[str] | None:
    """Return the ids of the tenant's users the compiled filter selects; None if refused."""
    try:
        parsed = shape(node)
        check_strings(parsed)
        condition, _ = filter_template(parsed, SOURCE, FIRST_STRING)
    except InvalidFilter:
        return None
    query = User.objects.filter(tenant_id=Slot(TENANT)).filter(condition).values_list("pk")
    return {str(row[0]) for row in Compiled(query).rows([tenant.pk, *parsed.strings])}


def _selected_in_python(resources: list[dict], node: Filter) -> set[str] | None:
    """Return the ids of the rendered resources the filter matches; None if refused."""
    try:
        return {resource["id"] for resource in resources if matches(node, resource, USER)}
    except InvalidFilter:
        return None


@pytest.mark.django_db
@given(drawn=st.lists(users_drawn(), min_size=1, max_size=4), filters=st.lists(FILTERS, max_size=6))
def test_sql_and_python_agree(tenant, drawn, filters):
    """Every generated filter selects the same generated users in PostgreSQL and in Python,
    or is refused by both."""
    User.objects.filter(tenant=tenant).delete()
    documents = [
        parse_resource({**body, "userName": f"u{i}-{body.get('displayName')}"}, USER)
        for i, (body, _, _) in enumerate(drawn)
    ]
    stored = users.create_each(tenant, documents)
    resources = []
    for written, (_, created, last_modified) in zip(stored, drawn, strict=True):
        user = written.obj
        User.objects.filter(pk=user.pk).update(created=created, last_modified=last_modified)
        meta = Meta(created, last_modified, user.version, f"/Users/{user.pk}")
        resources.append(render_resource(USER, str(user.pk), user.data, meta, {}))
    for node in filters:
        in_python = _selected_in_python(resources, node)
        assert _selected_by_sql(tenant, node) == in_python, (node, resources)
        # Seen with --hypothesis-show-statistics: how often each outcome is tested.
        if in_python is None:
            event("refused")
        else:
            event("selects some" if in_python else "selects none")
            event("selects all" if len(in_python) == len(resources) else "selects not all")
