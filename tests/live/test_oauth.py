"""An access token over real HTTP: the server's worker fetches the issuer's keys from a real
HTTP server (tests/issuer.py) and serves SCIM requests carrying a JWT."""

import httpx2
import pytest

from tests.conftest import ERROR_SCHEMA, USER_SCHEMA
from tests.issuer import AUDIENCE, Issuer

pytestmark = pytest.mark.live


@pytest.fixture
def issuer():
    server = Issuer()
    server.add_key(alg="RS256")
    yield server
    server.stop()


def test_scim_over_http_with_an_access_token(transactional_db, tenant, issuer, app_server):
    """Create and read a user with a JWT; a tampered one is a 401 SCIM error with
    `WWW-Authenticate: Bearer ... invalid_token`. A server of its own: the session's would
    see a new tenant's OAuth settings only within CONFIG_TTL_SECONDS."""
    tenant.oauth_issuer, tenant.oauth_audience, tenant.oauth_scope = issuer.url, AUDIENCE, "scim"
    tenant.save()
    token = issuer.token()
    with (
        app_server(workers=1) as (url, _),
        httpx2.Client(base_url=f"{url}/scim/v2", timeout=60) as client,
    ):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
        created = client.post(
            "/Users", json={"schemas": [USER_SCHEMA], "userName": "bjensen"}, headers=headers
        )
        assert created.status_code == 201, created.text
        listed = client.get("/Users", headers=headers).json()
        assert [u["userName"] for u in listed["Resources"]] == ["bjensen"]

        head, claims, signature = token.split(".")
        tampered = f"{head}.{claims}.{signature[:-4]}AAAA"
        response = client.get("/Users", headers={"Authorization": f"Bearer {tampered}"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim", error="invalid_token"'
        assert response.json() == {
            "schemas": [ERROR_SCHEMA],
            "status": "401",
            "detail": "The access token's signature is not valid.",
        }
    assert issuer.hits["/keys"] == 1
