"""The `scim_tenant` management command: create a tenant (one IdP connection), list tenants
with their settings and what they hold, and set a connection's dialect, rate limit and OAuth
settings, validated as the admin validates them."""

import io

import pytest
from django.core.management import CommandError, call_command

from provisioning import tokens
from provisioning.models import Tenant
from tests.conftest import SCIMClient, patch_body, user_body


def run(*args) -> str:
    """Run `scim_tenant` with `args`; return what it wrote to stdout."""
    out = io.StringIO()
    call_command("scim_tenant", *args, stdout=out)
    return out.getvalue()


def test_create_with_name_and_dialect(db):
    """`create SLUG --name NAME --dialect D` makes the tenant; the dialect defaults to auto."""
    assert run("create", "okta-prod", "--name", "Okta (prod)", "--dialect", "okta") == (
        "Tenant 'okta-prod' created: dialect=okta  rate_limit=off  oauth=off.\n"
    )
    run("create", "entra")
    created = Tenant.objects.exclude(slug="default").order_by("slug")
    assert list(created.values_list("slug", "name", "dialect")) == [
        ("entra", "entra", "auto"),
        ("okta-prod", "Okta (prod)", "okta"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "not a slug"), "slug: "),
        (("create", "t", "--dialect", "strict"), "invalid choice: 'strict'"),
        (("set", "missing", "--dialect", "rfc"), "No tenant 'missing'."),
        (("set", "acme"), "Nothing to set"),
        (("set", "acme", "--dialect", "RFC"), "invalid choice: 'RFC'"),
    ],
    ids=["bad-slug", "unknown-dialect", "unknown-tenant", "nothing-to-set", "dialect-case"],
)
def test_refused(tenant, args, message):
    """Bad input is refused with a message, and nothing is written."""
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert list(Tenant.objects.values_list("slug", "dialect")) == [
        ("acme", "auto"),
        ("default", "auto"),
    ]


def test_create_refuses_a_taken_slug(tenant):
    with pytest.raises(CommandError, match="slug: Connection with this Slug already exists"):
        run("create", "acme", "--dialect", "rfc")
    assert Tenant.objects.get(slug="acme").dialect == "auto"


def test_list_shows_settings_and_counts(make_tenant, make_client):
    """`list` shows each tenant's slug, name, dialect and its users, groups and tokens."""
    acme, empty = make_tenant("acme"), make_tenant("empty")
    client = make_client(acme)
    for name in ("a", "b"):
        assert client.post("/Users", user_body(name)).status_code == 201
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}
    assert client.post("/Groups", group).status_code == 201
    tokens.issue(empty, name="spare")
    run("set", "empty", "--dialect", "entra")
    assert run("list").splitlines() == [
        "acme  name=Acme  dialect=auto  rate_limit=off  oauth=off  users=2  groups=1  tokens=1",
        "default  name=Default tenant  dialect=auto  rate_limit=off  oauth=off  users=0  groups=0  tokens=0",
        "empty  name=Empty  dialect=entra  rate_limit=off  oauth=off  users=0  groups=0  tokens=1",
    ]


def test_set_dialect_takes_effect_on_the_next_request(tenant):
    """`set SLUG --dialect rfc` changes how the connection's very next request is read:
    Entra's capitalised op is accepted in auto, then refused in rfc."""
    _, secret = tokens.issue(tenant)
    client = SCIMClient(secret)
    user = client.post("/Users", user_body("bjensen")).json()
    title = patch_body({"op": "Replace", "path": "title", "value": "Guide"})
    assert client.patch(f"/Users/{user['id']}", title).status_code == 200
    assert (
        run("set", "acme", "--dialect", "rfc")
        == "Tenant 'acme': dialect=rfc  rate_limit=off  oauth=off.\n"
    )
    response = client.patch(f"/Users/{user['id']}", title)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_create_and_list(db):
    assert run("create", "okta", "--name", "Okta production") == (
        "Tenant 'okta' created: dialect=auto  rate_limit=off  oauth=off.\n"
    )
    assert Tenant.objects.get(slug="okta").name == "Okta production"
    assert (
        "okta  name=Okta production  dialect=auto  rate_limit=off  oauth=off"
        "  users=0  groups=0  tokens=0"
    ) in run("list").splitlines()


def test_create_refuses_a_taken_or_bad_slug(db):
    run("create", "okta")
    with pytest.raises(CommandError, match="slug"):
        run("create", "okta")
    with pytest.raises(CommandError, match="slug"):
        run("create", "not a slug")


@pytest.mark.parametrize(
    ("spec", "rate", "burst", "shown"),
    [
        ("25/s", 25.0, None, "25/s,25"),
        ("25/s,50", 25.0, 50, "25/s,50"),
        ("0.5/s", 0.5, None, "0.5/s,1"),
        ("off", None, None, "off"),
    ],
)
def test_set_rate_limit(tenant, spec, rate, burst, shown):
    out = run("set", "acme", "--rate-limit", spec)
    tenant.refresh_from_db()
    assert (tenant.rate_limit, tenant.rate_limit_burst) == (rate, burst)
    assert f"rate_limit={shown}" in out


@pytest.mark.parametrize("spec", ["25", "0/s", "0.0001/s"])
def test_set_refuses_a_bad_rate_limit(tenant, spec):
    with pytest.raises(CommandError):
        run("set", "acme", "--rate-limit", spec)
    tenant.refresh_from_db()
    assert tenant.rate_limit is None


def test_set_oauth(tenant):
    out = run(
        "set",
        "acme",
        "--oauth-issuer",
        "https://example.okta.com/oauth2/default",
        "--oauth-audience",
        "api://scim",
        "--oauth-scope",
        "scim.provision",
    )
    tenant.refresh_from_db()
    assert (tenant.oauth_issuer, tenant.oauth_audience, tenant.oauth_scope) == (
        "https://example.okta.com/oauth2/default",
        "api://scim",
        "scim.provision",
    )
    assert "oauth_jwks_uri=(discovered)" in out

    run("set", "acme", "--oauth-client-id", "0oa1", "--oauth-scope", "")
    tenant.refresh_from_db()
    assert (tenant.oauth_scope, tenant.oauth_client_id) == ("", "0oa1")

    assert "oauth=off" in run("set", "acme", "--no-oauth")
    tenant.refresh_from_db()
    assert (tenant.oauth_issuer, tenant.oauth_audience, tenant.oauth_client_id) == ("", "", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--oauth-issuer", "https://idp.example.com"], "oauth_audience"),
        (
            ["--oauth-issuer", "https://idp.example.com", "--oauth-audience", "api://scim"],
            "a required scope or app role, or a client id",
        ),
        (
            [
                "--oauth-issuer",
                "http://idp.example.com",
                "--oauth-audience",
                "a",
                "--oauth-scope",
                "s",
            ],
            "https",
        ),
        (
            [
                "--oauth-issuer",
                "https://idp.example.com",
                "--oauth-audience",
                "a",
                "--oauth-scope",
                "s",
                "--oauth-jwks-uri",
                "https://user:pw@idp.example.com/keys",
            ],
            "oauth_jwks_uri",
        ),
        (["--oauth-audience", "api://scim", "--oauth-scope", "s"], "oauth_issuer"),
    ],
    ids=["no-audience", "no-scope-or-client", "plain-http", "credentials-in-url", "no-issuer"],
)
def test_set_refuses_incomplete_oauth(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        run("set", "acme", *args)
    tenant.refresh_from_db()
    assert tenant.oauth_issuer == ""


def test_two_tenants_cannot_share_issuer_and_audience(tenant, make_tenant):
    make_tenant("globex")
    oauth = ["--oauth-issuer", "https://idp.example.com", "--oauth-audience", "a"]
    run("set", "acme", *oauth, "--oauth-scope", "s")
    with pytest.raises(CommandError, match="Another tenant accepts the tokens of this issuer"):
        run("set", "globex", *oauth, "--oauth-scope", "s")


def test_set_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        run("set", "nope", "--rate-limit", "off")
