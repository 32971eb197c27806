"""OAuth 2.0 access tokens (provisioning.oauth): JWTs from a tenant's issuer, checked against the
issuer's keys fetched from a real HTTP server (tests/issuer.py) with keys made here.

Every refusal is a SCIM error with `WWW-Authenticate: Bearer` (RFC 6750 §3): 401
`invalid_token`, or 403 `insufficient_scope` for a valid token without the required scope.
The key cache's minute between two fetches is made to pass by `a_minute_later`.
"""

import base64
import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from provisioning import oauth, tokens
from provisioning.models import ChangeRecord
from tests.conftest import SCIMClient, assert_scim_error, user_body
from tests.issuer import AUDIENCE, Issuer


@pytest.fixture
def issuer():
    server = Issuer()
    server.add_key()
    yield server
    server.stop()


@pytest.fixture
def oauth_tenant(tenant, issuer):
    """The `acme` tenant, accepting tokens of `issuer` for AUDIENCE with scope `scim`."""
    tenant.oauth_issuer, tenant.oauth_audience, tenant.oauth_scope = issuer.url, AUDIENCE, "scim"
    tenant.full_clean()
    tenant.save()
    return tenant


def a_minute_later():
    """Age every cached key set as if a minute had passed since its last fetch."""
    for key_set in oauth._key_sets.values():
        key_set.attempted_at -= oauth.REFRESH_INTERVAL_SECONDS
        key_set.fetched_at -= oauth.REFRESH_INTERVAL_SECONDS


def refused(response, detail: str) -> None:
    assert_scim_error(response, 401, detail=detail)
    assert response["WWW-Authenticate"] == 'Bearer realm="scim", error="invalid_token"'


def test_a_token_of_the_issuer_is_accepted(oauth_tenant, issuer):
    """A SCIM request with an access token works as with a static token, for the tenant the
    token's iss and aud name; its change record names the client. The keys were found through
    the issuer's metadata and fetched once."""
    client = SCIMClient(issuer.token())

    created = client.post("/Users", user_body("bjensen"))
    assert created.status_code == 201, created.content
    assert client.get("/Users").json()["totalResults"] == 1
    assert client.get(f"/Users/{created.json()['id']}").status_code == 200
    record = ChangeRecord.objects.get()
    assert (record.tenant, record.token_name, record.token_prefix) == (
        oauth_tenant,
        "client-1",
        "oauth",
    )
    assert issuer.hits == {"/oauth2/default/.well-known/openid-configuration": 1, "/keys": 1}


def test_rfc8414_metadata_is_found_too(tenant):
    """An issuer that publishes RFC 8414 metadata only: its keys are found there."""
    server = Issuer(metadata="rfc8414")
    server.add_key()
    tenant.oauth_issuer, tenant.oauth_audience, tenant.oauth_scope = server.url, AUDIENCE, "scim"
    tenant.save()
    try:
        assert SCIMClient(server.token()).get("/Users").status_code == 200
    finally:
        server.stop()
    assert server.hits["/.well-known/oauth-authorization-server/oauth2/default"] == 1


def test_a_configured_jwks_uri_is_used_without_metadata(oauth_tenant, issuer):
    oauth_tenant.oauth_jwks_uri = issuer.jwks_uri
    oauth_tenant.save()
    assert SCIMClient(issuer.token()).get("/Users").status_code == 200
    assert issuer.hits == {"/keys": 1}


def test_static_tokens_keep_working_beside_it(oauth_tenant, issuer, scim):
    """Static tokens of the tenant work as before, even one that looks like a JWT."""
    assert scim.get("/Users").status_code == 200
    jwt_shaped = "eyJ" + "x" * 40 + ".part.two"
    tokens.ensure_secret(oauth_tenant, jwt_shaped, name="chosen")
    assert SCIMClient(jwt_shaped).get("/Users").status_code == 200


def test_an_access_token_costs_no_statement(oauth_tenant, issuer, django_assert_num_queries):
    """Once the tenants' settings are cached, an access token is checked without SQL."""
    client = SCIMClient(issuer.token())
    assert client.get("/ServiceProviderConfig").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/ServiceProviderConfig").status_code == 200


def test_rotation(oauth_tenant, issuer):
    """The issuer adds a key and signs with it: the unknown kid makes the keys fetched again,
    at most once a minute; a withdrawn key is refused once the keys are fetched again."""
    first = next(iter(issuer.private_keys))
    assert SCIMClient(issuer.token()).get("/Users").status_code == 200
    second = issuer.add_key(alg="RS256")

    a_minute_later()
    assert SCIMClient(issuer.token(kid=second)).get("/Users").status_code == 200
    assert issuer.hits["/keys"] == 2

    issuer.withdraw(first)
    assert SCIMClient(issuer.token(kid=first)).get("/Users").status_code == 200  # still cached
    a_minute_later()
    third = issuer.add_key()
    assert SCIMClient(issuer.token(kid=third)).get("/Users").status_code == 200
    refused(SCIMClient(issuer.token(kid=first)).get("/Users"), "unknown key")


def test_unknown_kids_fetch_the_keys_at_most_once_a_minute(oauth_tenant, issuer):
    """Tokens naming keys the issuer never published are refused, and however many arrive,
    the keys are fetched again at most once a minute."""
    assert SCIMClient(issuer.token()).get("/Users").status_code == 200
    unpublished = [issuer.add_key(publish=False) for _ in range(3)]
    for kid in unpublished:
        refused(SCIMClient(issuer.token(kid=kid)).get("/Users"), "unknown key")
    assert issuer.hits["/keys"] == 1
    a_minute_later()
    for kid in unpublished:
        refused(SCIMClient(issuer.token(kid=kid)).get("/Users"), "unknown key")
    assert issuer.hits["/keys"] == 2


def test_keys_endpoint_down(oauth_tenant, issuer, caplog):
    """While the issuer is down, the cached keys keep working, also past their age, and an
    unknown key is refused; the failed fetch is logged without the token."""
    assert SCIMClient(issuer.token()).get("/Users").status_code == 200
    unknown = issuer.add_key()
    issuer.stop()
    a_minute_later()
    token = issuer.token(kid=unknown)
    with caplog.at_level(logging.WARNING, logger="provisioning.oauth"):
        refused(SCIMClient(token).get("/Users"), "unknown key")
    assert "the keys of issuer" in caplog.text and "not fetched" in caplog.text
    assert token not in caplog.text and token.split(".")[2] not in caplog.text

    for key_set in oauth._key_sets.values():
        key_set.fetched_at -= oauth.MAX_KEY_AGE_SECONDS
    a_minute_later()
    assert SCIMClient(issuer.token()).get("/Users").status_code == 200


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": int(time.time()) - 120}, "has expired"),
        ({"nbf": int(time.time()) + 300}, "not valid yet"),
        ({"exp": None}, "not valid"),
        ({"cid": None, "scp": "scim"}, None),  # no client id required: accepted
    ],
    ids=["expired", "not-yet-valid", "no-exp", "scp-as-string"],
)
def test_times(oauth_tenant, issuer, claims, detail):
    response = SCIMClient(issuer.token(**claims)).get("/Users")
    if detail is None:
        assert response.status_code == 200
    else:
        refused(response, detail)


def test_small_clock_skew_is_tolerated(oauth_tenant, issuer):
    """A token that expired a few seconds ago, or becomes valid in a few, is accepted
    (LEEWAY_SECONDS)."""
    now = int(time.time())
    assert SCIMClient(issuer.token(exp=now - 5)).get("/Users").status_code == 200
    assert SCIMClient(issuer.token(nbf=now + 5)).get("/Users").status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://other.example.com"},
        {"iss": "https://evil.example.com/oauth2/default"},
        {"aud": None},
    ],
    ids=["wrong-audience", "wrong-issuer", "no-audience"],
)
def test_tokens_for_no_connection_are_refused(oauth_tenant, issuer, claims):
    """A token whose iss and aud name no tenant is no token of ours: 401."""
    response = SCIMClient(issuer.token(**claims)).get("/Users")
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_audience_list_naming_the_tenant_is_accepted(oauth_tenant, issuer):
    token = issuer.token(aud=["https://other.example.com", AUDIENCE])
    assert SCIMClient(token).get("/Users").status_code == 200


def b64(value: dict | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_alg_none_is_refused(oauth_tenant, issuer):
    kid = next(iter(issuer.private_keys))
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    unsigned = f"{b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{b64(claims)}."
    refused(SCIMClient(unsigned).get("/Users"), "algorithm")


def test_hmac_with_the_public_key_is_refused(oauth_tenant, issuer):
    """The algorithm confusion of RFC 8725 §2.1: HS256 keyed with the public key's PEM."""
    kid = issuer.add_key(alg="RS256")
    public = issuer.private_keys[kid][1].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    header = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    signing_input = f"{b64(header)}.{b64(claims)}"
    signature = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(
        signing_input.encode(), pem
    )
    refused(SCIMClient(f"{signing_input}.{b64(signature)}").get("/Users"), "algorithm")


def test_an_algorithm_that_does_not_fit_the_key_is_refused(oauth_tenant, issuer):
    """RS256 in the header of a token whose kid names the issuer's EC key."""
    kid = next(iter(issuer.private_keys))
    token = issuer.token()
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    forged = ".".join([b64(header), *token.split(".")[1:]])
    refused(SCIMClient(forged).get("/Users"), "does not match its key")


@pytest.mark.parametrize("part", [1, 2], ids=["claims", "signature"])
def test_a_tampered_token_is_refused(oauth_tenant, issuer, part):
    """A changed claim (another subject) or a changed signature: the signature fails."""
    pieces = issuer.token().split(".")
    if part == 1:
        claims = jwt.decode(issuer.token(), options={"verify_signature": False})
        pieces[1] = b64({**claims, "sub": "someone-else", "cid": "someone-else"})
    else:
        signature = bytearray(base64.urlsafe_b64decode(pieces[2] + "=="))
        signature[10] ^= 1
        pieces[2] = b64(bytes(signature))
    refused(SCIMClient(".".join(pieces)).get("/Users"), "signature is not valid")


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"scp": ["openid", "scim"]}, 200),  # Okta: a list
        ({"scp": None, "scope": "openid scim"}, 200),  # RFC 9068: a string
        ({"scp": None, "roles": ["scim"]}, 200),  # Entra app-only tokens: app roles
        ({"scp": ["openid"]}, 403),
        ({"scp": None}, 403),
    ],
    ids=["okta-scp", "rfc9068-scope", "entra-roles", "other-scope", "no-scope"],
)
def test_the_required_scope(oauth_tenant, issuer, claims, status):
    response = SCIMClient(issuer.token(**claims)).get("/Users")
    if status == 200:
        assert response.status_code == 200
    else:
        assert_scim_error(response, 403, detail="lacks the scope 'scim'")
        assert response["WWW-Authenticate"] == 'Bearer realm="scim", error="insufficient_scope"'


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"cid": "client-1"}, True),  # Okta
        ({"cid": None, "appid": "client-1"}, True),  # Entra v1
        ({"cid": None, "azp": "client-1"}, True),  # Entra v2
        ({"cid": "client-2"}, False),
        ({"cid": None}, False),
    ],
    ids=["okta-cid", "entra-appid", "entra-azp", "other-client", "no-client"],
)
def test_the_required_client(oauth_tenant, issuer, claims, accepted):
    oauth_tenant.oauth_scope, oauth_tenant.oauth_client_id = "", "client-1"
    oauth_tenant.save()
    response = SCIMClient(issuer.token(**claims)).get("/Users")
    if accepted:
        assert response.status_code == 200
    else:
        refused(response, "another client")


def test_a_tenant_without_oauth_refuses_access_tokens(tenant, issuer):
    assert_scim_error(SCIMClient(issuer.token()).get("/Users"), 401)


def test_two_tenants_of_one_issuer_are_told_apart_by_audience(oauth_tenant, issuer, make_tenant):
    other = make_tenant()
    other.oauth_issuer, other.oauth_audience, other.oauth_scope = issuer.url, "api://other", "scim"
    other.save()
    mine = SCIMClient(issuer.token())
    theirs = SCIMClient(issuer.token(aud="api://other"))

    assert mine.post("/Users", user_body("bjensen")).status_code == 201
    assert theirs.get("/Users").json()["totalResults"] == 0
    assert mine.get("/Users").json()["totalResults"] == 1


def test_the_rate_limit_counts_access_tokens_too(oauth_tenant, issuer, scim):
    """Access tokens and static tokens of a tenant share its limit."""
    oauth_tenant.rate_limit, oauth_tenant.rate_limit_burst = 0.01, 2
    oauth_tenant.save()
    client = SCIMClient(issuer.token())
    assert [c.get("/Users").status_code for c in (client, scim, client)] == [200, 200, 429]
