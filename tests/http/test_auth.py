"""Bearer-token authentication (RFC 6750, RFC 7644 §2): who may call, what is stored, what is
logged."""

import datetime as dt
import hashlib
import logging

import pytest
from django.utils import timezone

from provisioning import tokens
from provisioning.models import Token
from tests.conftest import SCIMClient, assert_scim_error, group_body, user_body


def client_with_header(value: str) -> SCIMClient:
    client = SCIMClient()
    client.defaults["HTTP_AUTHORIZATION"] = value
    return client


def assert_unauthorized(response) -> None:
    """Assert a SCIM 401 that tells the client to use a bearer token (RFC 6750 §3)."""
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


@pytest.fixture
def issued(tenant) -> tuple[Token, str]:
    """A fresh token of the `acme` tenant and its secret."""
    return tokens.issue(tenant, name="okta")


def test_no_authorization_header_is_401(anonymous):
    """A request without credentials is a SCIM 401 with `WWW-Authenticate: Bearer`
    (RFC 7644 §2, RFC 6750 §3)."""
    assert_unauthorized(anonymous.get("/Users"))


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNzd29yZA==",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer scim_unknown-token-value",
        "Token {secret}",
        "{secret}",
    ],
    ids=[
        "basic",
        "bearer-alone",
        "bearer-blank",
        "bearer-two-words",
        "unknown-token",
        "other-scheme-with-secret",
        "secret-without-scheme",
    ],
)
def test_bad_authorization_header_is_401(issued, header):
    """Another scheme, a malformed header or an unknown token is a SCIM 401 with
    `WWW-Authenticate` (RFC 6750 §3.1); a valid secret under another scheme is not accepted."""
    _, secret = issued
    client = client_with_header(header.format(secret=secret))

    assert_unauthorized(client.get("/Users"))


def test_revoked_token_is_401(issued):
    """A revoked token is refused (RFC 6750 §3.1 invalid_token)."""
    token, secret = issued
    tokens.revoke(token)

    assert_unauthorized(SCIMClient(secret).get("/Users"))


def test_expired_token_is_401(issued):
    """A token past its expiry is refused (RFC 6750 §3.1 invalid_token)."""
    token, secret = issued
    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert_unauthorized(SCIMClient(secret).get("/Users"))


def test_token_expiring_later_works(tenant):
    """A token whose expiry is in the future is accepted."""
    _, secret = tokens.issue(tenant, expires_at=timezone.now() + dt.timedelta(hours=1))

    assert SCIMClient(secret).get("/Users").status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_valid_token_works(issued, scheme):
    """A valid token is accepted, the scheme name matched case-insensitively (RFC 7235 §2.1)."""
    _, secret = issued

    response = client_with_header(f"{scheme} {secret}").get("/Users")

    assert response.status_code == 200, response.content


def test_token_acts_for_its_own_tenant(make_tenant, make_client):
    """A token sees its own tenant's users only."""
    acme, globex = make_client(make_tenant("acme")), make_client(make_tenant("globex"))
    acme.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}
    )

    assert acme.get("/Users").json()["totalResults"] == 1
    assert globex.get("/Users").json()["totalResults"] == 0


def test_last_used_at_is_recorded_once_a_minute(issued, django_assert_num_queries):
    """last_used_at is set on first use and not rewritten by every request within a minute, so
    reads stay reads; after a minute it moves again."""
    token, secret = issued
    client = SCIMClient(secret)
    assert token.last_used_at is None

    before = timezone.now()
    client.get("/Users")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None and first_use >= before

    # The count of users (an empty tenant needs no page query), carrying the token's check;
    # no UPDATE.
    with django_assert_num_queries(1):
        client.get("/Users")
    token.refresh_from_db()
    assert token.last_used_at == first_use

    stale = timezone.now() - dt.timedelta(minutes=2)
    Token.objects.filter(pk=token.pk).update(last_used_at=stale)
    client.get("/Users")
    token.refresh_from_db()
    assert token.last_used_at > stale + dt.timedelta(minutes=1)


def test_failed_authentication_does_not_touch_last_used_at(issued):
    """A refused (revoked) token's last_used_at is not moved by the refused request."""
    token, secret = issued
    tokens.revoke(token)

    SCIMClient(secret).get("/Users")

    token.refresh_from_db()
    assert token.last_used_at is None


def test_only_the_sha256_digest_is_stored(issued):
    """The secret is stored only as its SHA-256 digest: no column holds it (django-rest-knox)."""
    token, secret = issued

    row = Token.objects.filter(pk=token.pk).values().get()

    assert row["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not [column for column, value in row.items() if secret in str(value)]
    assert len(row["prefix"]) < len(secret) // 2


@pytest.mark.parametrize("revoked", [False, True], ids=["accepted", "refused"])
def test_secret_is_never_logged(issued, caplog, settings, revoked):
    """Neither the secret nor the Authorization header appear in any log output of a request,
    even at DEBUG with SQL logging on (house style: never log tokens)."""
    token, secret = issued
    if revoked:
        tokens.revoke(token)
    settings.DEBUG = True  # makes django.db.backends log every query with its parameters
    header = f"Bearer {secret}"
    client = SCIMClient(secret)

    # Django's own "django" logger is at INFO; lower it too so nothing escapes the capture.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django"):
        client.post(
            "/Users",
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bjensen"},
        )
        client.get("/Users")
        client.get("/Users/not-a-user")

    assert caplog.records, "expected request logging to be captured"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert secret not in logged
    assert header not in logged
    assert any(r.name == "django.db.backends" for r in caplog.records)


# Reads by a token the process has accepted before carry its check inside their first
# statement (`tokens.Presumed`); a read that runs none, or fails before its first, checks the
# token alone. Each kind must refuse a token revoked or expired since.
READS = {
    "lookup": lambda client, made: client.get("/Users", {"filter": 'userName eq "bjensen"'}),
    "by id": lambda client, made: client.get(f"/Users/{made['user']}"),
    "groups": lambda client, made: client.get("/Groups"),
    "group with members": lambda client, made: client.get(f"/Groups/{made['group']}"),
    "HEAD": lambda client, made: client.head(f"/scim/v2/Users/{made['user']}"),
    "discovery": lambda client, made: client.get("/ServiceProviderConfig"),
    "bad filter": lambda client, made: client.get("/Users", {"filter": "userName zz 1"}),
    "not found": lambda client, made: client.get("/Users/not-an-id"),
    "too many parameters": lambda client, made: client.get(
        "/Users?" + "&".join(f"p{i}=1" for i in range(1100))
    ),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
@pytest.mark.parametrize("change", ["revoked", "expired"])
def test_a_known_token_is_refused_by_the_next_read_once_revoked(issued, read, change):
    token, secret = issued
    client = SCIMClient(secret)
    user = client.post("/Users", user_body("bjensen")).json()["id"]
    group = client.post("/Groups", group_body("G", members=[{"value": user}])).json()["id"]
    made = {"user": user, "group": group}
    assert read(client, made).status_code in (200, 400, 404)  # the token is known now

    if change == "revoked":
        tokens.revoke(token)
    else:
        Token.objects.filter(pk=token.pk).update(expires_at=timezone.now())

    for _ in range(2):
        response = read(client, made)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_a_known_token_is_refused_once_its_expiry_passes(tenant, monkeypatch):
    """Nothing in the token's row changes as it expires: the clock alone refuses it."""
    _, secret = tokens.issue(tenant, expires_at=timezone.now() + dt.timedelta(seconds=10))
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200
    later = timezone.now() + dt.timedelta(seconds=20)
    monkeypatch.setattr(tokens.timezone, "now", lambda: later)

    assert_unauthorized(client.get("/Users"))


def test_a_known_tokens_last_use_is_recorded_once_the_minute_is_past(issued, monkeypatch):
    token, secret = issued
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200
    later = timezone.now() + dt.timedelta(minutes=2)
    monkeypatch.setattr(tokens.timezone, "now", lambda: later)

    assert client.get("/Users").status_code == 200
    assert Token.objects.get(pk=token.pk).last_used_at == later


def test_a_read_answers_from_the_tenant_its_token_has_now(make_tenant, make_client):
    """A process that knew a token under one tenant never answers from that tenant once the
    token's row says another (nothing but the database moves a token: this is the strongest
    change a presumed token can meet)."""
    acme, globex = make_tenant("acme"), make_tenant("globex")
    token, secret = tokens.issue(acme, name="moved")
    client = SCIMClient(secret)
    client.post("/Users", user_body("bjensen"))
    assert client.get("/Users").json()["totalResults"] == 1

    Token.objects.filter(pk=token.pk).update(tenant=globex)

    assert client.get("/Users").json()["totalResults"] == 0
    assert client.get("/Users", {"filter": 'userName eq "bjensen"'}).json()["Resources"] == []


def test_a_tenant_changed_is_obeyed_by_the_next_read(issued):
    """A rate limit set on the tenant applies from the next read on, though the process knew
    the token without one: a burst of one lets that read through and refuses the one after."""
    token, secret = issued
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200
    token.tenant.rate_limit, token.tenant.rate_limit_burst = 0.001, 1
    token.tenant.save()

    assert client.get("/Users").status_code == 200
    assert_scim_error(client.get("/Users"), 429)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("state", ["never open", "dropped"])
def test_an_unreachable_database_costs_one_connect_attempt(
    transactional_db, issued, monkeypatch, method, state
):
    """While the database cannot be reached, a request by a known token tries to connect once
    and answers 503: a read's presumed attempt and the token check after it do not each wait
    for a connect timeout of their own."""
    from django.db import OperationalError, connection

    _, secret = issued
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200  # the token is known now
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(1)
        raise OperationalError("connection refused")

    if state == "never open":
        connection.close()
    else:
        connection.ensure_connection()
        connection.connection.close()  # psycopg's: Django still takes it for open
    monkeypatch.setattr(connection, "get_new_connection", refuse)
    try:
        if method == "GET":
            response = client.get("/Users")
        else:
            response = client.post("/Users", user_body("x"))
    finally:
        monkeypatch.undo()
        connection.close()

    assert_scim_error(response, 503)
    assert len(attempts) == 1


def test_a_read_cancelled_by_a_statement_timeout_runs_once(transactional_db, issued, monkeypatch):
    """A statement that fails on a sound connection (a statement timeout) is answered with its
    error (503) once the token is found usable; the read is not run again on a new
    connection, as after a connection the database dropped."""
    from django.db import connection

    from provisioning.storage import statements

    _, secret = issued
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200  # the token is known now
    fetch, runs, connects = statements._fetch, [], []

    def cancelled(db, sql, params):
        if "provisioning_user" in sql:
            runs.append(sql)
            with db.wrap_database_errors:
                db.connection.execute("SET statement_timeout = 50")
                try:
                    db.connection.execute("SELECT pg_sleep(1)")
                finally:
                    db.connection.execute("RESET statement_timeout")
        return fetch(db, sql, params)

    new_connection = connection.get_new_connection
    monkeypatch.setattr(statements, "_fetch", cancelled)
    monkeypatch.setattr(
        connection, "get_new_connection", lambda *a: connects.append(1) or new_connection(*a)
    )
    try:
        response = client.get("/Users")
    finally:
        monkeypatch.undo()

    assert_scim_error(response, 503)
    assert len(runs) == 1
    assert connects == []


def test_a_known_token_whose_row_is_gone_is_forgotten(issued):
    token, secret = issued
    client = SCIMClient(secret)
    assert client.get("/Users").status_code == 200
    Token.objects.filter(pk=token.pk).delete()

    assert_unauthorized(client.get("/Users"))
    assert tokens.digest(secret) not in tokens._known
