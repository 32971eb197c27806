"""Error responses (RFC 7644 §3.12) and content negotiation (RFC 7644 §8.1): every error under
/scim/v2 is a SCIM Error body with a string `status`, whatever raised it."""

import json
import logging

import pytest
from django.test import Client

from provisioning.storage import users
from tests.conftest import ERROR_SCHEMA, SCIM_JSON, USER_SCHEMA, assert_scim_error, user_body

METHODS = ["get", "head", "post", "put", "patch", "delete", "options"]


def raw(client, method: str, path: str, **extra):
    """Send a bodiless request with only the headers given (SCIMClient adds its own Accept)."""
    return getattr(Client, method)(client, client._url(path), **extra)


def send(client, method: str, path: str):
    """Send `method` to `path` with a valid User body where the method takes one."""
    if method in ("post", "put", "patch"):
        return getattr(client, method)(path, user_body("bjensen"))
    return raw(client, method, path, HTTP_ACCEPT=SCIM_JSON)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "path",
    ["/Nope", "/Users/abc/extra", "/users", "/v2/Users", "/Users//%0A"],
    ids=["nope", "deep", "lowercase", "doubled-prefix", "newline"],
)
def test_unknown_route_is_scim_404(scim, method, path):
    """Any method on a path under /scim/v2 that names no endpoint is a SCIM 404 (RFC 7644
    §3.12), not Django's HTML page nor a framework's OPTIONS metadata."""
    response = send(scim, method, path)

    if method == "head":
        # HEAD carries no body; the status still says there is nothing here.
        assert response.status_code == 404
    else:
        assert_scim_error(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/Users", {"GET", "POST"}),
        ("put", "/Users", {"GET", "POST"}),
        ("post", "/Users/2819c223-7f76-453a-919d-413861904646", {"GET", "PUT", "PATCH", "DELETE"}),
        ("post", "/ServiceProviderConfig", {"GET"}),
        ("delete", "/ServiceProviderConfig", {"GET"}),
        ("post", "/ResourceTypes", {"GET"}),
        ("put", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", {"GET"}),
        ("options", "/Users", {"GET", "POST"}),
        ("options", "/ServiceProviderConfig", {"GET"}),
    ],
    ids=[
        "delete-users",
        "put-users",
        "post-user",
        "post-spc",
        "delete-spc",
        "post-resource-types",
        "put-schema",
        "options-users",
        "options-spc",
    ],
)
def test_method_not_allowed_is_scim_405_with_allow(scim, method, path, allowed):
    """A method an endpoint does not take is a SCIM 405 whose `Allow` header lists the methods
    it does take, and not the refused one (RFC 7644 §3.12, RFC 9110 §10.2.1, §15.5.6); SCIM
    defines no OPTIONS, so OPTIONS is one of them."""
    response = send(scim, method, path)

    assert_scim_error(response, 405)
    listed = {m.strip() for m in response["Allow"].split(",")}
    assert allowed <= listed
    assert method.upper() not in listed


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/xml", "text/plain", "application/*;q=0", "*/*;q=2"],
    ids=["html", "xml", "text", "all-refused", "weight-out-of-range"],
)
def test_unacceptable_accept_is_scim_406(scim, accept):
    """An Accept header the server cannot satisfy is a 406, answered in SCIM JSON
    (RFC 7644 §3.12, §8.1)."""
    response = raw(scim, "get", "/Users", HTTP_ACCEPT=accept)

    assert_scim_error(response, 406)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", b"userName=bjensen"),
        ("application/x-www-form-urlencoded", b"userName=bjensen"),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="userName"\r\n\r\nbjensen\r\n--xyz--\r\n',
        ),
        ("application/xml", b"<User><userName>bjensen</userName></User>"),
    ],
    ids=["text", "form", "multipart", "xml"],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_unsupported_content_type_is_scim_415(scim, make_user, method, content_type, raw):
    """A body that is neither application/scim+json nor application/json is a SCIM 415
    (RFC 7644 §3.12, §8.1)."""
    path = "/Users" if method == "post" else f"/Users/{make_user('bjensen')['id']}"

    response = getattr(scim, method)(path, raw, content_type=content_type)

    assert_scim_error(response, 415)


def padded_body(size: int) -> bytes:
    """Return a valid User creation body of exactly `size` bytes."""
    raw = json.dumps(user_body("bjensen")).encode()
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


@pytest.mark.parametrize("content_type", [SCIM_JSON, "application/json"])
def test_body_above_max_payload_is_scim_413(scim, settings, content_type):
    """A body larger than MAX_PAYLOAD_BYTES is a SCIM 413 (RFC 7644 §3.12); one of exactly the
    limit is accepted."""
    settings.SCIM = {"MAX_PAYLOAD_BYTES": 200}

    too_large = scim.post("/Users", padded_body(201), content_type=content_type)
    at_limit = scim.post("/Users", padded_body(200), content_type=content_type)

    assert_scim_error(too_large, 413)
    assert at_limit.status_code == 201, at_limit.content


@pytest.mark.parametrize(
    "raw",
    [
        b'{"schemas": [',
        b"{'schemas': []}",
        b'{"schemas": ["%s"], "userName": "x", "x": NaN}' % USER_SCHEMA.encode(),
        b'{"schemas": ["%s"], "userName": "x", "x": Infinity}' % USER_SCHEMA.encode(),
        b'{"schemas": ["%s"], "userName": "x", "x": -Infinity}' % USER_SCHEMA.encode(),
        b'{"schemas": ["%s"], "userName": "x", "x": 1e400}' % USER_SCHEMA.encode(),
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schemas": ["%s"], "userName": "\xff\xfe"}' % USER_SCHEMA.encode(),
        b'"just a string"',
        b"",
    ],
    ids=[
        "truncated",
        "single-quotes",
        "NaN",
        "Infinity",
        "minus-Infinity",
        "float-out-of-range",
        "deep-open",
        "deep-balanced",
        "not-utf8",
        "not-an-object",
        "empty",
    ],
)
def test_invalid_json_is_400_invalid_syntax(scim, raw):
    """A body that is not one JSON object (RFC 8259: no NaN or infinity, no single quotes,
    UTF-8) is 400
    `invalidSyntax` (RFC 7644 §3.12), never a 500, however deeply it nests."""
    assert_scim_error(scim.post("/Users", raw), 400, "invalidSyntax")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/Me"),
        ("post", "/Me"),
        ("put", "/Me/whatever"),
    ],
    ids=[
        "get-me",
        "post-me",
        "put-me-sub",
    ],
)
def test_unsupported_operations_are_scim_501(scim, make_user, method, path):
    """Operations of RFC 7644 the server does not offer (/Me) are a SCIM 501 (RFC 7644 §3.12,
    §3.11)."""
    path = path.format(id=make_user("bjensen")["id"])
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}

    if method in ("post", "put", "patch"):
        response = getattr(scim, method)(path, body)
    else:
        response = getattr(scim, method)(path)

    assert_scim_error(response, 501)


def test_unexpected_exception_is_generic_500_and_logged(scim, make_user, monkeypatch, caplog):
    """A bug in a view is answered with a generic SCIM 500 that reveals nothing of the exception,
    and logged with its traceback (RFC 7644 §3.12; house style)."""
    user_id = make_user("bjensen")["id"]

    def broken(*args, **kwargs):
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(users, "read", broken)

    with caplog.at_level(logging.ERROR):
        response = scim.get(f"/Users/{user_id}")

    body = assert_scim_error(response, 500)
    assert body == {"schemas": [ERROR_SCHEMA], "status": "500", "detail": body["detail"]}
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, caplog.text
    # Once, with the traceback: Django's own "Internal Server Error" line is not added.
    assert [r for r in caplog.records if r.name == "django.request"] == []
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        (SCIM_JSON, SCIM_JSON),
        ("application/json", "application/json"),
        ("*/*", SCIM_JSON),
        (None, SCIM_JSON),
        ("application/scim+json, application/json;q=0.5", SCIM_JSON),
        ("text/html, application/json;q=0.9", "application/json"),
        ("application/scim+json;q=0, */*", "application/json"),
        ("application/json, application/scim+json", SCIM_JSON),
        ("application/json;q=0.5, application/*;q=0.8", SCIM_JSON),
    ],
    ids=[
        "scim",
        "json",
        "any",
        "none",
        "scim-preferred",
        "json-fallback",
        "scim-refused",
        "equal-prefers-scim",
        "wildcard-weighs-more",
    ],
)
def test_response_media_type_follows_accept(scim, make_user, accept, answered):
    """Responses are application/scim+json unless the client asks only for application/json
    (RFC 7644 §8.1)."""
    created = make_user("bjensen")
    extra = {"HTTP_ACCEPT": accept} if accept else {}
    path = f"/Users/{created['id']}"

    response = raw(scim, "get", path, **extra)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == answered
    assert response.json() == created


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        SCIM_JSON,
        "application/scim+json; charset=utf-8",
        "application/json; charset=UTF-8",
    ],
    ids=["json", "scim", "scim-charset-okta", "json-charset"],
)
def test_json_and_scim_json_request_bodies_are_accepted(scim, content_type):
    """Request bodies may be application/scim+json or application/json, with a charset as Okta
    sends it (RFC 7644 §8.1; docs/okta.md)."""
    response = scim.post("/Users", user_body("bjensen"), content_type=content_type)

    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith(SCIM_JSON)


def test_errors_in_application_json_when_asked(scim):
    """An error is rendered in the media type the client accepts, still a SCIM Error body
    (RFC 7644 §3.12, §8.1)."""
    response = raw(scim, "get", "/Users/nope", HTTP_ACCEPT="application/json")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert response.json()["status"] == "404"


def test_too_many_query_parameters_is_a_scim_400(scim):
    """Django refuses over 1000 query parameters as suspicious; the client gets a SCIM 400,
    not a 500."""
    response = scim.get("/Users?" + "&".join(f"a{i}=1" for i in range(1001)))

    assert_scim_error(response, 400)
