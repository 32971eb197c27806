"""The `scim_tenant` management command: create a tenant (one IdP connection), list tenants
with their settings and what they hold, and set a connection's dialect."""

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
        "Tenant 'okta-prod' created: dialect=okta.\n"
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
    with pytest.raises(CommandError, match="slug: Tenant with this Slug already exists"):
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
        "acme  name=Acme  dialect=auto  users=2  groups=1  tokens=1",
        "default  name=Default tenant  dialect=auto  users=0  groups=0  tokens=0",
        "empty  name=Empty  dialect=entra  users=0  groups=0  tokens=1",
    ]


def test_set_dialect_takes_effect_on_the_next_request(tenant):
    """`set SLUG --dialect rfc` changes how the connection's very next request is read:
    Entra's capitalised op is accepted in auto, then refused in rfc."""
    _, secret = tokens.issue(tenant)
    client = SCIMClient(secret)
    user = client.post("/Users", user_body("bjensen")).json()
    title = patch_body({"op": "Replace", "path": "title", "value": "Guide"})
    assert client.patch(f"/Users/{user['id']}", title).status_code == 200
    assert run("set", "acme", "--dialect", "rfc") == "Tenant 'acme': dialect=rfc.\n"
    response = client.patch(f"/Users/{user['id']}", title)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
