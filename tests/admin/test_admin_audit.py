"""The admin pages of issue 9: change records (read-only, also from a user's own page),
webhook endpoints (the signing secret shown once) and deliveries (failed ones retried)."""

import re

import pytest

from provisioning import signing
from provisioning.models import ChangeRecord, WebhookDelivery, WebhookEndpoint
from tests.conftest import patch_body, user_body

SECRET_ON_PAGE = re.compile(r'<code id="webhook-secret"[^>]*>([^<]+)</code>')


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_change_records_are_listed_and_read_only(admin_client, scim, make_user):
    """The changelist shows the records, newest first; none can be added, changed or
    deleted, not even by a superuser; a user's page links to its own history."""
    user = make_user("bjensen", active=True)
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "value": {"active": False}}))
    record = ChangeRecord.objects.latest("id")

    changelist = admin_client.get("/admin/provisioning/changerecord/")
    assert [(r.operation, r.name) for r in changelist.context["cl"].result_list] == [
        ("patch", "bjensen"),
        ("create", "bjensen"),
    ]
    assert changelist.context["has_add_permission"] is False
    page = admin_client.get(f"/admin/provisioning/changerecord/{record.pk}/change/")
    assert page.status_code == 200
    assert "&quot;before&quot;: true" in page.content.decode()
    assert (
        admin_client.post(
            f"/admin/provisioning/changerecord/{record.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )

    user_page = admin_client.get(f"/admin/provisioning/user/{user['id']}/change/").content.decode()
    (history,) = re.findall(r'href="([^"]+resource_id=[^"]+)">All 2 change records', user_page)
    own = admin_client.get(history.replace("&amp;", "&"))
    assert len(own.context["cl"].result_list) == 2


def test_endpoint_added_in_the_admin_shows_its_secret_once(admin_client, tenant, scim):
    """Adding an endpoint shows its signing secret once; it is stored encrypted, and signs
    the endpoint's events."""
    response = admin_client.post(
        "/admin/provisioning/webhookendpoint/add/",
        {"tenant": tenant.pk, "url": "https://app.example.com/hooks", "events": "user.*"},
    )
    assert response.status_code == 200
    (secret,) = SECRET_ON_PAGE.findall(response.content.decode())
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.events) == ("https://app.example.com/hooks", ["user.*"])
    assert secret not in endpoint.secret and signing.decrypt(endpoint.secret) == secret
    page = admin_client.get(f"/admin/provisioning/webhookendpoint/{endpoint.pk}/change/")
    assert secret not in page.content.decode()


def test_endpoint_events_are_checked(admin_client, tenant):
    """An unknown event type is refused with the form's error, and nothing is added."""
    response = admin_client.post(
        "/admin/provisioning/webhookendpoint/add/",
        {"tenant": tenant.pk, "url": "https://app.example.com/hooks", "events": "user.exploded"},
    )
    assert response.status_code == 200
    assert (
        response.context["adminform"]
        .form.errors["events"][0]
        .startswith("Unknown event 'user.exploded'")
    )
    assert not WebhookEndpoint.objects.exists()


def test_failed_deliveries_are_listed_and_retried(admin_client, tenant, scim):
    """The deliveries list filters by status; the retry action queues failed deliveries
    again, due now, and leaves the others as they are."""
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url="https://app.example.com/hooks", events=["user.*"], secret="x"
    )
    scim.post("/Users", user_body("a"))
    scim.post("/Users", user_body("b"))
    failed, delivered = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed", attempts=9)
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status="delivered")

    listed = admin_client.get("/admin/provisioning/webhookdelivery/", {"status__exact": "failed"})
    assert list(listed.context["cl"].result_list) == [failed]
    response = admin_client.post(
        "/admin/provisioning/webhookdelivery/",
        {"action": "retry", "_selected_action": [failed.pk, delivered.pk]},
    )

    assert response.status_code == 302
    assert dict(WebhookDelivery.objects.values_list("pk", "status")) == {
        failed.pk: "pending",
        delivered.pk: "delivered",
    }
