"""An operator's round trip in a real browser: create a connection and copy its token, let
"the IdP" provision through the SCIM API with it, then find and inspect the result in the
admin, and revoke the token."""

import json
import re

import httpx2
import pytest

from provisioning.models import Tenant
from tests.browser.conftest import issue_token, overflowing_tables, sign_in
from tests.conftest import USER_SCHEMA, group_body

pytestmark = pytest.mark.live

CHANGELISTS = [
    "tenant",
    "token",
    "user",
    "group",
    "changerecord",
    "webhookendpoint",
    "webhookdelivery",
]


def scim_client(base_url: str, secret: str) -> httpx2.Client:
    return httpx2.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def follow(page, locator) -> None:
    """Click a link or button and wait for the page it leads to."""
    with page.expect_navigation():
        locator.click()


def listed(page) -> list[str]:
    """Return the first column of the changelist's rows."""
    return page.locator("#result_list tbody th").all_inner_texts()


def provision(scim: httpx2.Client) -> dict:
    """Provision what Okta would: a user with two emails, a group with her, and a group
    holding that group."""
    alice = scim.post(
        "/Users",
        json={
            "schemas": [USER_SCHEMA],
            "userName": "alice@acme.test",
            "externalId": "00u-alice",
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [
                {"value": "alice@acme.test", "type": "work", "primary": True},
                {"value": "alice.home@example.org", "type": "home"},
            ],
            "active": True,
        },
    )
    assert alice.status_code == 201, alice.text
    alice = alice.json()
    bob = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "bob@acme.test"})
    assert bob.status_code == 201, bob.text
    engineers = scim.post(
        "/Groups", json=group_body("Engineers", members=[{"value": alice["id"]}])
    ).json()
    staff = scim.post(
        "/Groups", json=group_body("All staff", members=[{"value": engineers["id"]}])
    ).json()
    return {"alice": alice, "bob": bob.json(), "engineers": engineers, "staff": staff}


def test_operator_round_trip(page, make_login, live_server_url):
    """Sign in; create a connection, copy its base URL and token; provision with them; then
    the admin shows the user (groups direct and inherited, the document GET serves, history
    naming the token, times with their zone), the group's members, search by a secondary
    email and the group filter; revoking the token refuses the API's very next request. No
    page logs a console error, and no list's columns are cut off at 1280 px."""
    make_login("root", superuser=True)
    sign_in(page, "root")
    assert page.title() == "Provisioning | scimserver"
    assert page.inner_text("#site-name") == "scimserver"

    page.goto("/admin/provisioning/tenant/add/")
    page.locator("#id_name").press_sequentially("Acme Okta")
    assert page.input_value("#id_slug") == "acme-okta"  # prepopulated as the name is typed
    follow(page, page.locator("input[name=_save]"))
    page.click("button[data-copy=token-secret]")
    secret = page.evaluate("navigator.clipboard.readText()")
    page.click("button[data-copy=scim-base-url]")
    base_url = page.evaluate("navigator.clipboard.readText()")
    assert base_url == f"{live_server_url}/scim/v2"
    assert secret.startswith("scim_") and secret == page.inner_text("#token-secret")
    assert "Okta" in page.inner_text("#content-main") and "Entra" in page.inner_text(
        "#content-main"
    )

    with scim_client(base_url, secret) as scim:
        made = provision(scim)
        alice_id = made["alice"]["id"]
        served = scim.get(f"/Users/{alice_id}").json()

        # Search by a secondary email, then filter by group.
        page.goto("/admin/provisioning/user/")
        page.fill("#searchbar", "alice.home@example")
        with page.expect_navigation():  # the results' page, not the one before it
            page.press("#searchbar", "Enter")
        assert listed(page) == ["alice@acme.test"]
        page.goto("/admin/provisioning/user/")
        assert listed(page) == ["alice@acme.test", "bob@acme.test"]
        follow(page, page.locator("#changelist-filter a", has_text="Engineers"))
        assert listed(page) == ["alice@acme.test"]
        follow(page, page.locator("#result_list a", has_text="alice@acme.test"))

        # The user's page.
        groups = dict(row.split("\t") for row in page.locator("#groups tbody tr").all_inner_texts())
        assert groups == {"Engineers": "direct", "All staff": "indirect"}
        assert json.loads(page.inner_text("#document pre")) == served
        history = page.locator("#history tbody tr").first.inner_text()
        token_prefix = secret[:12]
        assert f"token initial ({token_prefix}…)" in history and "create" in history
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", history)
        assert re.search(r"\d\d:\d\d:\d\d UTC", page.inner_text(".field-last_modified"))

        # Its inherited group, and that group's members.
        follow(page, page.locator("#groups a", has_text="All staff"))
        assert page.locator("#members tbody tr").all_inner_texts() == ["Engineers\tGroup"]
        follow(page, page.locator("#members a", has_text="Engineers"))
        assert page.locator("#members tbody tr").all_inner_texts() == ["alice@acme.test\tUser"]
        follow(page, page.locator("#members a", has_text="alice@acme.test"))
        assert page.url.endswith(f"/admin/provisioning/user/{alice_id}/change/")

        # Lists at 1280 px.
        for name in CHANGELISTS:
            page.goto(f"/admin/provisioning/{name}/")
            assert overflowing_tables(page) == [], name

        # Revoke the token from its page: the next request is refused.
        page.goto("/admin/provisioning/tenant/")
        follow(page, page.locator("#result_list a", has_text="Acme Okta"))
        assert overflowing_tables(page) == []
        tokens_table = page.locator("#tokens tbody tr").all_inner_texts()
        assert len(tokens_table) == 1 and "active" in tokens_table[0]
        follow(page, page.locator("#tokens a", has_text="initial"))
        follow(page, page.locator("#revoke-token"))
        assert "is revoked" in page.inner_text(".messagelist")
        assert "revoked" in page.inner_text(".field-status")
        assert scim.get("/Users").status_code == 401

    page.goto("/admin/provisioning/tenant/")
    follow(page, page.locator("#result_list a", has_text="Acme Okta"))
    assert "revoked" in page.locator("#tokens tbody tr").first.inner_text()
    assert page.errors == []


def test_staff_user_sees_only_their_connection(page, make_login, live_server_url):
    """A staff user operating one connection sees nothing of another: not in lists, filter
    choices, change records or tokens, and its objects' URLs are 404s."""
    ours = Tenant.objects.create(slug="ours", name="Ours")
    theirs = Tenant.objects.create(slug="theirs", name="Theirs")
    with scim_client(f"{live_server_url}/scim/v2", issue_token(ours)) as scim:
        mine = provision(scim)
    with scim_client(f"{live_server_url}/scim/v2", issue_token(theirs)) as scim:
        other = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "mallory"})
        other_group = scim.post("/Groups", json=group_body("Secret club")).json()
    other = other.json()
    views = [f"view_{name}" for name in CHANGELISTS]
    make_login("operator", perms=views, connections=[ours])
    sign_in(page, "operator")

    for name in CHANGELISTS:
        page.goto(f"/admin/provisioning/{name}/")
        text = page.inner_text("#content")
        assert "Theirs" not in text and "mallory" not in text and "Secret club" not in text, name
    page.goto("/admin/provisioning/user/")
    assert listed(page) == ["alice@acme.test", "bob@acme.test"]
    filters = page.inner_text("#changelist-filter")
    assert "Ours" in filters and "Engineers" in filters
    assert "Theirs" not in filters and "Secret club" not in filters
    page.goto(f"/admin/provisioning/user/?tenant={theirs.pk}")
    assert listed(page) == []

    assert page.errors == []
    for url in (
        f"/admin/provisioning/user/{other['id']}/change/",
        f"/admin/provisioning/group/{other_group['id']}/change/",
        f"/admin/provisioning/tenant/{theirs.pk}/change/",
        f"/admin/provisioning/token/{theirs.tokens.get().pk}/change/",
    ):
        assert page.goto(url).status == 404, url
    # The browser logs each 404 it was sent to, and nothing else.
    assert len(page.errors) == 4 and all("status of 404" in error for error in page.errors)
    assert page.goto(f"/admin/provisioning/user/{mine['alice']['id']}/change/").status == 200
