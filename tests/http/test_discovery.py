"""Discovery endpoints (RFC 7644 §4): /ServiceProviderConfig (RFC 7643 §5), /ResourceTypes
(§6) and /Schemas (§7), all derived from the schema table."""

import pytest

from tests.conftest import ENTERPRISE_SCHEMA, LIST_SCHEMA, USER_SCHEMA, assert_scim_error

BASE_URL = "http://testserver/scim/v2"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
PUBLISHED_SCHEMAS = {
    USER_SCHEMA: "User",
    ENTERPRISE_SCHEMA: "EnterpriseUser",
    SPC_SCHEMA: "ServiceProviderConfig",
    RESOURCE_TYPE_SCHEMA: "ResourceType",
    SCHEMA_SCHEMA: "Schema",
}
DISCOVERY_PATHS = [
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/Schemas",
    f"/Schemas/{USER_SCHEMA}",
]

USER_RESOURCE_TYPE = {
    "schemas": [RESOURCE_TYPE_SCHEMA],
    "id": "User",
    "name": "User",
    "endpoint": "/Users",
    "description": "User Account",
    "schema": USER_SCHEMA,
    "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
    "meta": {"resourceType": "ResourceType", "location": f"{BASE_URL}/ResourceTypes/User"},
}


def attribute(schema: dict, name: str) -> dict:
    """Return the attribute `name` of a /Schemas resource."""
    (found,) = [a for a in schema["attributes"] if a["name"] == name]
    return found


def walk(value, key=None):
    """Yield every (key, value) pair of a JSON document, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


def test_service_provider_config(scim, settings):
    """/ServiceProviderConfig advertises only what works: filter and sort, PATCH, bulk with
    its limits, etag, no password change; index and cursor paging; one bearer-token scheme;
    filter.maxResults and maxPageSize are MAX_RESULTS (RFC 7643 §5, RFC 7644 §4, RFC 9865 §4)."""
    settings.SCIM = {
        "MAX_RESULTS": 250,
        "DEFAULT_COUNT": 50,
        "BULK_MAX_OPERATIONS": 20,
        "BULK_MAX_PAYLOAD_BYTES": 65536,
    }

    response = scim.get("/ServiceProviderConfig")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": 20, "maxPayloadSize": 65536},
        "filter": {"supported": True, "maxResults": 250},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": 50,
            "maxPageSize": 250,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token (RFC 6750 header form): "
                "one issued by the server's administrators, or a JWT access token (RFC 9068) "
                "from the OAuth 2.0 issuer a connection is set to trust.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{BASE_URL}/ServiceProviderConfig",
        },
    }


def test_resource_types_list(scim):
    """/ResourceTypes is a ListResponse whose counts match its Resources, and it holds the User
    resource type with the EnterpriseUser extension (RFC 7644 §4, RFC 7643 §6)."""
    body = scim.get("/ResourceTypes").json()

    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"])
    assert body["startIndex"] == 1
    assert USER_RESOURCE_TYPE in body["Resources"]


def test_resource_type_user(scim):
    """/ResourceTypes/User is the User resource type (RFC 7643 §6, §8.6)."""
    response = scim.get("/ResourceTypes/User")

    assert response.status_code == 200
    assert response.json() == USER_RESOURCE_TYPE


@pytest.mark.parametrize(
    "path",
    ["/ResourceTypes/Nope", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope", "/Schemas/User"],
    ids=["resource-type", "schema-urn", "schema-by-name"],
)
def test_unknown_discovery_resource_is_404(scim, path):
    """A resource type or schema the server does not have is a SCIM 404 (RFC 7644 §3.12);
    schemas are addressed by URN, not by name (RFC 7643 §7)."""
    assert_scim_error(scim.get(path), 404)


def test_schemas_list(scim):
    """/Schemas is a ListResponse (Entra requires one) holding the User, EnterpriseUser,
    ServiceProviderConfig, ResourceType and Schema schemas (RFC 7644 §4, RFC 7643 §7)."""
    body = scim.get("/Schemas").json()

    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"])
    assert body["startIndex"] == 1
    names = {s["id"]: s["name"] for s in body["Resources"]}
    assert PUBLISHED_SCHEMAS.items() <= names.items()
    assert len(names) == len(body["Resources"])
    for schema in body["Resources"]:
        assert schema == scim.get(f"/Schemas/{schema['id']}").json()


@pytest.mark.parametrize("spelling", ["exact", "upper", "lower"])
@pytest.mark.parametrize("urn", list(PUBLISHED_SCHEMAS), ids=list(PUBLISHED_SCHEMAS.values()))
def test_schema_by_urn(scim, urn, spelling):
    """/Schemas/{urn} returns that schema; URNs compare case-insensitively (RFC 8141 §3.1,
    RFC 7643 §7)."""
    sent = {"exact": urn, "upper": urn.upper(), "lower": urn.lower()}[spelling]

    response = scim.get(f"/Schemas/{sent}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["schemas"] == [SCHEMA_SCHEMA]
    assert (body["id"], body["name"]) == (urn, PUBLISHED_SCHEMAS[urn])
    assert body["meta"] == {"resourceType": "Schema", "location": f"{BASE_URL}/Schemas/{urn}"}
    assert body["attributes"]


def test_user_name_attribute_is_as_rfc_7643(scim):
    """The User schema's userName is described as in RFC 7643 §8.7.1: a required, single-valued,
    case-insensitive, server-unique string."""
    user_name = attribute(scim.get(f"/Schemas/{USER_SCHEMA}").json(), "userName")

    assert isinstance(user_name["description"], str) and user_name["description"]
    assert user_name == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": user_name["description"],
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("password", {"mutability": "writeOnly", "returned": "never", "type": "string"}),
        ("groups", {"mutability": "readOnly", "multiValued": True, "type": "complex"}),
        ("emails", {"mutability": "readWrite", "multiValued": True, "type": "complex"}),
        ("active", {"mutability": "readWrite", "type": "boolean"}),
    ],
    ids=["password", "groups", "emails", "active"],
)
def test_user_attribute_characteristics(scim, name, expected):
    """`password` is writeOnly and returned never; `groups` is readOnly (RFC 7643 §4.1.1,
    §4.1.2, §8.7.1)."""
    found = attribute(scim.get(f"/Schemas/{USER_SCHEMA}").json(), name)

    assert {k: found[k] for k in expected} == expected


def test_enterprise_manager_display_name_is_read_only(scim):
    """manager.displayName is readOnly and manager.$ref a reference to a User (RFC 7643 §4.3,
    §8.7.1)."""
    manager = attribute(scim.get(f"/Schemas/{ENTERPRISE_SCHEMA}").json(), "manager")
    subs = {s["name"]: s for s in manager["subAttributes"]}

    assert subs["displayName"]["mutability"] == "readOnly"
    assert subs["$ref"]["type"] == "reference"
    assert subs["$ref"]["referenceTypes"] == ["User"]


def test_endpoints_are_relative_and_locations_absolute(scim):
    """Every `endpoint` is relative to the service root and every meta.location is absolute
    under it (RFC 7643 §3.1 location, §6 endpoint)."""
    documents = [
        scim.get("/ServiceProviderConfig").json(),
        scim.get("/ResourceTypes").json(),
        scim.get("/Schemas").json(),
    ]

    endpoints = [v for doc in documents for k, v in walk(doc) if k == "endpoint"]
    locations = [v for doc in documents for k, v in walk(doc) if k == "location"]
    assert endpoints and all(e.startswith("/") and "//" not in e for e in endpoints)
    assert len(locations) >= 1 + 1 + len(PUBLISHED_SCHEMAS)
    assert all(loc.startswith(f"{BASE_URL}/") for loc in locations), locations


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_filter_on_discovery_is_403(scim, path):
    """A filter on a discovery endpoint is refused with 403, so that no client believes the
    results matched it (RFC 7644 §4)."""
    assert_scim_error(scim.get(path, {"filter": 'id eq "User"'}), 403)


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_requires_authentication(anonymous, path):
    """Discovery endpoints require a bearer token: 401 with `WWW-Authenticate` (RFC 7644 §2,
    RFC 6750 §3)."""
    response = anonymous.get(path)

    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'
