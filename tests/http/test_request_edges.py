"""Requests that once gave a 500 or a non-SCIM answer (found in review): entity tags the server
never issued, a SearchRequest's projection, a `format` parameter, the service root itself,
paths of any length."""

import pytest

from provisioning import middleware
from tests.conftest import assert_scim_error

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def test_entity_tags_the_server_never_issued(scim, make_user):
    """Absurd If-Match / If-None-Match tags name no version: 412 and 200, never a 500."""
    user = make_user("a")
    body = {"schemas": user["schemas"], "userName": "a"}
    huge = 'W/"' + "9" * 5000 + '"'
    assert_scim_error(scim.put(f"/Users/{user['id']}", body, HTTP_IF_MATCH=huge), 412)
    assert scim.get(f"/Users/{user['id']}", HTTP_IF_NONE_MATCH='"²"').status_code == 200


@pytest.mark.parametrize("field", ["attributes", "excludedAttributes"])
def test_search_projection_must_be_strings(scim, field):
    """`attributes` in a SearchRequest is a list of strings (RFC 7644 §3.4.3)."""
    response = scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], field: 5})
    assert_scim_error(response, 400, "invalidValue", field)


def test_format_parameter_does_not_change_the_media_type(scim):
    """`format` is no SCIM parameter: it neither 404s nor switches the response type."""
    response = scim.get("/Users", {"format": "xml"})
    assert response.status_code == 200 and response["Content-Type"] == "application/scim+json"


def test_service_root_itself_is_a_scim_404(scim):
    """GET /scim/v2 (no trailing slash) is a SCIM 404, not Django's HTML page."""
    assert_scim_error(scim.get("/scim/v2"), 404)


def test_only_short_paths_keep_their_resolved_route(scim):
    """A path's route is kept for its next request, but not for a path of any length a
    client makes up: those are resolved each time, so they cannot fill the process's memory."""
    middleware._resolve.cache_clear()
    assert_scim_error(scim.get("/Users/" + "x" * 40), 404)
    assert middleware._resolve.cache_info().currsize == 1
    assert_scim_error(scim.get("/Users/" + "x" * 5000), 404)
    assert middleware._resolve.cache_info().currsize == 1
