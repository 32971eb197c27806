"""The Users resource over HTTP: create (RFC 7644 §3.3), get (§3.4.1), list and page (§3.4.2),
replace (§3.5.1) and delete (§3.6), with the dialects Okta and Entra send."""

import datetime as dt
import secrets
import uuid

import pytest

from tests.conftest import (
    ENTERPRISE_SCHEMA,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    assert_scim_error,
    patch_body,
    user_body,
)

BASE_URL = "http://testserver/scim/v2"
# Okta's id of a user it never created here: not even a UUID (docs/okta.md).
OKTA_FOREIGN_ID = "010101001010101011001010101011"


def expected_user(created: dict, document: dict, *, extension: bool = False, version: int = 1):
    """Return the whole User resource the server should answer for `document`.

    The server-generated `id` and timestamps are read from `created`; the rest is derived.
    """
    schemas = [USER_SCHEMA, ENTERPRISE_SCHEMA] if extension else [USER_SCHEMA]
    return {
        "schemas": schemas,
        "id": created["id"],
        **document,
        "meta": {
            "resourceType": "User",
            "created": created["meta"]["created"],
            "lastModified": created["meta"]["lastModified"],
            "location": f"{BASE_URL}/Users/{created['id']}",
            "version": f'W/"{version}"',
        },
    }


def parse_timestamp(value: str) -> dt.datetime:
    """Return the instant of an RFC 3339 timestamp that the server wrote in UTC with `Z`."""
    assert value.endswith("Z"), value
    return dt.datetime.fromisoformat(value)


# RFC 7643 §4.1 (every User attribute) and §4.3 (EnterpriseUser), in the spelling of §8.2.
FULL_DOCUMENT = {
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III",
    },
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "title": "Tour Guide",
    "userType": "Employee",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home", "display": "Babs at home"},
    ],
    "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile", "primary": True},
    ],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"},
    ],
    "addresses": [
        {
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "type": "work",
            "primary": True,
        },
        {
            "streetAddress": "456 Hollywood Blvd",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "type": "home",
        },
    ],
    "entitlements": [{"value": "delete-users", "display": "Delete users", "primary": True}],
    "roles": [{"value": "tour-guide", "display": "Tour guide", "type": "staff"}],
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMC"}],
    ENTERPRISE_SCHEMA: {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
        },
    },
}

# What Okta sends to create a user (docs/okta.md).
OKTA_CREATE = {
    "schemas": [USER_SCHEMA],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


# --- Create (RFC 7644 §3.3) ---------------------------------------------------------------


def test_create_answers_201_with_location_and_whole_resource(scim):
    """POST /Users answers 201, a Location header equal to meta.location, and the full resource
    (RFC 7644 §3.3); `groups` and `password` are not echoed (Okta's create body)."""
    response = scim.post("/Users", OKTA_CREATE)

    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    uuid.UUID(body["id"])
    assert parse_timestamp(body["meta"]["created"]) == parse_timestamp(body["meta"]["lastModified"])
    document = {k: v for k, v in OKTA_CREATE.items() if k not in ("schemas", "groups", "password")}
    assert body == expected_user(body, document)
    assert response["Location"] == body["meta"]["location"]


def test_created_user_is_returned_by_get(scim, make_user):
    """GET /Users/{id} returns the resource exactly as the create answered it (RFC 7644 §3.4.1)."""
    created = make_user("alice", displayName="Alice")

    response = scim.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json() == created


def test_every_user_and_enterprise_attribute_round_trips(scim):
    """Every RFC 7643 §4.1 attribute and the EnterpriseUser extension (§4.3) come back exactly,
    and `schemas` lists the extension's URN (RFC 7643 §3)."""
    created = scim.post("/Users", {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], **FULL_DOCUMENT})
    assert created.status_code == 201, created.content
    expected = expected_user(created.json(), FULL_DOCUMENT, extension=True)
    assert created.json() == expected

    fetched = scim.get(f"/Users/{expected['id']}")

    assert fetched.json() == expected


def test_password_is_accepted_and_never_returned(scim):
    """`password` is writeOnly and returned "never" (RFC 7643 §4.1.1, §7): accepted on create and
    replace, absent from every response."""
    created = scim.post("/Users", user_body("bjensen", password="t1meMa$heen"))
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    replaced = scim.put(f"/Users/{user_id}", user_body("bjensen", password="n3w-pa$$"))
    fetched = scim.get(f"/Users/{user_id}")
    listed = scim.get("/Users")

    for response in (created, replaced, fetched, listed):
        assert response.status_code in (200, 201)
        assert b"password" not in response.content.lower()
        assert b"t1meMa$heen" not in response.content
        assert b"n3w-pa$$" not in response.content


def test_read_only_attributes_in_the_body_are_ignored(scim):
    """`id`, `meta` and `groups` are readOnly: a client's values are ignored (RFC 7643 §3.1,
    §4.1.2; RFC 7644 §3.3); so is the read-only manager.displayName (RFC 7643 §4.3)."""
    response = scim.post(
        "/Users",
        user_body(
            "bjensen",
            id="not-the-id",
            meta={"resourceType": "Group", "version": 'W/"99"', "created": "2000-01-01T00:00:00Z"},
            groups=[{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
            **{ENTERPRISE_SCHEMA: {"manager": {"value": "m-1", "displayName": "John Smith"}}},
        ),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != "not-the-id"
    assert body == expected_user(
        body,
        {"userName": "bjensen", ENTERPRISE_SCHEMA: {"manager": {"value": "m-1"}}},
        extension=True,
    )


def test_unknown_attributes_are_ignored(scim):
    """Attributes the server does not define are ignored, at the top level, inside a complex
    attribute and inside the extension (robust to IdP dialects; RFC 7643 §3)."""
    response = scim.post(
        "/Users",
        user_body(
            "bjensen",
            favouriteColour="blue",
            name={"givenName": "Barbara", "maidenName": "Smith"},
            **{ENTERPRISE_SCHEMA: {"department": "Tours", "badge": "B-1"}},
        ),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == expected_user(
        body,
        {
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            ENTERPRISE_SCHEMA: {"department": "Tours"},
        },
        extension=True,
    )


def test_attribute_names_are_case_insensitive(scim):
    """Attribute names and schema URNs match case-insensitively and come back in the schema's
    spelling (RFC 7643 §2.1)."""
    response = scim.post(
        "/Users",
        {
            "SCHEMAS": [USER_SCHEMA.upper()],
            "USERNAME": "bjensen",
            "Name": {"GIVENNAME": "Barbara", "familyname": "Jensen"},
            "EMAILS": [{"VALUE": "bjensen@example.com", "Primary": True}],
            "externalID": "701984",
            ENTERPRISE_SCHEMA.upper(): {"EMPLOYEENUMBER": "701984"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == expected_user(
        body,
        {
            "externalId": "701984",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "primary": True}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "701984"},
        },
        extension=True,
    )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("True", True), ("False", False), ("true", True), ("false", False)],
    ids=["True", "False", "true", "false"],
)
def test_booleans_sent_as_strings_are_read_as_booleans(scim, sent, stored):
    """Entra sends booleans as the strings "True"/"False"; they are stored and returned as JSON
    booleans (docs/entra.md; RFC 7643 §2.3.2)."""
    response = scim.post(
        "/Users",
        user_body("bjensen", active=sent, emails=[{"value": "b@example.com", "primary": sent}]),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["active"] is stored
    assert body["emails"] == [{"value": "b@example.com", "primary": stored}]


def test_entra_create_with_nulls_and_empty_roles(scim):
    """Entra's create body: `null` values, `roles: []` and an all-null extension are unassigned
    (RFC 7643 §2.5) and left out; `meta.resourceType` is read-only and ignored."""
    response = scim.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.com",
            "active": True,
            "displayName": None,
            "nickName": None,
            "name": {"givenName": "Test", "familyName": None},
            "emails": [{"primary": True, "type": "work", "value": "Test_User@contoso.com"}],
            "roles": [],
            "meta": {"resourceType": "User"},
            ENTERPRISE_SCHEMA: {"manager": None, "department": None},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == expected_user(
        body,
        {
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.com",
            "name": {"givenName": "Test"},
            "active": True,
            "emails": [{"value": "Test_User@contoso.com", "type": "work", "primary": True}],
        },
    )


@pytest.mark.parametrize(
    ("manager", "stored"),
    [
        (
            "26118915-6090-4610-87e4-49d8ca9f808d",
            {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
        ),
        ("", None),
    ],
    ids=["bare-id", "empty-string-clears"],
)
def test_entra_manager_as_bare_string(scim, manager, stored):
    """Entra sends the enterprise `manager` as a bare id, and "" for none: read as
    `{"value": id}`, or unassigned (docs/entra.md; RFC 7643 §4.3)."""
    response = scim.post(
        "/Users", user_body("bjensen", **{ENTERPRISE_SCHEMA: {"manager": manager}})
    )

    assert response.status_code == 201, response.content
    body = response.json()
    document = {"userName": "bjensen"}
    if stored:
        document[ENTERPRISE_SCHEMA] = stored
    assert body == expected_user(body, document, extension=bool(stored))


@pytest.mark.parametrize(
    "attributes",
    [
        {"userName": None},
        {"userName": ""},
        {"userName": 42},
        {"userName": ["bjensen"]},
        {"active": "yes"},
        {"active": 1},
        {"emails": {"value": "b@example.com"}},
        {
            "emails": [
                {"value": "b@example.com", "primary": True},
                {"value": "babs@example.com", "primary": "True"},
            ]
        },
        {"name": "Barbara Jensen"},
        {"x509Certificates": [{"value": "not base64!"}]},
        {ENTERPRISE_SCHEMA: ["701984"]},
        {ENTERPRISE_SCHEMA: {"manager": 42}},
    ],
    ids=[
        "userName-null",
        "userName-empty",
        "userName-number",
        "userName-array",
        "active-yes",
        "active-number",
        "emails-object",
        "two-primary-emails",
        "name-string",
        "certificate-not-base64",
        "extension-array",
        "manager-number",
    ],
)
def test_invalid_values_are_400_invalid_value(scim, attributes):
    """A missing required value or a value of the wrong type is 400 `invalidValue` (RFC 7644
    §3.12; RFC 7643 §2.3 types, §2.4 one primary, §4.1.1 a non-empty userName)."""
    body = user_body("bjensen")
    body.update(attributes)

    response = scim.post("/Users", body)

    assert_scim_error(response, 400, "invalidValue")
    assert scim.get("/Users").json()["totalResults"] == 0


def test_missing_user_name_is_400_invalid_value(scim):
    """userName is REQUIRED (RFC 7643 §4.1.1): a body without it is 400 `invalidValue`."""
    response = scim.post("/Users", {"schemas": [USER_SCHEMA], "displayName": "Babs"})

    assert_scim_error(response, 400, "invalidValue", "userName")


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "bjensen"},
        {"schemas": USER_SCHEMA, "userName": "bjensen"},
        {"schemas": [], "userName": "bjensen"},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "bjensen"},
        {"schemas": [ENTERPRISE_SCHEMA], "userName": "bjensen"},
        {"schemas": [None], "userName": "bjensen"},
        [{"schemas": [USER_SCHEMA], "userName": "bjensen"}],
        {"schemas": [USER_SCHEMA], "userName": "bjensen", "USERNAME": "other"},
    ],
    ids=[
        "no-schemas",
        "schemas-string",
        "schemas-empty",
        "group-schema",
        "extension-only",
        "schemas-null-item",
        "body-array",
        "duplicate-attribute",
    ],
)
def test_bad_structure_is_400_invalid_syntax(scim, body):
    """`schemas` MUST name the resource's core schema (RFC 7643 §3); a body that is not one JSON
    object with each attribute once is 400 `invalidSyntax` (RFC 7644 §3.12)."""
    assert_scim_error(scim.post("/Users", body), 400, "invalidSyntax")


@pytest.mark.parametrize(
    "raw",
    [b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": ', b"not json"],
    ids=["truncated", "not-json"],
)
def test_malformed_json_is_400_invalid_syntax(scim, raw):
    """A body that is not JSON is 400 `invalidSyntax` (RFC 7644 §3.12)."""
    assert_scim_error(scim.post("/Users", raw), 400, "invalidSyntax")


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"schemas": ["%s"], "userName": "bjensen\u0000"}',
        rb'{"schemas": ["%s"], "userName": "bjensen", "nickName": "Babs\u0000"}',
        rb'{"schemas": ["%s"], "userName": "bjensen\ud800"}',
        rb'{"schemas": ["%s"], "userName": "bjensen", "nickName": "\udfff"}',
    ],
    ids=[
        "nul-in-column",
        "nul-in-document",
        "lone-surrogate-in-column",
        "lone-surrogate-in-document",
    ],
)
def test_strings_that_cannot_be_stored_are_400(scim, raw):
    """JSON allows the escapes \u0000 and lone surrogates, but they are not text a User can hold
    (RFC 8259 §8.2, PostgreSQL text/jsonb): the request is a 400 SCIM error, not a 500
    (RFC 7644 §3.12)."""
    response = scim.post("/Users", raw % USER_SCHEMA.encode())

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "400"
    assert body["scimType"] in ("invalidValue", "invalidSyntax")
    assert scim.get("/Users").json()["totalResults"] == 0


@pytest.mark.parametrize(
    "attribute",
    ["userName", "externalId", "emails"],
    ids=["userName", "externalId", "email"],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_overlong_indexed_value_is_400_not_500(scim, make_user, method, attribute):
    """A value too long for the server's indexes (here 3,000 random characters) is refused
    with 400 `invalidValue`, not a 500 from the database (RFC 7644 §3.12)."""
    long = secrets.token_hex(1504)  # 3,008 random characters: they do not compress
    values = {"userName": long, "externalId": long, "emails": [{"value": long}]}
    body = user_body("bjensen")
    body[attribute] = values[attribute]
    if method == "post":
        response = scim.post("/Users", body)
    else:
        response = scim.put(f"/Users/{make_user('bjensen')['id']}", body)

    assert_scim_error(response, 400, "invalidValue")


# --- Uniqueness (RFC 7643 §4.1.1, RFC 7644 §3.3) ------------------------------------------


@pytest.mark.parametrize("taken", ["bjensen", "BJensen", "BJENSEN"], ids=["same", "mixed", "upper"])
def test_duplicate_user_name_is_409_uniqueness(scim, make_user, taken):
    """A userName already in use, in any case (caseExact false), is 409 `uniqueness` and creates
    nothing (RFC 7644 §3.3, RFC 7643 §4.1.1; Okta)."""
    make_user("bjensen")

    response = scim.post("/Users", user_body(taken))

    assert_scim_error(response, 409, "uniqueness")
    assert scim.get("/Users").json()["totalResults"] == 1


def test_same_user_name_in_another_tenant_is_allowed(make_client, make_tenant, make_user, scim):
    """Uniqueness is per tenant: another IdP connection may hold the same userName."""
    make_user("bjensen")
    other = make_client(make_tenant("globex"))

    response = other.post("/Users", user_body("bjensen"))

    assert response.status_code == 201, response.content


# --- Replace (RFC 7644 §3.5.1) -------------------------------------------------------------


def test_put_replaces_the_whole_resource(scim, make_user):
    """PUT replaces: attributes left out of the body are removed (RFC 7644 §3.5.1); `id`,
    `created` and `location` stay; the version moves."""
    created = make_user(
        "bjensen", displayName="Babs", nickName="Babs", name={"givenName": "Barbara"}, active=True
    )

    response = scim.put(
        f"/Users/{created['id']}", user_body("bjensen", name={"familyName": "Jensen"}, active=False)
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["created"] == created["meta"]["created"]
    assert body == expected_user(
        body,
        {"userName": "bjensen", "name": {"familyName": "Jensen"}, "active": False},
        version=2,
    )
    assert scim.get(f"/Users/{created['id']}").json() == body


def test_okta_put_of_the_fetched_resource(scim, make_user):
    """Okta PUTs back the resource it fetched, with `id`, `meta` and `groups`: the read-only ones
    are ignored and a changed attribute is applied (docs/okta.md; RFC 7644 §3.5.1)."""
    created = scim.post("/Users", OKTA_CREATE).json()
    fetched = scim.get(f"/Users/{created['id']}").json()

    response = scim.put(
        f"/Users/{created['id']}",
        {**fetched, "groups": [], "displayName": "Test U. User", "password": "x"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    expected_document = {k: v for k, v in fetched.items() if k not in ("schemas", "id", "meta")}
    assert body == expected_user(
        body, {**expected_document, "displayName": "Test U. User"}, version=2
    )


def test_put_may_change_the_case_of_its_own_user_name(scim, make_user):
    """Renaming a user to another case of its own userName is not a conflict with itself
    (RFC 7643 §4.1.1 caseExact false, RFC 7644 §3.5.1)."""
    created = make_user("bjensen")

    response = scim.put(f"/Users/{created['id']}", user_body("BJensen"))

    assert response.status_code == 200, response.content
    assert response.json()["userName"] == "BJensen"


@pytest.mark.parametrize("taken", ["alice", "ALICE"], ids=["same", "other-case"])
def test_put_rename_into_a_taken_user_name_is_409(scim, make_user, taken):
    """PUT that renames a user into another user's userName is 409 `uniqueness`, and nothing
    changes (RFC 7644 §3.5.1, §3.12)."""
    make_user("alice")
    bob = make_user("bob", displayName="Bob")

    response = scim.put(f"/Users/{bob['id']}", user_body(taken))

    assert_scim_error(response, 409, "uniqueness")
    assert scim.get(f"/Users/{bob['id']}").json() == bob


def test_put_with_identical_content_does_not_move_the_version(scim, make_user):
    """A PUT that changes nothing leaves meta.version and lastModified as they were; a real
    change increments the version and moves lastModified (RFC 7643 §3.1, RFC 7644 §3.14)."""
    created = make_user("bjensen", displayName="Babs")

    same = scim.put(f"/Users/{created['id']}", user_body("bjensen", displayName="Babs"))
    assert same.status_code == 200, same.content
    assert same.json() == created

    changed = scim.put(f"/Users/{created['id']}", user_body("bjensen", displayName="Barbara"))
    assert changed.status_code == 200, changed.content
    meta = changed.json()["meta"]
    assert meta["version"] == 'W/"2"'
    assert meta["created"] == created["meta"]["created"]
    assert parse_timestamp(meta["lastModified"]) > parse_timestamp(created["meta"]["lastModified"])


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "bjensen"},
        {"schemas": [USER_SCHEMA]},
        {"schemas": [USER_SCHEMA], "userName": 7},
    ],
    ids=["no-schemas", "no-userName", "userName-number"],
)
def test_invalid_put_changes_nothing(scim, make_user, body):
    """An invalid replacement is refused with 400 and leaves the resource as it was
    (RFC 7644 §3.5.1, §3.12)."""
    created = make_user("bjensen", displayName="Babs")

    response = scim.put(f"/Users/{created['id']}", body)

    assert response.status_code == 400
    assert scim.get(f"/Users/{created['id']}").json() == created


# --- Delete (RFC 7644 §3.6) ----------------------------------------------------------------


def test_delete_then_get_and_delete_again_are_404(scim, make_user):
    """DELETE answers 204 without a body; afterwards GET and a second DELETE are 404 (RFC 7644
    §3.6; Entra's hard delete)."""
    created = make_user("bjensen")

    deleted = scim.delete(f"/Users/{created['id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_scim_error(scim.get(f"/Users/{created['id']}"), 404)
    assert_scim_error(scim.delete(f"/Users/{created['id']}"), 404)


def test_deleted_user_name_can_be_created_again(scim, make_user):
    """After a DELETE the userName is free again (RFC 7644 §3.6: the resource is gone)."""
    created = make_user("bjensen")
    scim.delete(f"/Users/{created['id']}")

    response = scim.post("/Users", user_body("bjensen"))

    assert response.status_code == 201, response.content
    assert response.json()["id"] != created["id"]


@pytest.mark.parametrize(
    "user_id",
    [OKTA_FOREIGN_ID, "not-a-uuid", str(uuid.UUID(int=0)), "2819c223-7f76-453a-919d-413861904646"],
    ids=["okta-numeric", "text", "nil-uuid", "unknown-uuid"],
)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_or_foreign_ids_are_404(scim, make_user, method, user_id):
    """An id that names no user, even one that is not a UUID (Okta's `0101...`), is a SCIM 404,
    not a 400 or 500 (RFC 7644 §3.12; docs/okta.md)."""
    make_user("bjensen")
    path = f"/Users/{user_id}"
    response = (
        scim.put(path, user_body("bjensen")) if method == "put" else getattr(scim, method)(path)
    )

    assert_scim_error(response, 404)


# --- Tenant isolation ------------------------------------------------------------------------


def test_a_tenant_cannot_see_or_touch_another_tenants_user(
    scim, make_user, make_client, make_tenant
):
    """Tenant B's token finds none of tenant A's users: GET, PUT and DELETE are 404 and the list
    is empty; A's user is unchanged."""
    alice = make_user("alice", displayName="Alice")
    other = make_client(make_tenant("globex"))
    path = f"/Users/{alice['id']}"

    assert_scim_error(other.get(path), 404)
    assert_scim_error(other.put(path, user_body("mallory")), 404)
    assert_scim_error(other.delete(path), 404)
    assert other.get("/Users").json() == {
        "schemas": [LIST_SCHEMA],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }
    assert scim.get(path).json() == alice


# --- List and paging (RFC 7644 §3.4.2) -----------------------------------------------------


def list_body(resources: list[dict], total: int, start_index: int = 1) -> dict:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@pytest.fixture
def five_users(make_user) -> list[dict]:
    """Five users of the `acme` tenant, in creation order."""
    return [make_user(f"user{i}") for i in range(5)]


def test_empty_list(scim):
    """A tenant without users lists an empty ListResponse with integer counts (RFC 7644
    §3.4.2; Entra's Test Connection)."""
    response = scim.get("/Users")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json() == list_body([], 0)


def test_list_returns_users_in_creation_order(scim, five_users):
    """GET /Users answers a ListResponse of whole resources in a stable creation order, with
    integer totalResults, startIndex and itemsPerPage (RFC 7644 §3.4.2; Okta's import)."""
    response = scim.get("/Users")

    assert response.json() == list_body(five_users, 5)


def test_paging_visits_every_user_once(scim, make_user):
    """Paging with startIndex/count visits every user exactly once across pages (RFC 7644
    §3.4.2.4; Okta imports with startIndex=1, 1+count, ...)."""
    users = [make_user(f"user{i}") for i in range(7)]

    pages = [scim.get("/Users", {"startIndex": start, "count": 3}).json() for start in (1, 4, 7)]

    assert pages == [
        list_body(users[0:3], 7, 1),
        list_body(users[3:6], 7, 4),
        list_body(users[6:7], 7, 7),
    ]


@pytest.mark.parametrize(
    ("params", "start", "picked"),
    [
        ({"startIndex": 0, "count": 2}, 1, slice(0, 2)),
        ({"startIndex": -5, "count": 2}, 1, slice(0, 2)),
        ({"startIndex": 4}, 4, slice(3, 5)),
        ({"startIndex": 6}, 6, slice(0, 0)),
        ({"count": -1}, 1, slice(0, 0)),
        ({"count": 0}, 1, slice(0, 0)),
        ({"count": 2}, 1, slice(0, 2)),
        ({"startIndex": "", "count": ""}, 1, slice(0, 5)),
    ],
    ids=[
        "startIndex-0-is-1",
        "startIndex-negative-is-1",
        "from-4",
        "past-the-end",
        "count-negative-is-0",
        "count-0-totalResults-only",
        "count-2",
        "empty-params-default",
    ],
)
def test_paging_parameters(scim, five_users, params, start, picked):
    """startIndex below 1 is read as 1; a negative count as 0; count=0 returns totalResults and
    no resources (RFC 7644 §3.4.2.4)."""
    response = scim.get("/Users", params)

    assert response.status_code == 200, response.content
    assert response.json() == list_body(five_users[picked], 5, start)


def test_count_is_capped_at_max_results(scim, five_users, settings):
    """A count above the server's maximum, or none with a larger default, returns MAX_RESULTS
    resources (RFC 7644 §3.4.2.4: the server MAY return fewer than requested)."""
    settings.SCIM = {"MAX_RESULTS": 2, "DEFAULT_COUNT": 100}

    assert scim.get("/Users", {"count": 1000}).json() == list_body(five_users[:2], 5)
    assert scim.get("/Users").json() == list_body(five_users[:2], 5)


@pytest.mark.parametrize(
    "params",
    [{"startIndex": "one"}, {"startIndex": "1.5"}, {"count": "ten"}, {"count": "1e3"}],
    ids=["startIndex-word", "startIndex-decimal", "count-word", "count-exponent"],
)
def test_non_integer_paging_parameters_are_400(scim, params):
    """startIndex and count are integers (RFC 7644 §3.4.2.4): anything else is 400
    `invalidValue`."""
    assert_scim_error(scim.get("/Users", params), 400, "invalidValue")


@pytest.mark.parametrize(
    "filter_",
    ["", "userName eq", 'userName zz "a"', 'favouriteColour eq "blue"', 'userName eq "a" or'],
    ids=["empty", "no-value", "unknown-operator", "unknown-attribute", "dangling-or"],
)
def test_bad_filter_is_400_invalid_filter(scim, make_user, filter_):
    """A filter the server cannot evaluate is 400 `invalidFilter`, never a 200 that ignores it
    and makes the IdP create duplicates (RFC 7644 §3.4.2.2; docs/other-idps.md)."""
    make_user("bjensen")

    assert_scim_error(scim.get("/Users", {"filter": filter_}), 400, "invalidFilter")


# --- Query counts ----------------------------------------------------------------------------


def test_list_query_count(scim, five_users, django_assert_num_queries):
    """GET /Users costs a fixed number of queries, whatever the page holds."""
    # The page with its users' groups, carrying the token's check (the token is known: the
    # users were created with it, and its last_used_at written less than a minute ago). The
    # page is not full, so it gives the total without a COUNT.
    with django_assert_num_queries(1):
        response = scim.get("/Users")
    assert response.json()["itemsPerPage"] == 5
    # A full page needs the COUNT as well.
    with django_assert_num_queries(2):
        response = scim.get("/Users", {"count": 2})
    assert response.json()["totalResults"] == 5


def test_a_patch_whose_user_moved_meanwhile_is_applied_again_under_the_lock(
    scim, make_user, monkeypatch
):
    """A user is read without a lock and written only if its version has not moved; when
    another write came in between, the PATCH is applied again to the user as that write left
    it, under the row lock: both changes are kept and the version moves once for each."""
    from provisioning.models import User
    from provisioning.storage import users

    user = make_user("alice")
    read = users.read

    def read_then_someone_writes(tenant, user_id, needs):
        found = read(tenant, user_id, needs)
        # The concurrent write lands right after the optimistic read.
        stored = User.objects.get(pk=user_id)
        stored.data = {**stored.data, "title": "Set meanwhile"}
        stored.version += 1
        stored.save()
        return found

    monkeypatch.setattr(users, "read", read_then_someone_writes)
    response = scim.patch(
        f"/Users/{user['id']}", patch_body({"op": "replace", "path": "nickName", "value": "Al"})
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["nickName"], body["title"], body["meta"]["version"]) == (
        "Al",
        "Set meanwhile",
        'W/"3"',
    )
    assert response["ETag"] == 'W/"3"'
    assert scim.get(f"/Users/{user['id']}").json() == body


def test_patch_without_value_changes_keeps_the_value_rows(scim, make_user):
    """A PATCH that leaves every multi-valued attribute as it was (Okta's deactivation) does
    not rewrite the rows that index them; one that changes an email does."""
    from provisioning.models import UserValue

    user = make_user("alice", emails=[{"value": "a@x.com", "type": "work"}])
    rows = set(UserValue.objects.values_list("pk", flat=True))
    deactivate = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    assert scim.patch(f"/Users/{user['id']}", deactivate).status_code == 200
    assert set(UserValue.objects.values_list("pk", flat=True)) == rows
    email = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "emails", "value": [{"value": "b@x.com"}]}],
    }
    assert scim.patch(f"/Users/{user['id']}", email).status_code == 200
    assert UserValue.objects.count() == 2 and not rows & set(
        UserValue.objects.values_list("pk", flat=True)
    )
    assert scim.get("/Users", {"filter": 'emails.value eq "b@x.com"'}).json()["totalResults"] == 1
