"""The `scim_tenant` management command: create and list tenants, set a tenant's rate limit and
OAuth settings, validated as the admin validates them."""

import io

import pytest
from django.core.management import CommandError, call_command

from provisioning.models import Tenant


def run(*args) -> str:
    out = io.StringIO()
    call_command("scim_tenant", *args, stdout=out)
    return out.getvalue()


def test_create_and_list(db):
    assert run("create", "okta", "--name", "Okta production") == "Tenant 'okta' created.\n"
    assert Tenant.objects.get(slug="okta").name == "Okta production"
    assert "okta  name=Okta production  rate_limit=off  oauth=off" in run("list").splitlines()


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
