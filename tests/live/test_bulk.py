"""Bulk over real HTTP (RFC 7644 §3.7): an IdP-sized batch, the limits of
/ServiceProviderConfig enforced by the running server, and what other clients see meanwhile."""

import pytest

from provisioning.models import ChangeRecord

pytestmark = pytest.mark.live

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = {"Content-Type": "application/scim+json"}
PEOPLE = 500
# Everyone but the last two joins the second group by a PATCH: 1000 operations in all, the
# default maxOperations.
ADDED = PEOPLE - 2


def person(i: int) -> dict:
    """An Okta-shaped user, with an enterprise extension whose manager is the first person."""
    name = f"person{i:04d}@example.com"
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": name,
        "externalId": f"00u{i:017d}",
        "name": {"givenName": "Person", "familyName": f"Number {i}"},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "active": True,
        ENTERPRISE_SCHEMA: {"department": "Sales"},
    }
    if i:
        body[ENTERPRISE_SCHEMA]["manager"] = {"value": "bulkId:p0"}
    return body


def test_idp_sized_batch(live_client):
    """500 user creates, a group of all of them by bulkId, a second group that takes 498 of
    them by member-adding PATCHes, in one request of 1000 operations: every operation succeeds, every reference is the
    created id, and what the server answers afterwards agrees."""
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"p{i}", "data": person(i)}
        for i in range(PEOPLE)
    ]
    operations.append(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "sales",
            "data": {
                "schemas": [GROUP_SCHEMA],
                "displayName": "Sales",
                "members": [{"value": f"bulkId:p{i}", "type": "User"} for i in range(PEOPLE)],
            },
        }
    )
    operations.append(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "everyone",
            "data": {"schemas": [GROUP_SCHEMA], "displayName": "Everyone"},
        }
    )
    operations.extend(
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:everyone",
            "data": {
                "schemas": [PATCH_SCHEMA],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": f"bulkId:p{i}"}]}
                ],
            },
        }
        for i in range(ADDED)
    )
    response = live_client.post(
        "/Bulk", json={"schemas": [BULK_REQUEST], "Operations": operations}, headers=SCIM_JSON
    )
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert len(results) == len(operations)
    statuses = [r["status"] for r in results]
    assert statuses == ["201"] * (PEOPLE + 2) + ["204"] * ADDED
    ids = [r["location"].rsplit("/", 1)[1] for r in results[:PEOPLE]]
    everyone = results[PEOPLE + 1]["location"].rsplit("/", 1)[1]
    # The run of adds is one write: its version moves once, and each PATCH answers it.
    assert [r["version"] for r in results[PEOPLE + 2 :]] == ['W/"2"'] * ADDED

    sales = live_client.get(f"/Groups/{results[PEOPLE]['location'].rsplit('/', 1)[1]}").json()
    assert sorted(m["value"] for m in sales["members"]) == sorted(ids)
    group = live_client.get(f"/Groups/{everyone}").json()
    assert sorted(m["value"] for m in group["members"]) == sorted(ids[:ADDED])
    assert group["meta"]["version"] == 'W/"2"'
    member = live_client.get(f"/Users/{ids[ADDED - 1]}").json()
    assert member[ENTERPRISE_SCHEMA]["manager"] == {"value": ids[0]}
    assert sorted(g["display"] for g in member["groups"]) == ["Everyone", "Sales"]
    found = live_client.get(
        "/Users", params={"filter": 'userName eq "PERSON0499@example.com"'}
    ).json()
    assert [u["id"] for u in found["Resources"]] == [ids[-1]]
    (record,) = ChangeRecord.objects.filter(resource_id=everyone, operation="member_add")
    assert record.changes["members"]["added"] == ids[:ADDED]


def test_limits_are_advertised_and_enforced(live_client):
    """The running server refuses a Bulk past maxOperations with a 413 whose detail names the
    limit (RFC 7644 §3.7.4), and one past maxPayloadSize, sent in chunks, likewise."""
    bulk = live_client.get("/ServiceProviderConfig").json()["bulk"]
    assert bulk["supported"] is True
    too_many = [
        {"method": "DELETE", "path": f"/Users/{i}"} for i in range(bulk["maxOperations"] + 1)
    ]
    response = live_client.post(
        "/Bulk", json={"schemas": [BULK_REQUEST], "Operations": too_many}, headers=SCIM_JSON
    )
    assert response.status_code == 413
    assert response.json()["status"] == "413"
    assert f"maxOperations is {bulk['maxOperations']}" in response.json()["detail"]

    padding = "x" * bulk["maxPayloadSize"]

    def chunks():
        yield b'{"schemas": ["' + BULK_REQUEST.encode() + b'"], "Operations": [], "pad": "'
        yield padding.encode()
        yield b'"}'

    response = live_client.post("/Bulk", content=chunks(), headers=SCIM_JSON)
    assert response.status_code == 413
    assert str(bulk["maxPayloadSize"]) in response.json()["detail"]
