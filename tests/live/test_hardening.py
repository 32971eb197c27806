"""What issue 8's fuzzing campaign found, over real HTTP against the server: each of these once
answered a 500, or answered an error for a write it had made (and the IdP's retry a 409)."""

import json

import pytest

from provisioning.models import Group, User
from tests.conftest import ENTERPRISE_SCHEMA, ERROR_SCHEMA, USER_SCHEMA, group_body, patch_body

pytestmark = pytest.mark.live

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def send(client, method: str, path: str, body):
    """Send `body` as JSON text whose lone surrogates are escapes, as JSON allows."""
    return client.request(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/scim+json"},
    )


def assert_error(response, status: int, scim_type: str, detail: str) -> None:
    """Assert the whole SCIM error body (RFC 7644 §3.12); `detail` is part of its detail."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body == {
        "schemas": [ERROR_SCHEMA],
        "status": str(status),
        "scimType": scim_type,
        "detail": body["detail"],
    }
    assert detail in body["detail"], body["detail"]


def state(tenant) -> list:
    """Return every user and group of `tenant` with its version and document."""
    return [
        (model.__name__, str(pk), version, data)
        for model in (User, Group)
        for pk, version, data in model.objects.filter(tenant=tenant)
        .order_by("pk")
        .values_list("pk", "version", "data")
    ]


# --- Defect 1: parameters are checked before anything is written -------------------------------


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("POST", "/Users"),
        ("PUT", "/Users/{user}"),
        ("PATCH", "/Users/{user}"),
        ("POST", "/Groups"),
        ("PUT", "/Groups/{group}"),
        ("PATCH", "/Groups/{group}"),
    ],
)
def test_a_bad_projection_refuses_the_write_whole(live_client, tenant, method, endpoint, parameter):
    """`?attributes=x[` on a write is a 400 invalidValue and nothing is written, so the IdP's
    retry without it succeeds instead of meeting a 409 (RFC 7644 §3.4.2.5, §3.12)."""
    user = live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "u1"}).json()
    group = live_client.post("/Groups", json=group_body("G1")).json()
    path = endpoint.format(user=user["id"], group=group["id"])
    kind = "Users" if "Users" in endpoint else "Groups"
    if method == "PATCH":
        key = "userName" if kind == "Users" else "displayName"
        body = patch_body({"op": "replace", "value": {key: "renamed"}})
    elif kind == "Users":
        body = {"schemas": [USER_SCHEMA], "userName": "u5"}
    else:
        body = group_body("G5")
    before = state(tenant)

    refused = live_client.request(method, path, params={parameter: "x["}, json=body)

    assert_error(refused, 400, "invalidValue", f"Invalid '{parameter}' parameter")
    assert state(tenant) == before
    retried = live_client.request(method, path, json=body)
    assert retried.status_code in (200, 201, 204), retried.text


# --- Found by tests/fuzz ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/Users//%0A", 404),
        ("PATCH", "/Users/x/%0A", 404),
        ("DELETE", "/%0A", 404),
        ("GET", "/Me/%0A", 501),
    ],
    ids=["get", "patch", "delete", "me"],
)
def test_a_path_with_a_newline_is_answered_by_scim(live_client, method, path, status):
    """A path under /scim/v2 holding a newline (%0A) is a SCIM error like any other path,
    not Django's HTML 404 (RFC 7644 §3.12)."""
    response = live_client.request(method, path)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body == {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": body["detail"]}


# --- Defect 4: input that gave a 500 -----------------------------------------------------------


def _empty_page(start_index: int, total: int) -> dict:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": 0,
        "Resources": [],
    }


@pytest.mark.parametrize("start_index", [2**63, 2**63 + 1, 2**64, 10**30])
def test_a_start_index_past_64_bits_is_an_empty_page(live_client, start_index):
    """startIndex beyond every result gives an empty page (RFC 7644 §3.4.2.4), also past
    PostgreSQL's bigint OFFSET: in the query string, a resource's .search and the root's."""
    live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "only"})
    search = {"schemas": [SEARCH_SCHEMA], "startIndex": start_index}

    listed = live_client.get("/Users", params={"startIndex": str(start_index)})
    searched = live_client.post("/Users/.search", json=search)
    everywhere = live_client.post("/.search", json=search)

    for response in (listed, searched, everywhere):
        assert response.status_code == 200, response.text
        assert response.json() == _empty_page(start_index, 1)


@pytest.mark.parametrize(
    ("method", "path", "body", "scim_type", "detail"),
    [
        (
            "POST",
            "/Users",
            {"schemas": [USER_SCHEMA], "userName": "a", "x\ud800": 1, "X\ud800": 2},
            "invalidSyntax",
            "Attribute 'X\\ud800' appears more than once.",
        ),
        (
            "PATCH",
            "/Users/{user}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "value": {"t\udc00": 1, "T\udc00": 2}}],
            },
            "invalidSyntax",
            "Attribute 'T\\udc00' appears more than once in the value.",
        ),
        (
            "PATCH",
            "/Groups/{group}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": "members", "o\ud800": 1, "O\ud800": 2}],
            },
            "invalidSyntax",
            "'O\\ud800' appears more than once in Operations[0].",
        ),
    ],
    ids=["resource-keys", "patch-value-keys", "operation-keys"],
)
def test_a_lone_surrogate_quoted_in_an_error_is_escaped(
    live_client, tenant, method, path, body, scim_type, detail
):
    """An error detail that quotes a lone surrogate the client sent spells it as an escape:
    the answer is the SCIM error, not a 500 from the encoder, and nothing is written."""
    user = live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "u"}).json()
    group = live_client.post("/Groups", json=group_body("G")).json()
    before = state(tenant)

    response = send(live_client, method, path.format(user=user["id"], group=group["id"]), body)

    assert_error(response, 400, scim_type, detail)
    assert state(tenant) == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"emails": ["a\x00b"]}, "Attribute 'emails.value' contains a NUL"),
        ({"emails": ["\ud800"]}, "Attribute 'emails.value' contains a NUL"),
        ({"phoneNumbers": ["1" * 513]}, "'phoneNumbers.value' is longer than 512"),
        ({ENTERPRISE_SCHEMA: {"manager": "\udc00"}}, "manager.value' contains a NUL"),
        ({"x509Certificates": [{"value": "é"}]}, "'x509Certificates.value' must be base64"),
        ({"x509Certificates": ["é"]}, "'x509Certificates.value' must be base64"),
    ],
    ids=["nul", "surrogate", "too-long", "manager", "non-ascii-binary", "bare-binary"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_values_the_database_refuses_are_invalid_values(live_client, tenant, method, body, detail):
    """A complex value sent as a bare string is checked as {"value": ...} is (RFC 7643 §2.3),
    and binary values are base64 (§2.3.6): a 400 invalidValue, nothing written, never a
    500 from the database or the decoder."""
    user = live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "u"}).json()
    schemas = [USER_SCHEMA, ENTERPRISE_SCHEMA]
    if method == "POST":
        path, sent = "/Users", {"schemas": schemas, "userName": "v", **body}
    elif method == "PUT":
        path, sent = f"/Users/{user['id']}", {"schemas": schemas, "userName": "u", **body}
    else:
        path, sent = f"/Users/{user['id']}", patch_body({"op": "add", "value": body})
    before = state(tenant)

    response = send(live_client, method, path, sent)

    assert_error(response, 400, "invalidValue", detail)
    assert state(tenant) == before
