"""Webhooks in process: endpoints, the outbox written with each change, signed delivery to a
real local HTTP receiver, retries with backoff, giving up, and the retry of a failed one."""

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from provisioning import webhooks
from provisioning.events import event_types
from provisioning.models import ChangeRecord, WebhookDelivery, WebhookEndpoint
from tests.conftest import GROUP_SCHEMA, patch_body, user_body
from tests.receiver import Receiver


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("scim_webhook", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def add_endpoint(tenant):
    """Return a function that adds an endpoint with `scim_webhook add`; it returns the
    endpoint and the secret printed."""

    def add(url: str, events: str = "user.*,group.*") -> tuple[WebhookEndpoint, str]:
        out, _ = run("add", "--tenant", tenant.slug, "--url", url, "--events", events)
        return WebhookEndpoint.objects.latest("pk"), out.strip()

    return add


@pytest.fixture
def deliver():
    """Return a function that runs the worker's batches until nothing is due."""
    executor = ThreadPoolExecutor(4)
    http = webhooks.http_pool(4)

    def deliver() -> int:
        sent = 0
        while batch := webhooks.deliver_batch(http, 100, executor):
            sent += batch
        return sent

    yield deliver
    executor.shutdown()


def test_an_event_is_delivered_signed_as_standard_webhooks_says(
    scim, tenant, receiver, add_endpoint, deliver
):
    """A change becomes an event POSTed to the endpoint: id, type, time, tenant and the
    resource's id, externalId, userName, version and new values; signed so that the
    `standardwebhooks` library verifies it with the secret printed once."""
    endpoint, secret = add_endpoint(receiver.url)
    user = scim.post("/Users", user_body("bjensen", externalId="00u1", active=True)).json()

    assert deliver() == 1

    ((headers, content),) = receiver.received
    record = ChangeRecord.objects.get()
    delivery = WebhookDelivery.objects.get()
    assert Webhook(secret).verify(content, headers) == {
        "id": str(delivery.event_id),
        "type": "user.created",
        "timestamp": record.created.isoformat().replace("+00:00", "Z"),
        "tenant": "acme",
        "data": {
            "resourceType": "User",
            "id": user["id"],
            "externalId": "00u1",
            "userName": "bjensen",
            "version": 1,
            "changes": {"externalId": "00u1", "userName": "bjensen", "active": True},
        },
    }
    assert headers["webhook-id"] == str(delivery.event_id)
    assert secret.startswith("whsec_") and secret not in endpoint.secret
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 204)
    assert deliver() == 0


def test_events_of_a_change_and_endpoint_filters(
    scim, make_user, make_group, receiver, add_endpoint, deliver
):
    """Each endpoint gets the event types it asked for; a change that is several events
    (a deactivation with a rename, members added and removed) sends each, in order."""
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group("Guides", members=[{"value": alice["id"]}])
    add_endpoint(receiver.url, "user.deactivated,group.*")
    scim.patch(
        f"/Users/{alice['id']}",
        patch_body({"op": "replace", "value": {"active": False, "displayName": "Alice"}}),
    )
    scim.patch(
        f"/Groups/{group['id']}",
        patch_body(
            {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
            {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
        ),
    )
    deliver()
    # Events of different resources may arrive in any order; those of one resource in order.
    assert sorted(
        ((e["data"]["id"], e["type"], e["data"]["changes"]) for e in receiver.events()),
        key=lambda event: event[0] != alice["id"],
    ) == [
        (alice["id"], "user.deactivated", {"active": False, "displayName": "Alice"}),
        (
            group["id"],
            "group.members_added",
            {"members": {"added": [bob["id"]], "removed": [alice["id"]]}},
        ),
        (
            group["id"],
            "group.members_removed",
            {"members": {"added": [bob["id"]], "removed": [alice["id"]]}},
        ),
    ]


def test_a_failing_receiver_gets_the_event_again_with_backoff(
    scim, receiver, add_endpoint, deliver, settings
):
    """A 5xx is retried after a wait that doubles each time; the events after it of the same
    resource wait for it; only an excerpt of the answer is kept."""
    settings.SCIM = {
        **settings.SCIM,
        "WEBHOOK_BACKOFF_SECONDS": 0,
        "WEBHOOK_MAX_BACKOFF_SECONDS": 0,
    }
    add_endpoint(receiver.url)
    user = scim.post("/Users", user_body("bjensen")).json()
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "add", "path": "nickName", "value": "B"}))
    receiver.status, receiver.answer = 503, b"x" * 10_000

    http, executor = webhooks.http_pool(2), ThreadPoolExecutor(2)
    for _ in range(3):
        assert webhooks.deliver_batch(http, 100, executor) == 1  # the first event only
    first, second = WebhookDelivery.objects.order_by("id")
    assert (first.status, first.attempts, first.last_status) == ("pending", 3, 503)
    assert first.last_error == "x" * 200
    assert (second.status, second.attempts) == ("pending", 0)

    receiver.status = 204
    assert deliver() == 2
    assert [e["type"] for e in receiver.events()] == ["user.created", "user.updated"]
    executor.shutdown()


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 5), (2, 10), (3, 20), (7, 320), (8, 600), (50, 600)]
)
def test_backoff_doubles_up_to_its_maximum(attempts, seconds):
    """With the defaults: 5 s after the first failure, doubling, at most 10 minutes apart."""
    assert webhooks.backoff(attempts).total_seconds() == seconds


def test_a_delivery_is_given_up_after_the_retry_period_and_can_be_retried(
    scim, receiver, add_endpoint, deliver, settings
):
    """A delivery still failing when its next try would come after WEBHOOK_RETRY_FOR_SECONDS
    is marked failed, and no longer holds back the resource's later events; `retry` puts it
    back in the queue."""
    settings.SCIM = {**settings.SCIM, "WEBHOOK_RETRY_FOR_SECONDS": 1}
    add_endpoint(receiver.url)
    user = scim.post("/Users", user_body("bjensen")).json()
    receiver.status = 500
    assert deliver() == 1
    (failed,) = WebhookDelivery.objects.all()
    assert (failed.status, failed.attempts, failed.last_status) == ("failed", 1, 500)

    receiver.status = 204
    scim.delete(f"/Users/{user['id']}")
    assert deliver() == 1
    assert webhooks.retry(WebhookDelivery.objects.all()) == 1
    assert deliver() == 1
    assert [e["type"] for e in receiver.events()] == ["user.deleted", "user.created"]


def test_redirects_are_not_followed_and_an_unreachable_receiver_is_an_error(
    scim, receiver, add_endpoint, deliver, settings
):
    """A 3xx is a failure (events go to the configured URL only); a refused connection is
    recorded as the error it was."""
    settings.SCIM = {**settings.SCIM, "WEBHOOK_RETRY_FOR_SECONDS": 0}
    receiver.status = 307
    add_endpoint(receiver.url)
    receiver_down = Receiver()
    receiver_down.stop()
    add_endpoint(receiver_down.url)
    scim.post("/Users", user_body("bjensen"))
    deliver()
    redirected, refused = WebhookDelivery.objects.order_by("endpoint_id")
    assert (redirected.status, redirected.last_status) == ("failed", 307)
    assert (refused.status, refused.last_status) == ("failed", None)
    assert refused.last_error.startswith("MaxRetryError") or "refused" in refused.last_error


def test_no_endpoint_no_delivery_and_other_tenants_endpoints_get_nothing(
    scim, make_tenant, receiver, deliver
):
    """Events go to the endpoints of the change's tenant only."""
    other = make_tenant("other")
    run("add", "--tenant", other.slug, "--url", receiver.url)
    scim.post("/Users", user_body("bjensen"))
    assert (WebhookDelivery.objects.count(), deliver()) == (0, 0)


def test_webhook_commands(tenant, receiver):
    """`add` prints the secret once and checks its arguments; `list` shows endpoints without
    secrets; `remove` deletes one."""
    secret, err = run("add", "--tenant", "acme", "--url", receiver.url, "--events", "user.*")
    endpoint = WebhookEndpoint.objects.get()
    assert err == (
        f"Endpoint {endpoint.pk} added for tenant 'acme'. Copy its signing secret below now: "
        "it will not be shown again.\n"
    )
    listed, _ = run("list")
    assert listed == (
        f"{endpoint.pk}  tenant=acme  url={receiver.url}  events=user.*  pending=0  failed=0\n"
    )
    assert secret.strip() not in listed
    with pytest.raises(CommandError, match=r"Unknown event 'user\.exploded'"):
        run("add", "--url", receiver.url, "--events", "user.exploded")
    with pytest.raises(CommandError, match="Enter a valid URL"):
        run("add", "--tenant", "acme", "--url", "file:///etc/passwd")
    assert run("remove", str(endpoint.pk))[0] == f"Endpoint {endpoint.pk} removed.\n"
    with pytest.raises(CommandError, match=f"No endpoint {endpoint.pk}."):
        run("remove", str(endpoint.pk))


def test_the_outbox_costs_one_statement_per_write(
    scim, receiver, add_endpoint, django_assert_num_queries
):
    """However many endpoints, a create writes its row, its change record and all its outbox
    rows in one statement, as without endpoints (tests/storage/test_statements.py): with the token
    and the savepoint that the test's transaction adds, four."""
    add_endpoint(receiver.url)
    add_endpoint(receiver.url)
    scim.post("/Users", user_body("warm-up"))
    with django_assert_num_queries(4):
        scim.post("/Users", user_body("bjensen"))
    assert WebhookDelivery.objects.filter(data__userName="bjensen").count() == 2


def test_each_event_body_is_its_change_records_new_values(scim, make_user, add_endpoint):
    """Whatever wrote them (single requests, a Bulk's runs of creates and of member adds, a
    delete), each change record is an event per type and endpoint, in the order of the
    records, whose body carries the record's resource, version and each changed
    attribute's new value (member changes as ids; none for a delete); every event id is
    new."""
    add_endpoint("https://example.com/one")
    add_endpoint("https://example.com/two", "group.members_added,user.deleted")
    alice = make_user("alice", password="t0p-Secret", displayName="Alice")
    scim.put(f"/Users/{alice['id']}", user_body("alice", displayName="Al", password="other"))
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Staff"}).json()
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_body(f"u{i}")}
        for i in range(3)
    ] + [
        {
            "method": "PATCH",
            "path": f"/Groups/{group['id']}",
            "data": patch_body(
                {"op": "add", "path": "members", "value": [{"value": f"bulkId:u{i}"}]}
            ),
        }
        for i in range(3)
    ]
    response = scim.post(
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": operations,
        },
    )
    assert [r["status"] for r in response.json()["Operations"]] == ["201"] * 3 + ["204"] * 3
    scim.delete(f"/Users/{alice['id']}")

    wanted = {"one": {"user.*", "group.*"}, "two": {"group.members_added", "user.deleted"}}
    expected = []
    for record in ChangeRecord.objects.order_by("id"):
        types = event_types(record.resource_type, record.operation, record.changes)
        new_values = {
            path: change if path == "members" else change["after"]
            for path, change in record.changes.items()
        }
        data = {
            "resourceType": record.resource_type,
            "id": str(record.resource_id),
            "externalId": record.external_id,
            "userName" if record.resource_type == "User" else "displayName": record.name,
            "version": record.version,
            "changes": {} if record.operation == "delete" else new_values,
        }
        for event_type in types:
            for endpoint in ("one", "two"):
                if (
                    event_type in wanted[endpoint]
                    or f"{event_type.split('.')[0]}.*" in wanted[endpoint]
                ):
                    expected.append((endpoint, event_type, data))
    deliveries = WebhookDelivery.objects.select_related("endpoint").order_by("id")
    assert [
        (d.endpoint.url.rsplit("/", 1)[1], d.event_type, d.data) for d in deliveries
    ] == expected
    # Alice's create and PUT, the group's create, the 3 creates: one endpoint; the run of 3
    # member adds (one write, one record) and the delete: both.
    assert len(expected) == 6 + 2 * 2
    assert all("password" not in str(d.data) for d in deliveries)
    event_ids = [d.event_id for d in deliveries]
    assert len(set(event_ids)) == len(event_ids)
    assert {event_id.version for event_id in event_ids} == {4}
