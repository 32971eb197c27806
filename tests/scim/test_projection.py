"""Tests for response projection: `attributes`, `excludedAttributes` and `returned`.

RFC 7644 §3.4.2.5 and §3.9 define the parameters; RFC 7643 §2.2 and §7 the `returned`
characteristic. The resource projected is the full User of RFC 7643 §8.2 with the enterprise
extension of §8.3, laid out as `render_resource` lays it out.
"""

from __future__ import annotations

import copy

import pytest

from provisioning.scim.errors import InvalidValue
from provisioning.scim.projection import Projection, ResolvedPath
from provisioning.scim.schema import (
    USER_RESOURCE_TYPE,
    Attribute,
    ResourceType,
    Returned,
    Schema,
    Type,
)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_ID = "2819c223-7f76-453a-919d-413861904646"

NAME = {
    "formatted": "Ms. Barbara J Jensen, III",
    "familyName": "Jensen",
    "givenName": "Barbara",
    "middleName": "Jane",
    "honorificPrefix": "Ms.",
    "honorificSuffix": "III",
}
EMAILS = [
    {"value": "bjensen@example.com", "type": "work", "primary": True},
    {"value": "babs@jensen.org", "type": "home"},
]
META = {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "location": f"https://example.com/v2/Users/{USER_ID}",
    "version": 'W/"3"',
}
ENTERPRISE_USER = {
    "employeeNumber": "701984",
    "costCenter": "4130",
    "organization": "Universal Studios",
    "division": "Theme Park",
    "department": "Tour Operations",
    "manager": {
        "value": "26118915-6090-4610-87e4-49d8ca9f808d",
        "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
        "displayName": "John Smith",
    },
}

FULL_USER = {
    "schemas": [CORE, ENTERPRISE],
    "id": USER_ID,
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": NAME,
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "title": "Tour Guide",
    "userType": "Employee",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "emails": EMAILS,
    "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"},
    ],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [{"value": "https://photos.example.com/profilephoto.jpg", "type": "photo"}],
    "addresses": [
        {
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "type": "work",
            "primary": True,
        },
        {"formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA", "type": "home"},
    ],
    "groups": [
        {
            "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides",
        }
    ],
    "entitlements": [{"value": "Tour Guide"}],
    "roles": [{"value": "Tour Guide"}],
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
    ENTERPRISE: ENTERPRISE_USER,
    "meta": META,
}


def ids(cases: list[tuple]) -> list[str]:
    """Return the readable test ids, the first item of each case."""
    return [case[0] for case in cases]


def without(resource: dict, *keys: str, **replaced: object) -> dict:
    """Return `resource` without `keys`, with the members in `replaced` swapped in."""
    return {k: replaced.get(k, v) for k, v in resource.items() if k not in keys}


def minimal(**members: object) -> dict:
    """Return the core-only minimum set (RFC 7644 §3.9) with `members` after it."""
    return {"schemas": [CORE], "id": USER_ID, **members}


ALL_NAME_PARTS = ",".join(f"name.{part}" for part in NAME)
ALL_ENTERPRISE = ",".join(f"{ENTERPRISE}:{attr}" for attr in ENTERPRISE_USER)

# (id, attributes, excludedAttributes, expected projection of FULL_USER)
CASES = [
    # --- No parameters: the default set (RFC 7644 §3.4) ---------------------------------------
    ("default", None, None, FULL_USER),
    ("empty-params", "", " , ", FULL_USER),
    ("empty-list", [], [""], FULL_USER),
    # --- attributes: only what is named, plus `returned: always` (RFC 7644 §3.9) --------------
    ("attributes-user-name", "userName", None, minimal(userName="bjensen@example.com")),
    ("attributes-case-insensitive", "USERNAME", None, minimal(userName="bjensen@example.com")),
    ("attributes-id-only", "id", None, minimal()),
    ("attributes-schemas-is-not-an-attribute", "schemas", None, minimal()),
    ("attributes-meta", "meta", None, minimal(meta=META)),
    ("attributes-external-id", "externalId", None, minimal(externalId="701984")),
    (
        "attributes-list-with-spaces",
        "userName, displayName ,title",
        None,
        minimal(userName="bjensen@example.com", displayName="Babs Jensen", title="Tour Guide"),
    ),
    (
        "attributes-list-param",
        ["title", "userName,displayName"],
        None,
        minimal(userName="bjensen@example.com", displayName="Babs Jensen", title="Tour Guide"),
    ),
    ("attributes-complex-whole", "name", None, minimal(name=NAME)),
    ("attributes-multi-valued-whole", "emails", None, minimal(emails=EMAILS)),
    # --- attributes with sub-attributes ------------------------------------------------------
    ("attributes-sub", "name.givenName", None, minimal(name={"givenName": "Barbara"})),
    ("attributes-sub-case", "NAME.GIVENNAME", None, minimal(name={"givenName": "Barbara"})),
    (
        "attributes-two-subs",
        "name.familyName,name.givenName",
        None,
        minimal(name={"familyName": "Jensen", "givenName": "Barbara"}),
    ),
    ("attributes-parent-and-sub", "name.givenName,name", None, minimal(name=NAME)),
    (
        "attributes-multi-valued-sub",
        "emails.value",
        None,
        minimal(emails=[{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]),
    ),
    (
        "attributes-multi-valued-sub-drops-empty-elements",
        "emails.primary",
        None,
        minimal(emails=[{"primary": True}]),
    ),
    ("attributes-multi-valued-sub-drops-empty-attribute", "phoneNumbers.display", None, minimal()),
    (
        "attributes-sub-ref",
        "groups.$ref",
        None,
        minimal(groups=[{"$ref": FULL_USER["groups"][0]["$ref"]}]),
    ),
    (
        "attributes-meta-sub",
        "meta.lastModified",
        None,
        minimal(meta={"lastModified": "2011-05-13T04:42:34Z"}),
    ),
    # --- attributes qualified by a schema URN (RFC 7644 §3.10) -------------------------------
    ("attributes-core-urn", f"{CORE}:userName", None, minimal(userName="bjensen@example.com")),
    (
        "attributes-core-urn-sub",
        f"{CORE}:name.familyName",
        None,
        minimal(name={"familyName": "Jensen"}),
    ),
    ("attributes-core-urn-common", f"{CORE}:externalId", None, minimal(externalId="701984")),
    (
        "attributes-core-urn-any-case",
        f"{CORE.lower()}:USERNAME",
        None,
        minimal(userName="bjensen@example.com"),
    ),
    ("attributes-whole-core", CORE, None, without(FULL_USER, ENTERPRISE, schemas=[CORE])),
    (
        "attributes-extension-attribute",
        f"{ENTERPRISE}:employeeNumber",
        None,
        {"schemas": [CORE, ENTERPRISE], "id": USER_ID, ENTERPRISE: {"employeeNumber": "701984"}},
    ),
    (
        "attributes-extension-sub",
        f"{ENTERPRISE}:manager.displayName",
        None,
        {
            "schemas": [CORE, ENTERPRISE],
            "id": USER_ID,
            ENTERPRISE: {"manager": {"displayName": "John Smith"}},
        },
    ),
    (
        "attributes-whole-extension",
        ENTERPRISE,
        None,
        {"schemas": [CORE, ENTERPRISE], "id": USER_ID, ENTERPRISE: ENTERPRISE_USER},
    ),
    (
        "attributes-whole-extension-any-case",
        ENTERPRISE.upper(),
        None,
        {"schemas": [CORE, ENTERPRISE], "id": USER_ID, ENTERPRISE: ENTERPRISE_USER},
    ),
    (
        "attributes-extension-unqualified",
        "costCenter",
        None,
        {"schemas": [CORE, ENTERPRISE], "id": USER_ID, ENTERPRISE: {"costCenter": "4130"}},
    ),
    (
        "attributes-core-and-extension",
        f"userName,{ENTERPRISE}:department",
        None,
        {
            "schemas": [CORE, ENTERPRISE],
            "id": USER_ID,
            "userName": "bjensen@example.com",
            ENTERPRISE: {"department": "Tour Operations"},
        },
    ),
    # --- attributes naming what the server lacks: ignored, not refused ------------------------
    ("attributes-unknown", "nosuchAttribute", None, minimal()),
    ("attributes-unknown-sub", "name.nosuchPart", None, minimal()),
    ("attributes-sub-of-simple", "userName.value", None, minimal()),
    (
        "attributes-unknown-schema",
        "urn:example:params:scim:schemas:Thing:userName",
        None,
        minimal(),
    ),
    ("attributes-unknown-extension", "urn:example:params:scim:schemas:Thing", None, minimal()),
    (
        "attributes-unknown-beside-known",
        "nosuch,userName,name.nosuch",
        None,
        minimal(userName="bjensen@example.com"),
    ),
    ("attributes-never-returned", "password", None, minimal()),
    # --- excludedAttributes: the default set minus what is named (RFC 7644 §3.9) ---------------
    ("excluded-simple", None, "displayName", without(FULL_USER, "displayName")),
    ("excluded-case-insensitive", None, "DISPLAYNAME", without(FULL_USER, "displayName")),
    ("excluded-several", None, "nickName, title", without(FULL_USER, "nickName", "title")),
    ("excluded-complex", None, "name", without(FULL_USER, "name")),
    ("excluded-multi-valued", None, "emails", without(FULL_USER, "emails")),
    ("excluded-meta", None, "meta", without(FULL_USER, "meta")),
    ("excluded-required-but-default", None, "userName", without(FULL_USER, "userName")),
    ("excluded-always-has-no-effect", None, "id", FULL_USER),
    ("excluded-schemas-is-not-an-attribute", None, "schemas", FULL_USER),
    ("excluded-unknown", None, "nosuch,name.nosuch,userName.value", FULL_USER),
    (
        "excluded-sub",
        None,
        "name.givenName",
        without(FULL_USER, name=without(NAME, "givenName")),
    ),
    ("excluded-every-sub-drops-parent", None, ALL_NAME_PARTS, without(FULL_USER, "name")),
    (
        "excluded-multi-valued-sub",
        None,
        "emails.value",
        without(FULL_USER, emails=[{"type": "work", "primary": True}, {"type": "home"}]),
    ),
    (
        "excluded-multi-valued-sub-drops-empty-elements",
        None,
        "entitlements.value",
        without(FULL_USER, "entitlements"),
    ),
    (
        "excluded-extension-attribute",
        None,
        f"{ENTERPRISE}:employeeNumber",
        without(FULL_USER, **{ENTERPRISE: without(ENTERPRISE_USER, "employeeNumber")}),
    ),
    (
        "excluded-extension-sub",
        None,
        f"{ENTERPRISE}:manager.$ref",
        without(
            FULL_USER,
            **{
                ENTERPRISE: without(
                    ENTERPRISE_USER, manager=without(ENTERPRISE_USER["manager"], "$ref")
                )
            },
        ),
    ),
    (
        "excluded-whole-extension",
        None,
        ENTERPRISE,
        without(FULL_USER, ENTERPRISE, schemas=[CORE]),
    ),
    (
        "excluded-every-extension-attribute-drops-extension",
        None,
        ALL_ENTERPRISE,
        without(FULL_USER, ENTERPRISE, schemas=[CORE]),
    ),
    (
        "excluded-whole-core",
        None,
        CORE,
        {"schemas": [CORE, ENTERPRISE], "id": USER_ID, ENTERPRISE: ENTERPRISE_USER},
    ),
    # --- Both parameters: `attributes` wins (RFC 7644 §3.4.2.5) -------------------------------
    (
        "both-attributes-win",
        "userName,title",
        "title",
        minimal(userName="bjensen@example.com", title="Tour Guide"),
    ),
    # --- scim2-tester 0.5.2 crud:read:attributes: the two names it picks for a User ------------
    ("tester-attributes-external-id", "externalId", None, minimal(externalId="701984")),
    ("tester-excluded-name", None, "name", without(FULL_USER, "name")),
]


@pytest.mark.parametrize(("case", "attributes", "excluded", "expected"), CASES, ids=ids(CASES))
def test_projection_of_full_user(case, attributes, excluded, expected):
    """A full User is cut down to the attributes the parameters ask for (RFC 7644 §3.4.2.5)."""
    projection = Projection.from_params(USER_RESOURCE_TYPE, attributes, excluded)

    assert projection.apply(FULL_USER) == expected


def test_apply_keeps_the_key_order_of_the_resource():
    """The projection removes members and reorders none of them."""
    projection = Projection.from_params(USER_RESOURCE_TYPE, None, "name")

    assert list(projection.apply(FULL_USER)) == [k for k in FULL_USER if k != "name"]


def test_apply_never_returns_password():
    """`returned: never` holds even if a password reaches the renderer (RFC 7643 §4.1.1)."""
    resource = {**FULL_USER, "password": "t1meMa$heen"}

    for attributes in (None, "password", f"{CORE}:password", CORE):
        projection = Projection.from_params(USER_RESOURCE_TYPE, attributes, None)
        assert "password" not in projection.apply(resource)


def test_apply_does_not_modify_or_share_the_resource():
    """The result is a new document: changing it leaves the rendered resource intact."""
    resource = copy.deepcopy(FULL_USER)
    projection = Projection.from_params(USER_RESOURCE_TYPE, "name.givenName,emails,userName", None)

    result = projection.apply(resource)
    result["emails"][0]["value"] = "changed@example.com"
    result["name"]["givenName"] = "Changed"
    result["schemas"].append("urn:example:changed")

    assert resource == FULL_USER


def test_apply_spells_names_as_the_schema_does():
    """Output keeps the schema table's spelling of names (RFC 7643 §2.1: case-insensitive)."""
    resource = {"schemas": [CORE], "id": USER_ID, "USERNAME": "bjensen", "NAME": {"GIVENNAME": "B"}}
    projection = Projection.from_params(USER_RESOURCE_TYPE, "userName,name.givenName", None)

    assert projection.apply(resource) == minimal(userName="bjensen", name={"givenName": "B"})


def test_apply_treats_unknown_members_as_default_returned():
    """A member the schema table lacks is kept by default and dropped once `attributes` is given."""
    resource = {**FULL_USER, "nosuch": 1}

    assert Projection.from_params(USER_RESOURCE_TYPE, None, "nosuch").apply(resource) == resource
    assert Projection.from_params(USER_RESOURCE_TYPE, "nosuch", None).apply(resource) == minimal()


def test_from_params_resolves_paths_in_the_schema_spelling():
    """Paths are resolved against the schema table; common attributes belong to the core schema."""
    projection = Projection.from_params(
        USER_RESOURCE_TYPE,
        f"NAME.givenname,META,{ENTERPRISE.lower()},{ENTERPRISE}:MANAGER.value,nosuch",
        "ignored",
    )

    assert projection.attributes == frozenset(
        {
            ResolvedPath(CORE, "name", "givenName"),
            ResolvedPath(CORE, "meta"),
            ResolvedPath(ENTERPRISE),
            ResolvedPath(ENTERPRISE, "manager", "value"),
        }
    )
    assert projection.excluded == frozenset()


def test_from_params_without_attributes_is_the_default_projection():
    """No parameter, or only empty names, means the default set (RFC 7644 §3.4)."""
    assert Projection.from_params(USER_RESOURCE_TYPE, " ", None) == Projection(USER_RESOURCE_TYPE)


INVALID_PATHS = [
    ("double-dot", "a..b"),
    ("bracket", "["),
    ("value-filter", 'emails[type eq "work"]'),
    ("sub-of-sub", "name.givenName.first"),
    ("bare-urn-prefix", "urn:"),
    ("space-inside", "user name"),
    ("operator", "userName eq"),
    ("colon-without-urn", "core:userName"),
    ("non-ascii", "nämé"),
]


@pytest.mark.parametrize("param", ["attributes", "excluded"])
@pytest.mark.parametrize(("case", "text"), INVALID_PATHS, ids=ids(INVALID_PATHS))
def test_from_params_rejects_malformed_paths(case, text, param):
    """A name outside RFC 7644 §3.10's notation is a 400 `invalidValue` (§3.12 Table 9)."""
    params = {"attributes": None, "excluded": None, param: f"userName,{text}"}

    with pytest.raises(InvalidValue) as excinfo:
        Projection.from_params(USER_RESOURCE_TYPE, **params)

    parameter = "attributes" if param == "attributes" else "excludedAttributes"
    assert excinfo.value.detail.startswith(f"Invalid '{parameter}' parameter: ")
    assert excinfo.value.to_scim()["scimType"] == "invalidValue"


def test_from_params_rejects_non_string_names():
    """A `/.search` body listing something other than strings is a 400 `invalidValue`."""
    with pytest.raises(InvalidValue):
        Projection.from_params(USER_RESOURCE_TYPE, ["userName", 3], None)


# --- `needs`: what the storage layer may skip loading ----------------------------------------

NEEDS = [
    ("default-core", None, None, "emails", None, True),
    ("default-never", None, None, "password", None, False),
    ("default-extension", None, None, ENTERPRISE, None, True),
    ("default-extension-attribute", None, None, "manager", ENTERPRISE, True),
    ("default-unknown", None, None, "members", None, True),
    ("attributes-named", "userName", None, "USERNAME", None, True),
    ("attributes-not-named", "userName", None, "emails", None, False),
    ("attributes-always", "userName", None, "id", None, True),
    ("attributes-meta-not-named", "userName", None, "meta", None, False),
    ("attributes-sub-needs-parent", "name.givenName", None, "name", None, True),
    ("attributes-qualified", "userName", None, "userName", CORE, True),
    ("attributes-extension-not-named", "userName", None, ENTERPRISE, None, False),
    ("attributes-extension-attribute", f"{ENTERPRISE}:manager.value", None, ENTERPRISE, None, True),
    ("attributes-extension-other", f"{ENTERPRISE}:manager", None, "department", ENTERPRISE, False),
    ("attributes-unknown", "userName", None, "members", None, False),
    ("excluded-named", None, "emails", "Emails", None, False),
    ("excluded-sub-keeps-parent", None, "name.givenName", "name", None, True),
    ("excluded-always", None, "id", "id", None, True),
    ("excluded-whole-extension", None, ENTERPRISE, "department", ENTERPRISE, False),
]


@pytest.mark.parametrize(
    ("case", "attributes", "excluded", "name", "schema", "expected"), NEEDS, ids=ids(NEEDS)
)
def test_needs(case, attributes, excluded, name, schema, expected):
    """`needs` tells whether a top-level attribute can appear in the response."""
    projection = Projection.from_params(USER_RESOURCE_TYPE, attributes, excluded)

    assert projection.needs(name, schema) is expected


# --- `returned: request` and `always` sub-attributes ------------------------------------------
# The User table has neither, so a small resource type of our own exercises them.

WIDGET_URN = "urn:example:params:scim:schemas:core:2.0:Widget"
WIDGET = ResourceType(
    "Widget",
    "/Widgets",
    "A resource type with every `returned` setting.",
    Schema(
        WIDGET_URN,
        "Widget",
        "Widget",
        (
            Attribute("label"),
            Attribute("secret", returned=Returned.REQUEST),
            Attribute("hidden", returned=Returned.NEVER),
            Attribute(
                "owner",
                Type.COMPLEX,
                sub_attributes=(
                    Attribute("value", returned=Returned.ALWAYS),
                    Attribute("display"),
                    Attribute("audit", returned=Returned.REQUEST),
                ),
            ),
        ),
    ),
)
WIDGET_ID = "w-1"
OWNER = {"value": "u-1", "display": "Babs", "audit": "created by u-9"}
WIDGET_RESOURCE = {
    "schemas": [WIDGET_URN],
    "id": WIDGET_ID,
    "label": "Blue",
    "secret": "s3cret",
    "hidden": "h1dden",
    "owner": OWNER,
}


def widget(**members: object) -> dict:
    return {"schemas": [WIDGET_URN], "id": WIDGET_ID, **members}


RETURNED = [
    ("default", None, None, widget(label="Blue", owner={"value": "u-1", "display": "Babs"})),
    ("request-named", "secret", None, widget(secret="s3cret")),
    ("request-named-qualified", f"{WIDGET_URN}:secret", None, widget(secret="s3cret")),
    (
        "request-not-by-whole-schema",
        WIDGET_URN,
        None,
        widget(label="Blue", owner={"value": "u-1", "display": "Babs"}),
    ),
    (
        "request-excluded-stays-out",
        None,
        "secret",
        widget(label="Blue", owner={"value": "u-1", "display": "Babs"}),
    ),
    ("never-named", "hidden", None, widget()),
    (
        "parent-does-not-request-sub",
        "owner",
        None,
        widget(owner={"value": "u-1", "display": "Babs"}),
    ),
    (
        "request-sub-named",
        "owner.audit",
        None,
        widget(owner={"value": "u-1", "audit": "created by u-9"}),
    ),
    (
        "always-sub-stays-with-other-sub",
        "owner.display",
        None,
        widget(owner={"value": "u-1", "display": "Babs"}),
    ),
    (
        "always-sub-cannot-be-excluded",
        None,
        "owner.value",
        widget(label="Blue", owner={"value": "u-1", "display": "Babs"}),
    ),
    (
        "excluded-sub-leaves-always-sub",
        None,
        "owner.display",
        widget(label="Blue", owner={"value": "u-1"}),
    ),
    ("excluded-parent-takes-always-sub", None, "owner", widget(label="Blue")),
]


@pytest.mark.parametrize(
    ("case", "attributes", "excluded", "expected"), RETURNED, ids=ids(RETURNED)
)
def test_returned_characteristic(case, attributes, excluded, expected):
    """`request` needs naming; `always` sub-attributes stay in a returned parent (RFC 7643 §7)."""
    projection = Projection.from_params(WIDGET, attributes, excluded)

    assert projection.apply(WIDGET_RESOURCE) == expected


def test_needs_request_attribute_only_when_named():
    """A `returned: request` attribute is loaded only when `attributes` names it."""
    assert Projection(WIDGET).needs("secret") is False
    assert Projection.from_params(WIDGET, "secret", None).needs("secret") is True
    assert Projection.from_params(WIDGET, "owner.audit", None).needs("owner") is True
