"""OAuth 2.0 access tokens: JWTs (RFC 9068) from a tenant's issuer, beside static bearer tokens.

A bearer token that is a JWT (three base64url parts, the first `eyJ`, a JSON object) is
matched to its tenant by its `iss` and `aud`: the tenant whose `oauth_issuer` is the token's
issuer and whose `oauth_audience` is among its audiences (one tenant at most: a database
constraint). Its signature is then checked with the issuer's published keys (JWKS, RFC 7517),
and so are `iss`, `aud`, `exp` and `nbf` (with LEEWAY_SECONDS of clock skew), and the scope,
app role or client that the tenant requires. A token that matches no tenant is looked up as a
static token, so a static token is never refused for looking like a JWT; a token that matches
a tenant and fails a check is refused.

The tenants' OAuth settings are read once per CONFIG_TTL_SECONDS per process (at once in
the process that saves a tenant), so an access token costs no SQL statement. Keys are cached
per process: fetched on the first token, again when a token names an unknown key (`kid`, as a
rotation does) or the keys are older than MAX_KEY_AGE_SECONDS, but never more than once per
REFRESH_INTERVAL_SECONDS, so forged `kid`s cannot make the server hammer the issuer. While
the issuer cannot be reached, the cached keys keep working and unknown keys are refused.

Signatures are checked by PyJWT (with `cryptography`), with the asymmetric algorithms of
ALGORITHMS only: never `none`, never HMAC (whose key would be the public key, RFC 8725 §2.1).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import jwt
import urllib3
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Tenant
from .scim import errors

logger = logging.getLogger(__name__)

# RFC 7518 §3.1's asymmetric signatures and RFC 8037's EdDSA.
ALGORITHMS = frozenset(
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
)
LEEWAY_SECONDS = 30
CONFIG_TTL_SECONDS = 10
REFRESH_INTERVAL_SECONDS = 60
MAX_KEY_AGE_SECONDS = 3600
FETCH_TIMEOUT = urllib3.Timeout(connect=3, read=5)
MAX_DOCUMENT_BYTES = 512 * 1024
# Where each kind of IdP puts what a token may do, and to which client it was issued.
SCOPE_CLAIMS = ("scope", "scp", "roles")  # RFC 9068 §2.2.3; Okta and Entra: scp; Entra: roles
CLIENT_CLAIMS = ("client_id", "cid", "azp", "appid")  # RFC 9068; Okta; Entra v2; Entra v1

# No proxy from the environment, no redirects, no retries: requests go only where configured.
_http = urllib3.PoolManager(
    timeout=FETCH_TIMEOUT, retries=False, headers={"Accept": "application/json"}
)


class InvalidToken(errors.Unauthorized):
    """A 401 for an access token that fails a check (RFC 6750 §3.1 `invalid_token`)."""

    headers = {"WWW-Authenticate": 'Bearer realm="scim", error="invalid_token"'}


class InsufficientScope(errors.Forbidden):
    """A 403 for a valid access token without the required scope (RFC 6750 §3.1)."""

    headers = {"WWW-Authenticate": 'Bearer realm="scim", error="insufficient_scope"'}


@dataclass(frozen=True)
class AccessToken:
    """What a request authenticated by an access token carries where a static one carries its
    `Token` row: the tenant, and the name and prefix that change records show."""

    tenant: Tenant
    name: str
    prefix: str = "oauth"


def looks_like_jwt(secret: str) -> bool:
    """Return whether `secret` has the shape of a JWS (RFC 7515 §7.1): a static token has not."""
    return secret.startswith("eyJ") and secret.count(".") == 2


def authenticate(secret: str) -> AccessToken | None:
    """Return the access token `secret` if it is a JWT for a tenant that accepts OAuth, or None
    when it is not one (then it may be a static token). Raise InvalidToken or
    InsufficientScope when it is for such a tenant but fails a check."""
    try:
        header = jwt.get_unverified_header(secret)
        unverified = jwt.decode(secret, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    tenant = _tenant_for(unverified)
    if tenant is None:
        return None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        raise InvalidToken(f"The access token's algorithm is not one of {sorted(ALGORITHMS)}.")
    if not isinstance(kid, str):
        raise InvalidToken("The access token names no signing key (`kid`).")
    key = _key_set(tenant).signing_key(kid, algorithm)
    try:
        claims = jwt.decode(
            secret,
            key,
            algorithms=[algorithm],
            issuer=tenant.oauth_issuer,
            audience=tenant.oauth_audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("The access token is not valid yet.") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("The access token's signature is not valid.") from None
    except jwt.PyJWTError:
        raise InvalidToken("The access token is not valid.") from None
    client = next((claims[c] for c in CLIENT_CLAIMS if isinstance(claims.get(c), str)), "")
    if tenant.oauth_client_id and client != tenant.oauth_client_id:
        raise InvalidToken("The access token was issued to another client.")
    if tenant.oauth_scope and tenant.oauth_scope not in scopes(claims):
        raise InsufficientScope(f"The access token lacks the scope '{tenant.oauth_scope}'.")
    return AccessToken(tenant, name=str(client or claims.get("sub", ""))[:200])


def scopes(claims: dict) -> set[str]:
    """Return the scopes and app roles of a token: space-separated strings or lists."""
    found = set()
    for claim in SCOPE_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return found


# --- Which tenant a token is for ---------------------------------------------------------


class _Tenants:
    """The tenants that accept access tokens, by issuer, read at most once per TTL."""

    loaded_at = -float("inf")
    by_issuer: dict[str, list[Tenant]] = {}


def _tenant_for(claims: dict) -> Tenant | None:
    issuer, audience = claims.get("iss"), claims.get("aud")
    if not isinstance(issuer, str):
        return None
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list):
        return None
    if time.monotonic() - _Tenants.loaded_at >= CONFIG_TTL_SECONDS:
        by_issuer: dict[str, list[Tenant]] = {}
        for tenant in Tenant.objects.exclude(oauth_issuer=""):
            by_issuer.setdefault(tenant.oauth_issuer, []).append(tenant)
        _Tenants.by_issuer, _Tenants.loaded_at = by_issuer, time.monotonic()
    matches = [t for t in _Tenants.by_issuer.get(issuer, []) if t.oauth_audience in audiences]
    if len(matches) > 1:
        raise InvalidToken("The access token's audiences name several connections.")
    return matches[0] if matches else None


@receiver([post_save, post_delete], sender=Tenant, dispatch_uid="oauth_tenants_changed")
def _tenants_changed(**kwargs) -> None:
    """Read the tenants again on the next access token: this process has just changed one."""
    _Tenants.loaded_at = -float("inf")


# --- The issuer's keys --------------------------------------------------------------------


class FetchError(Exception):
    """A document could not be fetched or read; the message holds no secret."""


class KeySet:
    """The signing keys (JWKS) of one issuer, cached in this process."""

    def __init__(self, issuer: str, jwks_uri: str) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri  # empty: discovered from the issuer's metadata
        self.keys: dict[str, dict] = {}
        self.prepared: dict[tuple[str, str], jwt.PyJWK] = {}
        self.fetched_at = -float("inf")
        self.attempted_at = -float("inf")
        self.lock = threading.Lock()

    def signing_key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        """Return the key `kid` for `algorithm`; raise InvalidToken when there is none."""
        if kid not in self.keys or time.monotonic() - self.fetched_at >= MAX_KEY_AGE_SECONDS:
            self.refresh()
        prepared = self.prepared.get((kid, algorithm))
        if prepared is not None:
            return prepared
        jwk = self.keys.get(kid)
        if jwk is None:
            raise InvalidToken("The access token is signed with an unknown key.")
        # A key that names its algorithm is used with that one only (RFC 7517 §4.4).
        if jwk.get("alg", algorithm) != algorithm:
            raise InvalidToken("The access token's algorithm does not match its key.")
        try:
            prepared = jwt.PyJWK(jwk, algorithm)
        except jwt.PyJWTError:  # e.g. an EC key named by an RS256 token
            raise InvalidToken("The access token's algorithm does not match its key.") from None
        self.prepared[(kid, algorithm)] = prepared
        return prepared

    def refresh(self) -> None:
        """Fetch the keys again, unless that was tried less than a refresh interval ago.

        While one thread fetches, the others go on with the keys they have; only without any
        keys do they wait for its result.
        """
        if not self.lock.acquire(blocking=not self.keys):
            return
        try:
            if time.monotonic() - self.attempted_at < REFRESH_INTERVAL_SECONDS:
                return
            self.attempted_at = time.monotonic()
            try:
                self.jwks_uri = self.jwks_uri or discover(self.issuer)
                keys = signing_keys(fetch_json(self.jwks_uri))
            except FetchError as exc:
                logger.warning(
                    "OAuth: the keys of issuer %s were not fetched: %s", self.issuer, exc
                )
                return
            self.keys, self.prepared, self.fetched_at = keys, {}, time.monotonic()
        finally:
            self.lock.release()


_key_sets: dict[tuple[str, str], KeySet] = {}


def _key_set(tenant: Tenant) -> KeySet:
    source = (tenant.oauth_issuer, tenant.oauth_jwks_uri)
    key_set = _key_sets.get(source)
    if key_set is None:
        key_set = _key_sets.setdefault(source, KeySet(*source))
    return key_set


def signing_keys(document: dict) -> dict[str, dict]:
    """Return the signature keys of a JWK Set by `kid`; other keys are left out (RFC 7517 §5):
    encryption keys, symmetric keys, keys without an id."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise FetchError("the document is not a JWK Set (no `keys` list)")
    return {
        key["kid"]: key
        for key in keys
        if isinstance(key, dict)
        and isinstance(key.get("kid"), str)
        and key.get("kty") in ("RSA", "EC", "OKP")
        and key.get("use", "sig") == "sig"
    }


def discover(issuer: str) -> str:
    """Return the issuer's `jwks_uri` from its metadata: OpenID Connect Discovery 1.0 §4
    (`/.well-known/openid-configuration` after the issuer), else RFC 8414 §3 (the well-known
    path between the host and the issuer's path)."""
    parts = urlsplit(issuer)
    candidates = [
        issuer.rstrip("/") + "/.well-known/openid-configuration",
        urlunsplit(
            parts._replace(path="/.well-known/oauth-authorization-server" + parts.path.rstrip("/"))
        ),
    ]
    failures = []
    for url in candidates:
        try:
            metadata = fetch_json(url)
        except FetchError as exc:
            failures.append(str(exc))
            continue
        # OpenID Connect Discovery §4.3, RFC 8414 §3.3: the metadata must name this issuer.
        if metadata.get("issuer") != issuer:
            raise FetchError(f"the metadata at {safe_url(url)} is for another issuer")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not allowed_url(jwks_uri):
            raise FetchError(f"the metadata at {safe_url(url)} has no usable jwks_uri")
        return jwks_uri
    raise FetchError("; ".join(failures))


def fetch_json(url: str) -> dict:
    """GET a JSON object from `url`, within FETCH_TIMEOUT and MAX_DOCUMENT_BYTES."""
    if not allowed_url(url):
        raise FetchError(f"{safe_url(url)} is not an https URL")
    try:
        response = _http.request("GET", url, redirect=False, preload_content=False)
        try:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"{safe_url(url)}: {type(exc).__name__}") from None
    if response.status != 200:
        raise FetchError(f"{safe_url(url)} answered HTTP {response.status}")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FetchError(f"{safe_url(url)} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"{safe_url(url)} answered no JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{safe_url(url)} answered no JSON object")
    return document


def safe_url(url: str) -> str:
    """Return `url` without credentials, query or fragment, for a log line."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def allowed_url(url: str) -> bool:
    """Return whether keys may be fetched from `url`: https, or http to this machine only
    (local trials and tests), never with credentials in it."""
    parts = urlsplit(url)
    if parts.username or parts.password or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def check_settings(tenant: Tenant) -> None:
    """Raise ValidationError when the tenant's rate limit or OAuth settings do not fit."""
    problems = {}
    if tenant.rate_limit_burst is not None and tenant.rate_limit is None:
        problems["rate_limit_burst"] = "A burst needs a rate limit."
    oauth = (tenant.oauth_audience, tenant.oauth_jwks_uri, tenant.oauth_scope)
    if tenant.oauth_issuer or any(oauth) or tenant.oauth_client_id:
        if not tenant.oauth_issuer:
            problems["oauth_issuer"] = "OAuth needs the issuer."
        if not tenant.oauth_audience:
            problems["oauth_audience"] = "OAuth needs the audience its tokens are issued for."
        if not (tenant.oauth_scope or tenant.oauth_client_id):
            problems["oauth_scope"] = (
                "OAuth needs a required scope or app role, or a client id (or both): else any "
                "client of the issuer would be let in."
            )
    for field in ("oauth_issuer", "oauth_jwks_uri"):
        url = getattr(tenant, field)
        if url and not allowed_url(url):
            problems[field] = "Use an https URL (http only to this machine, for trials)."
    if problems:
        raise ValidationError(problems)
