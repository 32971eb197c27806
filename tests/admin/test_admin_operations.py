"""The admin as an operator's console (issue 10): connections created with a token shown once,
tokens bound to their connection and revoked from their page (recorded), group members a
page at a time, history with before and after, deletes that warn and are recorded, and staff
users who see only the connections they operate."""

import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from provisioning import tokens
from provisioning.admin import MEMBERS_PER_PAGE
from provisioning.models import (
    ChangeRecord,
    Group,
    Membership,
    Tenant,
    Token,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import SCIMClient, assert_scim_error, patch_body

SECRET_ON_PAGE = re.compile(r'<code id="token-secret"[^>]*>([^<]+)</code>')
BASE_URL_ON_PAGE = re.compile(r'<code id="scim-base-url"[^>]*>([^<]+)</code>')


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_connection_add_shows_base_url_and_a_token_once(admin_client):
    """Adding a connection answers with its SCIM base URL and a new token, with copy buttons
    and Okta/Entra hints; the token works and its secret is on no later page."""
    response = admin_client.post(
        "/admin/provisioning/tenant/add/",
        {"name": "Acme Entra", "slug": "acme-entra", "dialect": "entra"},
    )

    assert response.status_code == 200
    page = response.content.decode()
    (secret,) = SECRET_ON_PAGE.findall(page)
    assert BASE_URL_ON_PAGE.findall(page) == ["http://testserver/scim/v2"]
    assert page.count('data-copy="') == 2 and "Okta" in page and "Entra" in page
    tenant = Tenant.objects.get(slug="acme-entra")
    assert tenant.dialect == "entra"
    token = tenant.tokens.get()
    assert SCIMClient(secret).get("/Users").status_code == 200
    for url in (
        f"/admin/provisioning/tenant/{tenant.pk}/change/",
        f"/admin/provisioning/token/{token.pk}/change/",
        "/admin/provisioning/token/",
    ):
        assert secret not in admin_client.get(url).content.decode()


def test_connection_page_shows_tokens_and_counts(admin_client, tenant, make_user, make_group):
    """A connection's page shows its tokens with status and last use, and its users and
    groups counted; the settings have a fieldset of their own."""
    make_user("a")
    make_user("b")
    make_group("g")
    revoked, _ = tokens.issue(tenant, name="old")
    tokens.revoke(revoked)

    response = admin_client.get(f"/admin/provisioning/tenant/{tenant.pk}/change/")

    page = response.content.decode()
    assert [fieldset.name for fieldset in response.context["adminform"]] == [
        None,
        "Settings",
        "Provisioned",
        "Access",
    ]
    rows = re.findall(r"<tr>\s*<td><a href=\"/admin/provisioning/token/.*?</tr>", page, re.S)
    statuses = sorted(re.search(r'class="status-(\w+)"', row)[1] for row in rows)
    assert statuses == ["active", "revoked"]
    assert re.search(r'field-user_count.*?<div class="readonly">2</div>', page, re.S)
    assert re.search(r'field-group_count.*?<div class="readonly">1</div>', page, re.S)
    assert "UTC" in page  # times say their zone


def test_token_connection_cannot_change(admin_client, tenant, make_tenant):
    """A token's connection is read-only once issued: a posted tenant is ignored."""
    token, _ = tokens.issue(tenant, name="okta")
    other = make_tenant("globex")

    response = admin_client.post(
        f"/admin/provisioning/token/{token.pk}/change/",
        {"tenant": other.pk, "name": "renamed", "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert (token.tenant, token.name) == (tenant, "renamed")


def test_revoke_button_revokes_at_once_and_is_recorded(admin_client, admin_user, tenant):
    """The button on a token's page revokes it (POST only): the next SCIM request with it is
    a 401, and the admin's log records who revoked it."""
    token, secret = tokens.issue(tenant, name="okta")
    url = f"/admin/provisioning/token/{token.pk}/revoke/"
    page = admin_client.get(f"/admin/provisioning/token/{token.pk}/change/").content.decode()
    assert f'formaction="{url}"' in page

    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)

    assert response.status_code == 302
    assert_scim_error(SCIMClient(secret).get("/Users"), 401)
    entry = LogEntry.objects.get(object_id=str(token.pk))
    assert (entry.user, entry.action_flag, entry.change_message) == (admin_user, CHANGE, "Revoked.")
    assert 'formaction="' not in admin_client.get(response.url).content.decode()


def test_revoke_action_is_recorded(admin_client, tenant):
    """The list action records each revocation too."""
    token, _ = tokens.issue(tenant, name="okta")

    admin_client.post(
        "/admin/provisioning/token/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert LogEntry.objects.filter(object_id=str(token.pk), change_message="Revoked.").exists()


def test_user_page_shows_groups_direct_and_inherited(admin_client, make_user, make_group):
    """A user's page lists the groups she is in directly and through nested groups, linked."""
    alice = make_user("alice")
    inner = make_group("Inner", members=[{"value": alice["id"]}])
    outer = make_group("Outer", members=[{"value": inner["id"]}])

    page = admin_client.get(f"/admin/provisioning/user/{alice['id']}/change/").content.decode()

    rows = re.findall(
        r'<a href="/admin/provisioning/group/([^/]+)/change/">([^<]+)</a></td><td>(\w+)', page
    )
    assert sorted(rows) == sorted(
        [(inner["id"], "Inner", "direct"), (outer["id"], "Outer", "indirect")]
    )


def test_history_shows_who_and_what_changed(admin_client, scim, make_user):
    """A user's history names the token and shows each attribute before and after."""
    user = make_user("bjensen", active=True)
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "value": {"active": False}}))
    token = Token.objects.get()

    page = admin_client.get(f"/admin/provisioning/user/{user['id']}/change/").content.decode()

    (history,) = re.findall(r'<div class="module wide-table" id="history">(.*?)</div>', page, re.S)
    assert f"token test ({token.prefix}…)" in history
    assert re.search(
        r">patch</td>\s*<td>active</td>\s*<td><pre>true</pre></td>\s*<td><pre>false</pre></td>",
        history,
    )


@pytest.fixture
def big_group(tenant, make_group):
    """A group of 2.5 pages of users, written in bulk."""
    group = Group.objects.get(pk=make_group("Crowd")["id"])
    users = User.objects.bulk_create(
        [
            User(tenant=tenant, user_name=f"u{i:03}", data={"userName": f"u{i:03}"})
            for i in range(125)
        ]
    )
    Membership.objects.bulk_create(
        [Membership(tenant=tenant, group=group, user=user) for user in users]
    )
    return group


def test_group_members_are_paged(admin_client, big_group, django_assert_num_queries):
    """A group's page lists its members a page at a time, following the membership ids; each
    page costs the same statements whatever its place."""
    url = f"/admin/provisioning/group/{big_group.pk}/change/"

    seen = []
    page = admin_client.get(url)
    while True:
        seen += [member.display for member in page.context["members"]]
        after = page.context["members_next"]
        if after is None:
            break
        assert len(page.context["members"]) == MEMBERS_PER_PAGE
        page = admin_client.get(url, {"members_after": after})

    assert seen == [f"u{i:03}" for i in range(125)]
    first = _statements(admin_client, url)
    later = _statements(
        admin_client, url + f"?members_after={Membership.objects.order_by('id')[60].pk}"
    )
    assert first == later


def _statements(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    members = [q["sql"] for q in captured.captured_queries if "provisioning_membership" in q["sql"]]
    # One read of the page's members, bounded by LIMIT; one count for the list of groups' column.
    assert any("LIMIT 51" in sql for sql in members), members
    return len(captured.captured_queries)


def test_delete_warns_that_the_idp_keeps_the_person_and_is_recorded(
    admin_client, admin_user, make_user
):
    """Deleting a user from the admin says the IdP will send them again; the delete is a
    change record naming the admin."""
    user = make_user("bjensen")
    url = f"/admin/provisioning/user/{user['id']}/delete/"

    confirm = admin_client.get(url).content.decode()
    assert "The identity provider still has this person" in confirm
    assert "creates them again" in confirm
    selected = admin_client.post(
        "/admin/provisioning/user/", {"action": "delete_selected", "_selected_action": [user["id"]]}
    ).content.decode()
    assert "The identity provider still has this person" in selected

    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not User.objects.exists()
    record = ChangeRecord.objects.latest("id")
    assert (record.operation, record.admin_user, record.name) == ("delete", "admin", "bjensen")


# --- Staff users limited to their connections ---------------------------------------------------


@pytest.fixture
def two_connections(make_tenant, make_client, make_user):
    """Two connections, each with a user, a group, a change record, a token, an endpoint and
    a delivery."""
    made = {}
    for slug in ("ours", "theirs"):
        tenant = make_tenant(slug)
        client = make_client(tenant)
        WebhookEndpoint.objects.create(
            tenant=tenant, url=f"https://{slug}.example.com/hook", events=["user.*"], secret="x"
        )
        user = make_user(f"{slug}-person", client=client)
        client.post(
            "/Groups",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": f"{slug}-group",
            },
        )
        made[slug] = {"tenant": tenant, "user": user}
    return made


@pytest.fixture
def operator(django_user_model, two_connections):
    """A staff user who may view everything here, operating only `ours`."""
    login = django_user_model.objects.create_user("operator", password="x", is_staff=True)
    login.user_permissions.set(Permission.objects.filter(content_type__app_label="provisioning"))
    two_connections["ours"]["tenant"].operators.add(login)
    client = Client()
    client.force_login(login)
    return client


LISTS = ["tenant", "token", "user", "group", "changerecord", "webhookendpoint", "webhookdelivery"]


@pytest.mark.parametrize("model", LISTS)
def test_staff_lists_show_only_their_connections(operator, two_connections, model):
    """Every list, and every filter's choices, hold only the operator's connection."""
    response = operator.get(f"/admin/provisioning/{model}/")

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows
    tenants = {row.pk if model == "tenant" else row.tenant_id for row in rows}
    assert tenants == {two_connections["ours"]["tenant"].pk}
    page = response.content.decode()
    assert "theirs" not in page.lower()


def test_staff_cannot_reach_another_connections_objects(operator, two_connections):
    """A direct URL to another connection's object is a 404, on every kind of page, and a
    form offers only the operator's connections."""
    theirs = two_connections["theirs"]
    tenant = theirs["tenant"]
    token = tenant.tokens.get()
    urls = [
        f"/admin/provisioning/user/{theirs['user']['id']}/change/",
        f"/admin/provisioning/user/{theirs['user']['id']}/delete/",
        f"/admin/provisioning/user/{theirs['user']['id']}/history/",
        f"/admin/provisioning/group/{Group.objects.get(tenant=tenant).pk}/change/",
        f"/admin/provisioning/tenant/{tenant.pk}/change/",
        f"/admin/provisioning/token/{token.pk}/change/",
        f"/admin/provisioning/changerecord/{ChangeRecord.objects.filter(tenant=tenant).first().pk}/change/",
        f"/admin/provisioning/webhookendpoint/{tenant.webhook_endpoints.get().pk}/change/",
        f"/admin/provisioning/webhookdelivery/{WebhookDelivery.objects.filter(tenant=tenant).first().pk}/change/",
    ]
    for url in urls:
        assert operator.get(url).status_code == 404, url
    assert operator.post(f"/admin/provisioning/token/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    form = operator.get("/admin/provisioning/token/add/").context["adminform"].form
    assert list(form.fields["tenant"].queryset) == [two_connections["ours"]["tenant"]]
    refused = operator.post(
        "/admin/provisioning/token/add/",
        {"tenant": tenant.pk, "name": "sneaky", "expires_at_0": "", "expires_at_1": ""},
    )
    assert refused.status_code == 200 and not Token.objects.filter(name="sneaky").exists()


def test_staff_without_connections_see_nothing(django_user_model, two_connections):
    """A staff user assigned to no connection sees no rows at all (fail closed)."""
    login = django_user_model.objects.create_user("new", password="x", is_staff=True)
    login.user_permissions.set(Permission.objects.filter(content_type__app_label="provisioning"))
    client = Client()
    client.force_login(login)

    for model in LISTS:
        assert list(client.get(f"/admin/provisioning/{model}/").context["cl"].result_list) == []


# --- Sign-in ----------------------------------------------------------------------------------


def test_sign_in_is_locked_after_repeated_failures(django_user_model, settings):
    """After ADMIN_LOGIN_FAILURE_LIMIT wrong passwords, even the right one is refused
    (django-axes); a sign-in before that works."""
    django_user_model.objects.create_superuser("root", "root@example.com", "right-password")
    client = Client()

    def sign_in(password):
        return client.post("/admin/login/?next=/admin/", {"username": "root", "password": password})

    assert sign_in("right-password").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in("wrong").status_code == 200
    assert sign_in("wrong").status_code == 429
    locked = sign_in("right-password")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_connection_delete_counts_what_goes_with_it(admin_client, tenant, make_user, scim):
    """Deleting a connection counts its users, tokens and records instead of listing each."""
    make_user("a")
    make_user("b")

    page = admin_client.get(f"/admin/provisioning/tenant/{tenant.pk}/delete/")

    assert dict(page.context["model_count"]) == {
        "connection": 1,
        "SCIM users": 2,
        "token": 1,
        "change records": 2,
    }
    assert (
        admin_client.post(
            f"/admin/provisioning/tenant/{tenant.pk}/delete/", {"post": "yes"}
        ).status_code
        == 302
    )
    assert not Tenant.objects.filter(pk=tenant.pk).exists()


def test_lockout_behind_a_proxy_is_per_client_address(db, settings):
    """Behind a proxy (BEHIND_PROXY), failures count against the client's address from
    X-Forwarded-For, as change records name it: one client locked out leaves another free."""
    settings.SCIM = {**settings.SCIM, "TRUST_X_FORWARDED_FOR": True}
    client = Client()

    def sign_in(username, address):
        return client.post(
            "/admin/login/?next=/admin/",
            {"username": username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.1, {address}",
        )

    statuses = [sign_in(f"guess{i}", "203.0.113.7").status_code for i in range(5)]
    assert statuses == [200] * 4 + [429]
    assert sign_in("someone", "203.0.113.8").status_code == 200


def test_endpoint_connection_cannot_change(admin_client, tenant, make_tenant):
    """An endpoint stays with its connection: a posted tenant is ignored."""
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url="https://app.example.com/hook", events=["user.*"], secret="x"
    )
    other = make_tenant("globex")

    response = admin_client.post(
        f"/admin/provisioning/webhookendpoint/{endpoint.pk}/change/",
        {"tenant": other.pk, "url": "https://app.example.com/new", "events": "group.*"},
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.tenant, endpoint.url, endpoint.events) == (
        tenant,
        "https://app.example.com/new",
        ["group.*"],
    )


def token_of(client: SCIMClient) -> Token:
    secret = client.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    return Token.objects.get(digest=tokens.digest(secret))


def test_change_records_filter_by_token_operation_type_and_date(
    admin_client, tenant, make_client, make_user, make_group
):
    """The change-record list filters by the token that made a change, by operation, by
    resource type and by date; its token choices name the tokens."""
    okta, entra = make_client(tenant), make_client(tenant)
    make_user("a", client=okta)
    make_user("b", client=entra)
    make_group("g", client=entra)
    okta_token, entra_token = (token_of(client) for client in (okta, entra))

    def names(**params):
        response = admin_client.get("/admin/provisioning/changerecord/", params)
        return sorted(record.name for record in response.context["cl"].result_list)

    assert names(token=okta_token.prefix) == ["a"]
    assert names(token=entra_token.prefix) == ["b", "g"]
    assert names(resource_type__exact="Group") == ["g"]
    assert names(operation__exact="create", token=entra_token.prefix) == ["b", "g"]
    assert names(operation__exact="delete") == []
    old = {"created__gte": "2000-01-01 00:00:00+00:00", "created__lt": "2001-01-01 00:00:00+00:00"}
    assert names(**old) == []
    since = {"created__gte": "2000-01-01 00:00:00+00:00"}
    assert names(**since) == ["a", "b", "g"]
    page = admin_client.get("/admin/provisioning/changerecord/").content.decode()
    assert f"test ({okta_token.prefix}…)" in page


def test_endpoint_rows_link_to_their_pending_and_failed_deliveries(admin_client, tenant, scim):
    """An endpoint's row links to its pending and its failed deliveries."""
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url="https://app.example.com/hook", events=["user.*"], secret="x"
    )
    scim.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}
    )
    page = admin_client.get("/admin/provisioning/webhookendpoint/").content.decode()
    (pending,) = re.findall(r'href="([^"]+status__exact=pending)"', page)

    listed = admin_client.get(pending.replace("&amp;", "&")).context["cl"].result_list
    assert [(d.endpoint_id, d.status) for d in listed] == [(endpoint.pk, "pending")]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/provisioning/user/",
        "/admin/provisioning/group/",
        "/admin/provisioning/token/",
        "/admin/provisioning/changerecord/",
        "/admin/provisioning/webhookdelivery/",
    ],
)
def test_a_connection_filter_that_is_no_connection_is_refused_not_a_500(admin_client, path):
    """`?tenant=abc`, typed or tampered with, gets the admin's own answer to a filter it
    cannot apply (a redirect that drops it), never a server error."""
    response = admin_client.get(path, {"tenant": "abc"})
    assert response.status_code == 302
    assert admin_client.get(path, {"tenant": "1"}).status_code == 200
