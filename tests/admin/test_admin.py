"""The Django admin: tokens are issued there with the secret shown once; provisioned users are
searchable and read-only (the IdP owns them); tenants are listed, with their dialect, which
is edited there."""

import html
import json
import re

import pytest

from provisioning.models import Token
from tests.conftest import ENTERPRISE_SCHEMA, SCIMClient, assert_scim_error

SECRET_ON_PAGE = re.compile(r'<code id="token-secret"[^>]*>([^<]+)</code>')


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Hash the admin user's password cheaply: PBKDF2 would cost most of this module's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def add_token(admin_client, tenant):
    """Return a function that issues a token through the admin's add form; it returns the
    response of the form."""

    def add(name: str = "okta"):
        return admin_client.post(
            "/admin/provisioning/token/add/",
            {"tenant": tenant.pk, "name": name, "expires_at_0": "", "expires_at_1": ""},
        )

    return add


def test_token_add_shows_the_secret_once(add_token, admin_client, tenant):
    """Adding a token shows its secret on the response page, once; it authenticates against
    /scim/v2/Users, and the row stores only its digest (django-rest-knox)."""
    response = add_token("okta")

    assert response.status_code == 200
    (secret,) = SECRET_ON_PAGE.findall(response.content.decode())
    token = Token.objects.get()
    assert (token.tenant, token.name) == (tenant, "okta")
    assert SCIMClient(secret).get("/Users").status_code == 200
    row = Token.objects.filter(pk=token.pk).values().get()
    assert not [column for column, value in row.items() if secret in str(value)]
    assert row["digest"] != secret and len(row["digest"]) == 64

    change_page = admin_client.get(f"/admin/provisioning/token/{token.pk}/change/")
    changelist = admin_client.get("/admin/provisioning/token/")
    for page in (change_page, changelist):
        assert page.status_code == 200
        assert secret not in page.content.decode()
        assert token.digest not in page.content.decode()


def test_revoke_action(add_token, admin_client):
    """The "revoke" action of the token changelist revokes the selected tokens: they then get a
    SCIM 401; unselected tokens keep working."""
    revoked_secret = SECRET_ON_PAGE.findall(add_token("old").content.decode())[0]
    kept_secret = SECRET_ON_PAGE.findall(add_token("new").content.decode())[0]
    old = Token.objects.get(name="old")

    response = admin_client.post(
        "/admin/provisioning/token/", {"action": "revoke", "_selected_action": [old.pk]}
    )

    assert response.status_code == 302
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert_scim_error(SCIMClient(revoked_secret).get("/Users"), 401)
    assert SCIMClient(kept_secret).get("/Users").status_code == 200


@pytest.fixture
def provisioned(make_user) -> dict:
    """Two users created through the API, one active and one not; keyed by userName."""
    return {
        "bjensen": make_user(
            "bjensen",
            externalId="okta-00u1",
            active=True,
            emails=[{"value": "babs@example.com", "type": "work", "primary": True}],
        ),
        "jsmith": make_user(
            "jsmith",
            externalId="okta-00u2",
            active=False,
            emails=[{"value": "john@example.org", "type": "work"}],
            **{ENTERPRISE_SCHEMA: {"employeeNumber": "E-4711"}},
        ),
    }


def listed(admin_client, **params) -> set[str]:
    """Return the userNames the user changelist shows for `params`."""
    response = admin_client.get("/admin/provisioning/user/", params)
    assert response.status_code == 200
    return {user.user_name for user in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"bjensen", "jsmith"}),
        ({"q": "bjensen"}, {"bjensen"}),
        ({"q": "BJENSEN"}, {"bjensen"}),
        ({"q": "babs@example.com"}, {"bjensen"}),
        ({"q": "example.org"}, {"jsmith"}),
        ({"q": "okta-00u2"}, {"jsmith"}),
        ({"q": "e-4711"}, {"jsmith"}),
        ({"q": "nobody"}, set()),
        ({"active__exact": "1"}, {"bjensen"}),
        ({"active__exact": "0"}, {"jsmith"}),
    ],
    ids=[
        "all",
        "userName",
        "userName-other-case",
        "email",
        "email-domain",
        "externalId",
        "employeeNumber",
        "no-match",
        "active",
        "inactive",
    ],
)
def test_user_changelist_search_and_filter(admin_client, provisioned, params, expected):
    """Users created through the API can be found by userName, email, externalId or
    employeeNumber (every column the schema table gives a substring index), and filtered by
    active."""
    assert listed(admin_client, **params) == expected


def test_users_cannot_be_added_or_changed(admin_client, scim, provisioned):
    """The IdP owns users: the admin offers no add button, and adding or changing one is
    refused; the change page is a read-only view."""
    user_id = provisioned["bjensen"]["id"]

    changelist = admin_client.get("/admin/provisioning/user/")
    assert changelist.context["has_add_permission"] is False
    assert "/admin/provisioning/user/add/" not in changelist.content.decode()
    assert admin_client.get("/admin/provisioning/user/add/").status_code == 403
    assert admin_client.post("/admin/provisioning/user/add/", {"user_name": "x"}).status_code == 403

    change_url = f"/admin/provisioning/user/{user_id}/change/"
    view = admin_client.get(change_url)
    assert view.status_code == 200
    assert view.context["has_change_permission"] is False
    assert 'name="_save"' not in view.content.decode()

    refused = admin_client.post(change_url, {"user_name": "mallory", "active": "on"})
    assert refused.status_code == 403
    assert scim.get(f"/Users/{user_id}").json() == provisioned["bjensen"]


def test_user_change_page_shows_the_document_get_serves(admin_client, scim, provisioned):
    """The read-only user page shows the user exactly as GET /Users/{id} serves it."""
    user = provisioned["bjensen"]

    page = admin_client.get(f"/admin/provisioning/user/{user['id']}/change/").content.decode()

    (shown,) = re.findall(r'<div class="module" id="document">.*?<pre>(.*?)</pre>', page, re.S)
    assert json.loads(html.unescape(shown)) == scim.get(f"/Users/{user['id']}").json()


def test_tenant_changelist_lists_tenants(admin_client, make_tenant):
    """The tenant admin lists every tenant, the default one included."""
    make_tenant("globex")

    response = admin_client.get("/admin/provisioning/tenant/")

    assert response.status_code == 200
    slugs = {t.slug for t in response.context["cl"].result_list}
    assert {"default", "globex"} <= slugs


def tenant_form(tenant, **fields) -> dict:
    """Return the tenant change form's fields, as the admin shows them, with `fields` set."""
    form = {
        "slug": tenant.slug,
        "name": tenant.name,
        "dialect": tenant.dialect,
        "rate_limit": "",
        "rate_limit_burst": "",
    }
    form.update(dict.fromkeys(OAUTH_FIELDS, ""))
    form.update(fields)
    return form


OAUTH_FIELDS = (
    "oauth_issuer",
    "oauth_audience",
    "oauth_jwks_uri",
    "oauth_scope",
    "oauth_client_id",
)


def test_tenant_rate_limit_and_oauth_are_set_in_the_admin(admin_client, tenant):
    """The tenant's page sets its rate limit and OAuth settings, and refuses OAuth settings
    that would let any client of the issuer in."""
    url = f"/admin/provisioning/tenant/{tenant.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert all(f'name="{f}"' in page for f in ("rate_limit", "rate_limit_burst", *OAUTH_FIELDS))

    issuer = {"oauth_issuer": "https://login.example.com/tid/v2.0", "oauth_audience": "api://scim"}
    response = admin_client.post(url, tenant_form(tenant, **issuer))
    assert response.status_code == 200
    assert "a required scope or app role, or a client id" in response.content.decode()

    form = tenant_form(tenant, rate_limit="25", rate_limit_burst="50", oauth_scope="scim", **issuer)
    assert admin_client.post(url, form).status_code == 302
    tenant.refresh_from_db()
    assert (tenant.rate_limit, tenant.rate_limit_burst, tenant.oauth_scope) == (25, 50, "scim")
    assert tenant.oauth_issuer == "https://login.example.com/tid/v2.0"


def test_tenant_dialect_shown_and_edited(admin_client, tenant):
    """The tenant list shows each connection's dialect; the change form edits it, and refuses
    a dialect that does not exist."""
    listing = admin_client.get("/admin/provisioning/tenant/").content.decode()
    assert re.search(r'<td class="field-dialect">auto</td>', listing)
    url = f"/admin/provisioning/tenant/{tenant.pk}/change/"

    refused = admin_client.post(url, tenant_form(tenant, dialect="strict"))
    assert refused.status_code == 200 and "dialect" in refused.context["adminform"].form.errors

    assert admin_client.post(url, tenant_form(tenant, dialect="rfc")).status_code == 302
    tenant.refresh_from_db()
    assert tenant.dialect == "rfc"
