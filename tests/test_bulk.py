"""Bulk (RFC 7644 §3.7): the RFC's own examples, bulkId references in every place an id may
appear, the order operations run in, failOnErrors, versions, limits, malformed requests, and
runs written together that answer exactly as operations run one by one."""

import uuid

import pytest

from provisioning import signals
from provisioning.models import ChangeRecord, Group, Membership, User, WebhookDelivery
from tests.conftest import (
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    assert_scim_error,
    group_body,
    patch_body,
    streamed_json,
    user_body,
)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
BASE = "http://testserver/scim/v2"


def bulk(*operations, **members) -> dict:
    return {"schemas": [BULK_REQUEST], "Operations": list(operations), **members}


def post(path: str, bulk_id: str, data: dict) -> dict:
    return {"method": "POST", "path": path, "bulkId": bulk_id, "data": data}


def managed(user_name: str, manager: str) -> dict:
    """Return a User body whose enterprise `manager` is `manager` (an id or a reference)."""
    return user_body(
        user_name,
        schemas=[USER_SCHEMA, ENTERPRISE_SCHEMA],
        **{ENTERPRISE_SCHEMA: {"manager": {"value": manager}}},
    )


def send(scim, body, status: int = 200) -> list[dict]:
    response = scim.post("/Bulk", body)
    assert response.status_code == status, response.content
    payload = response.json()
    assert payload["schemas"] == [BULK_RESPONSE]
    return payload["Operations"]


def created_id(result: dict) -> str:
    return result["location"].rsplit("/", 1)[1]


def error(status: int, scim_type: str | None, detail: str) -> dict:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def version_of(scim, path: str) -> str:
    response = scim.get(path)
    return response["ETag"]


# --- RFC 7644 §3.7.2 and §3.7.3, as written ---------------------------------------------------


def test_rfc_3_7_2_user_and_group_by_bulk_id(scim):
    """§3.7.2: a User and a Group holding it through `bulkId:qwerty`; the answer lists each
    operation with its location, bulkId, version and status, and the group holds Alice."""
    results = send(
        scim,
        bulk(
            post("/Users", "qwerty", {"schemas": [USER_SCHEMA], "userName": "Alice"}),
            post(
                "/Groups",
                "ytrewq",
                {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": "Tour Guides",
                    "members": [{"type": "User", "value": "bulkId:qwerty"}],
                },
            ),
        ),
    )
    alice, guides = created_id(results[0]), created_id(results[1])
    assert results == [
        {
            "method": "POST",
            "bulkId": "qwerty",
            "location": f"{BASE}/Users/{alice}",
            "version": 'W/"1"',
            "status": "201",
        },
        {
            "method": "POST",
            "bulkId": "ytrewq",
            "location": f"{BASE}/Groups/{guides}",
            "version": 'W/"1"',
            "status": "201",
        },
    ]
    group = streamed_json(scim.get(f"/Groups/{guides}"))
    assert group["members"] == [{"value": alice, "$ref": f"{BASE}/Users/{alice}", "type": "User"}]
    assert scim.get(f"/Users/{alice}").json()["groups"][0]["value"] == guides


def test_rfc_3_7_2_manager_in_the_enterprise_extension(scim):
    """§3.7.2: "Extensions that include references to other resources MUST be handled in the
    same way": Bob's manager is `bulkId:qwerty`, Alice's id once created."""
    results = send(
        scim,
        bulk(
            post("/Users", "qwerty", {"schemas": [USER_SCHEMA], "userName": "Alice"}),
            post(
                "/Users",
                "ytrewq",
                {
                    "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                    "userName": "Bob",
                    ENTERPRISE_SCHEMA: {
                        "employeeNumber": "11250",
                        "manager": {"value": "bulkId:qwerty"},
                    },
                },
            ),
        ),
    )
    assert [r["status"] for r in results] == ["201", "201"]
    bob = scim.get(f"/Users/{created_id(results[1])}").json()
    assert bob[ENTERPRISE_SCHEMA] == {
        "employeeNumber": "11250",
        "manager": {"value": created_id(results[0])},
    }


@pytest.fixture
def three_users(make_user):
    """The users the §3.7.3 example replaces, patches and deletes."""
    return [make_user(name) for name in ("bob", "dave", "erin")]


def rfc_3_7_3_request(users: list[dict], versions: list[str], alice_schema: str) -> dict:
    """The §3.7.3 request, with this server's ids and versions (its PATCH `data`, `{[...]}`
    in the RFC, made valid JSON)."""
    bob, dave, erin = users
    return bulk(
        post("/Users", "qwerty", {"schemas": [alice_schema], "userName": "Alice"}),
        {
            "method": "PUT",
            "path": f"/Users/{bob['id']}",
            "version": versions[0],
            "data": {"schemas": [USER_SCHEMA], "id": bob["id"], "userName": "Bob"},
        },
        {
            "method": "PATCH",
            "path": f"/Users/{dave['id']}",
            "version": versions[1],
            "data": patch_body(
                {"op": "remove", "path": "nickName"},
                {"op": "add", "path": "userName", "value": "Dave"},
            ),
        },
        {"method": "DELETE", "path": f"/Users/{erin['id']}", "version": versions[2]},
        failOnErrors=1,
    )


def test_rfc_3_7_3_add_update_and_remove(scim, three_users):
    """§3.7.3: a POST, a PUT and a PATCH with the versions they expect, and a DELETE."""
    results = send(scim, rfc_3_7_3_request(three_users, ['W/"1"'] * 3, USER_SCHEMA))
    bob, dave, erin = (user["id"] for user in three_users)
    assert results[1:] == [
        {"method": "PUT", "location": f"{BASE}/Users/{bob}", "version": 'W/"2"', "status": "200"},
        {
            "method": "PATCH",
            "location": f"{BASE}/Users/{dave}",
            "version": 'W/"2"',
            "status": "200",
        },
        {"method": "DELETE", "location": f"{BASE}/Users/{erin}", "status": "204"},
    ]
    assert results[0]["status"] == "201"
    assert scim.get(f"/Users/{bob}").json()["userName"] == "Bob"
    assert scim.get(f"/Users/{dave}").json()["userName"] == "Dave"
    assert scim.get(f"/Users/{erin}").status_code == 404


def test_rfc_3_7_3_fail_on_errors_stops_after_the_first_error(scim, three_users):
    """§3.7.3: with `failOnErrors` 1, Alice's POST (whose `schemas` names no User schema)
    fails, and nothing after it is processed or answered."""
    request = rfc_3_7_3_request(
        three_users, ['W/"1"'] * 3, "urn:ietf:params:scim:api:messages:2.0:User"
    )
    results = send(scim, request)
    assert results == [
        {
            "method": "POST",
            "bulkId": "qwerty",
            "status": "400",
            "response": error(
                400,
                "invalidSyntax",
                "'schemas' must include 'urn:ietf:params:scim:schemas:core:2.0:User'.",
            ),
        }
    ]
    assert [u.user_name for u in User.objects.order_by("user_name")] == ["bob", "dave", "erin"]


def test_rfc_3_7_3_every_operation_failing(scim, three_users):
    """§3.7.3: without `failOnErrors` every operation is processed; here each fails: a POST
    that violates the schema, a PUT and a PATCH whose version is stale (412), and a DELETE of
    a user already gone (404)."""
    erin = three_users[2]["id"]
    assert scim.delete(f"/Users/{erin}").status_code == 204
    request = rfc_3_7_3_request(
        three_users, ['W/"7"', 'W/"7"', 'W/"1"'], "urn:ietf:params:scim:api:messages:2.0:User"
    )
    del request["failOnErrors"]
    results = send(scim, request)
    bob, dave = three_users[0]["id"], three_users[1]["id"]
    stale = 'The resource is at version W/"1"; If-Match named another.'
    assert results == [
        {
            "method": "POST",
            "bulkId": "qwerty",
            "status": "400",
            "response": error(
                400,
                "invalidSyntax",
                "'schemas' must include 'urn:ietf:params:scim:schemas:core:2.0:User'.",
            ),
        },
        {
            "method": "PUT",
            "location": f"{BASE}/Users/{bob}",
            "status": "412",
            "response": error(412, None, stale),
        },
        {
            "method": "PATCH",
            "location": f"{BASE}/Users/{dave}",
            "status": "412",
            "response": error(412, None, stale),
        },
        {
            "method": "DELETE",
            "location": f"{BASE}/Users/{erin}",
            "status": "404",
            "response": error(404, None, f"User '{erin}' not found."),
        },
    ]
    assert scim.get(f"/Users/{bob}").json()["userName"] == "bob"


def test_rfc_3_7_1_circular_groups_are_409(scim):
    """§3.7.1's example: Group A holds Group B and B holds A. A group can never hold itself,
    directly or not, so the attempt to resolve the circle fails: both operations are 409
    (Conflict), and nothing is created."""
    results = send(
        scim,
        bulk(
            post(
                "/Groups",
                "qwerty",
                group_body("Group A", members=[{"type": "Group", "value": "bulkId:ytrewq"}]),
            ),
            post(
                "/Groups",
                "ytrewq",
                group_body("Group B", members=[{"type": "Group", "value": "bulkId:qwerty"}]),
            ),
        ),
    )
    prefix = (
        "The operation is part of a circle of bulkId references that could not be resolved "
        "(RFC 7644 §3.7.1): Member '"
    )
    for result, bulk_id in zip(results, ("qwerty", "ytrewq"), strict=True):
        detail = result["response"]["detail"]
        assert detail.startswith(prefix) and detail.endswith("does not exist in this tenant.")
        assert result == {
            "method": "POST",
            "bulkId": bulk_id,
            "status": "409",
            "response": error(409, None, detail),
        }
    assert not Group.objects.exists()


def test_circle_of_managers_is_resolved(scim):
    """§3.7.1: "The service provider MUST try to resolve circular cross-references": users
    who are each other's manager are created together, each naming the other's id; what
    refers to them runs after them."""
    results = send(
        scim,
        bulk(
            post("/Groups", "g", group_body("g", members=[{"value": "bulkId:a"}])),
            post("/Users", "a", managed("a", "bulkId:b")),
            post("/Users", "b", managed("b", "bulkId:c")),
            post("/Users", "c", managed("c", "bulkId:a")),
            post("/Users", "self", managed("self", "bulkId:self")),
        ),
    )
    assert [r["status"] for r in results] == ["201"] * 5
    a, b, c, itself = (created_id(r) for r in results[1:])
    for user_id, manager in ((a, b), (b, c), (c, a), (itself, itself)):
        assert scim.get(f"/Users/{user_id}").json()[ENTERPRISE_SCHEMA]["manager"] == {
            "value": manager
        }
    assert ChangeRecord.objects.filter(operation="create", resource_type="User").count() == 4
    group = streamed_json(scim.get(f"/Groups/{created_id(results[0])}"))
    assert [m["value"] for m in group["members"]] == [a]


def test_circle_that_fails_creates_none_of_it(scim, make_user):
    """A circle is resolved whole or not at all: a userName taken in it leaves every
    operation of the circle a 409, and an operation needing one of them fails for want of it."""
    make_user("taken")
    results = send(
        scim,
        bulk(
            post("/Users", "a", managed("a", "bulkId:b")),
            post("/Users", "b", managed("taken", "bulkId:a")),
            post("/Users", "c", user_body("c")),
            post("/Groups", "g", group_body("g", members=[{"value": "bulkId:a"}])),
        ),
    )
    assert [r["status"] for r in results] == ["409", "409", "201", "400"]
    assert results[0]["response"]["detail"].endswith("userName 'taken' is already in use.")
    assert "scimType" not in results[0]["response"]
    assert results[3]["response"]["scimType"] == "invalidValue"
    assert sorted(User.objects.values_list("user_name", flat=True)) == ["c", "taken"]


# --- Order and references -------------------------------------------------------------------


def test_reference_to_a_later_post_runs_that_post_first(scim):
    """A group whose member is created later in the request: the user's POST runs first
    (RFC 7644 §3.7: the client's intent is preserved); the answer keeps the request's order."""
    results = send(
        scim,
        bulk(
            post("/Groups", "g", group_body("Staff", members=[{"value": "bulkId:u"}])),
            {
                "method": "PATCH",
                "path": "/Users/bulkId:u",
                "data": patch_body({"op": "replace", "path": "manager", "value": "bulkId:m"}),
            },
            post("/Users", "u", user_body("ursula")),
            post("/Users", "m", user_body("mike")),
        ),
    )
    assert [(r["method"], r.get("bulkId"), r["status"]) for r in results] == [
        ("POST", "g", "201"),
        ("PATCH", None, "200"),
        ("POST", "u", "201"),
        ("POST", "m", "201"),
    ]
    ursula, mike = created_id(results[2]), created_id(results[3])
    assert results[1]["location"] == f"{BASE}/Users/{ursula}"
    assert results[1]["version"] == 'W/"3"'  # created, joined the group, manager set
    group = streamed_json(scim.get(f"/Groups/{created_id(results[0])}"))
    assert [m["value"] for m in group["members"]] == [ursula]
    user = scim.get(f"/Users/{ursula}").json()
    assert user[ENTERPRISE_SCHEMA]["manager"] == {"value": mike}


def test_patch_values_and_paths_take_references(scim, make_group):
    """`bulkId:` in a PATCH value (members) and in an operation's path."""
    existing = make_group("Existing")
    results = send(
        scim,
        bulk(
            post("/Users", "u", user_body("ursula")),
            post("/Groups", "g", group_body("New")),
            {
                "method": "PATCH",
                "path": f"/Groups/{existing['id']}",
                "data": patch_body(
                    {"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}
                ),
            },
            {
                "method": "PUT",
                "path": "/Groups/bulkId:g",
                "data": group_body("Renamed", members=[{"value": "bulkId:u"}]),
            },
        ),
    )
    assert [r["status"] for r in results] == ["201", "201", "204", "200"]
    assert results[2]["version"] == 'W/"2"'
    user = scim.get(f"/Users/{created_id(results[0])}").json()
    assert sorted(g["display"] for g in user["groups"]) == ["Existing", "Renamed"]


@pytest.mark.parametrize(
    ("reference", "detail"),
    [
        ("bulkId:nowhere", "'bulkId:nowhere' names no POST operation of this request."),
        (
            "bulkId:bad",
            "'bulkId:bad' names no resource: the operation that was to create it failed.",
        ),
    ],
    ids=["undefined", "failed"],
)
def test_unresolved_reference_fails_the_operation(scim, reference, detail):
    results = send(
        scim,
        bulk(
            post("/Users", "bad", {"schemas": [USER_SCHEMA]}),
            post("/Groups", "g", group_body("G", members=[{"value": reference}])),
        ),
    )
    assert results[1] == {
        "method": "POST",
        "bulkId": "g",
        "status": "400",
        "response": error(400, "invalidValue", detail),
    }
    assert not Group.objects.exists()


def test_version_star_and_unknown_tags(scim, make_user):
    """`version` is read as If-Match is: `*` matches any version, a tag this server never
    issued matches none (412)."""
    user = make_user("bjensen")
    path = f"/Users/{user['id']}"
    replace = patch_body({"op": "replace", "path": "nickName", "value": "Babs"})
    results = send(
        scim,
        bulk(
            {"method": "PATCH", "path": path, "version": "*", "data": replace},
            {"method": "PATCH", "path": path, "version": 'W/"abc"', "data": replace},
            {"method": "DELETE", "path": path, "version": 'W/"2"'},
        ),
    )
    assert [r["status"] for r in results] == ["200", "412", "204"]


def test_operations_on_another_tenants_resources_are_404(scim, make_client, make_tenant):
    other = make_client(make_tenant("other"))
    theirs = other.post("/Users", user_body("theirs")).json()
    results = send(
        scim,
        bulk(
            {"method": "DELETE", "path": f"/Users/{theirs['id']}"},
            {
                "method": "PATCH",
                "path": f"/Users/{theirs['id']}",
                "data": patch_body({"op": "replace", "path": "active", "value": False}),
            },
        ),
    )
    assert [r["status"] for r in results] == ["404", "404"]
    assert other.get(f"/Users/{theirs['id']}").json()["userName"] == "theirs"


def test_fail_on_errors_counts_errors(scim):
    """`failOnErrors: 2`: the run stops after the second error; the rest is not answered."""
    results = send(
        scim,
        bulk(
            post("/Users", "1", user_body("dup")),
            post("/Users", "2", user_body("dup")),
            post("/Users", "3", user_body("ok")),
            post("/Users", "4", user_body("DUP")),
            post("/Users", "5", user_body("never")),
            failOnErrors=2,
        ),
    )
    assert [r["status"] for r in results] == ["201", "409", "201", "409"]
    assert sorted(User.objects.values_list("user_name", flat=True)) == ["dup", "ok"]


# --- Runs written together -----------------------------------------------------------------


def test_run_of_creates_with_a_taken_user_name(scim, make_user):
    """A run of user creates in which one userName is taken answers exactly as one by one
    would: that one 409, the others 201, each with its own change record."""
    make_user("taken")
    names = [f"user{i}" for i in range(10)]
    names[4] = "TAKEN"
    results = send(
        scim, bulk(*(post("/Users", str(i), user_body(name)) for i, name in enumerate(names)))
    )
    assert [r["status"] for r in results] == ["201"] * 4 + ["409"] + ["201"] * 5
    assert results[4]["response"] == error(409, "uniqueness", "userName 'TAKEN' is already in use.")
    records = ChangeRecord.objects.filter(operation="create", resource_type="User")
    assert sorted(records.values_list("name", flat=True)) == sorted(
        ["taken", *names[:4], *names[5:]]
    )


def test_run_of_creates_records_each_like_a_single_post(scim, tenant):
    """Users created together have the change records, value rows and webhook events of
    users created by single POSTs."""
    from provisioning.models import WebhookEndpoint

    WebhookEndpoint.objects.create(tenant=tenant, url="https://example.com/hook", events=["user.*"])
    body = user_body("single", emails=[{"value": "a@example.com", "type": "work"}])
    single = scim.post("/Users", body).json()
    results = send(
        scim,
        bulk(
            *(
                post("/Users", str(i), user_body(f"bulk{i}", emails=body["emails"]))
                for i in range(3)
            )
        ),
    )
    ids = [uuid.UUID(created_id(r)) for r in results]
    reference = ChangeRecord.objects.get(resource_id=single["id"])
    for user_id in ids:
        record = ChangeRecord.objects.get(resource_id=user_id)
        assert record.operation == reference.operation == "create"
        assert record.version == 1
        assert record.token_prefix == reference.token_prefix
        assert record.changes == {
            **reference.changes,
            "userName": {"before": None, "after": record.name},
        }
        delivery = WebhookDelivery.objects.get(resource_id=user_id)
        assert delivery.event_type == "user.created"
        assert delivery.data["userName"] == record.name
    filtered = scim.get("/Users", {"filter": 'emails.value eq "a@example.com"'}).json()
    assert filtered["totalResults"] == 4


def test_run_of_member_adds_is_one_write_recorded_once(scim, make_user, make_group):
    """Consecutive PATCHes adding members to one group are one write of it, which leaves the
    members the PATCHes one by one would (a member already there adds nothing): its version
    moves once, every PATCH answers that version, which a later If-Match accepts, and it is
    recorded once, with the members added in order, as one PATCH adding them would be."""
    group = make_group("Staff")
    users = [make_user(f"u{i}") for i in range(5)]
    path = f"/Groups/{group['id']}"
    adds = [users[0], users[1], users[1], users[2], users[3], users[4]]
    results = send(
        scim,
        bulk(
            *(
                {
                    "method": "PATCH",
                    "path": path,
                    "data": patch_body(
                        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
                    ),
                }
                for user in adds
            )
        ),
    )
    assert [(r["status"], r["version"]) for r in results] == [("204", 'W/"2"')] * 6
    assert version_of(scim, path) == 'W/"2"'
    records = ChangeRecord.objects.filter(resource_type="Group", operation="member_add")
    assert [(r.version, r.changes["members"]["added"]) for r in records] == [
        (2, [user["id"] for user in users])
    ]
    assert Membership.objects.filter(group_id=group["id"]).count() == 5
    assert scim.get(f"/Users/{users[0]['id']}").json()["meta"]["version"] == 'W/"2"'
    rename = patch_body({"op": "replace", "path": "displayName", "value": "All staff"})
    assert scim.patch(path, rename, HTTP_IF_MATCH=results[0]["version"]).status_code == 204


def test_run_of_member_adds_with_a_bad_member_answers_each(scim, make_user, make_group):
    """A run holding an add of a member that does not exist: that PATCH fails alone."""
    group = make_group("Staff")
    user = make_user("u")
    path = f"/Groups/{group['id']}"
    values = [user["id"], str(uuid.uuid4())]
    results = send(
        scim,
        bulk(
            *(
                {
                    "method": "PATCH",
                    "path": path,
                    "data": patch_body({"op": "add", "path": "members", "value": [{"value": v}]}),
                }
                for v in values
            )
        ),
    )
    assert [r["status"] for r in results] == ["204", "400"]
    assert results[1]["response"]["scimType"] == "invalidValue"
    assert Membership.objects.filter(group_id=group["id"]).count() == 1


def member_add(path: str, member_id: str) -> dict:
    """A Bulk PATCH of the group at `path` that adds one member."""
    body = patch_body({"op": "add", "path": "members", "value": [{"value": member_id}]})
    return {"method": "PATCH", "path": path, "data": body}


def added_records(group_id: str) -> list[list[str]]:
    records = ChangeRecord.objects.filter(resource_id=group_id, operation="member_add")
    return [r.changes["members"]["added"] for r in records.order_by("id")]


def test_run_of_member_adds_isolates_each_failure(
    scim, make_user, make_group, make_tenant, make_client
):
    """A run of member adds holding an unknown id, another tenant's user and a bulkId no POST
    defines: each of those fails alone with its own error; every other PATCH is applied,
    and answers the version its run of adds left the group at; each run is recorded once."""
    group = make_group("Staff")
    path = f"/Groups/{group['id']}"
    users = [make_user(f"u{i}")["id"] for i in range(4)]
    stranger = make_user("stranger", client=make_client(make_tenant("other")))["id"]
    results = send(
        scim,
        bulk(
            member_add(path, users[0]),
            member_add(path, str(uuid.uuid4())),
            member_add(path, users[1]),
            member_add(path, stranger),
            member_add(path, users[2]),
            member_add(path, "bulkId:nobody"),
            member_add(path, users[3]),
        ),
    )
    statuses = [(r["status"], r.get("response", {}).get("scimType")) for r in results]
    assert statuses == [("204", None), ("400", "invalidValue")] * 3 + [("204", None)]
    assert all(r["location"] == f"{BASE}{path}" for r in results)
    # The reference splits the run in two: each part answers the version it wrote.
    assert version_of(scim, path) == 'W/"3"'
    assert [r.get("version") for r in results] == ['W/"2"', None] * 3 + ['W/"3"']
    assert added_records(group["id"]) == [users[:3], users[3:]]
    members = streamed_json(scim.get(path))["members"]
    assert sorted(m["value"] for m in members) == sorted(users)


def test_run_of_member_adds_with_a_wrong_type_or_a_cycle(scim, make_user, make_group):
    """In a run of member adds, a member given the wrong type, the group itself and a group
    that would close a cycle each fail alone; a user whose add failed keeps its version."""
    inner = make_group("Inner")
    outer = make_group("Outer", members=[{"value": inner["id"]}])
    path = f"/Groups/{inner['id']}"
    users = [make_user(f"u{i}")["id"] for i in range(3)]
    typed = member_add(path, users[1])
    typed["data"]["Operations"][0]["value"][0]["type"] = "Group"
    results = send(
        scim,
        bulk(
            member_add(path, users[0]),
            typed,
            member_add(path, inner["id"]),
            member_add(path, users[2]),
        ),
    )
    assert [r["status"] for r in results] == ["204", "400", "400", "204"]
    assert "of type Group does not exist" in results[1]["response"]["detail"]
    assert "member of itself" in results[2]["response"]["detail"]
    assert scim.get(f"/Users/{users[1]}").json()["meta"]["version"] == 'W/"1"'
    assert added_records(inner["id"]) == [[users[0], users[2]]]

    cycle = send(scim, bulk(member_add(path, make_user("u3")["id"]), member_add(path, outer["id"])))
    assert [r["status"] for r in cycle] == ["204", "400"]
    assert "member of itself" in cycle[1]["response"]["detail"]


@pytest.mark.parametrize("fail_on_errors", [1, 2])
def test_fail_on_errors_in_a_run_of_member_adds(scim, make_user, make_group, fail_on_errors):
    """failOnErrors stops a run of member adds at its n-th error: exactly the operations
    before the stop are applied and answered, those after it are neither."""
    group = make_group("Staff")
    path = f"/Groups/{group['id']}"
    users = [make_user(f"u{i}")["id"] for i in range(4)]
    missing = [str(uuid.uuid4()), str(uuid.uuid4())]
    operations = [users[0], missing[0], users[1], missing[1], users[2], users[3]]
    results = send(
        scim, bulk(*(member_add(path, m) for m in operations), failOnErrors=fail_on_errors)
    )
    answered = 2 if fail_on_errors == 1 else 4
    assert [r["status"] for r in results] == ["204", "400", "204", "400"][:answered]
    applied = users[:1] if fail_on_errors == 1 else users[:2]
    assert added_records(group["id"]) == [applied]
    members = streamed_json(scim.get(path))["members"]
    assert sorted(m["value"] for m in members) == sorted(applied)
    assert [r["version"] for r in results if r["status"] == "204"] == [
        version_of(scim, path)
    ] * len(applied)


def test_signals_only_for_operations_that_stay(scim, django_capture_on_commit_callbacks):
    """A failed operation sends no signal; the others send theirs once the Bulk commits."""
    received = []

    def receiver(sender, resource_id, **kwargs):
        received.append(resource_id)

    signals.user_created.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            results = send(
                scim,
                bulk(
                    post("/Users", "1", user_body("a")),
                    post("/Users", "2", user_body("A")),
                    post("/Users", "3", user_body("b")),
                ),
            )
    finally:
        signals.user_created.disconnect(receiver)
    assert [r["status"] for r in results] == ["201", "409", "201"]
    assert len(callbacks) == 2
    assert sorted(map(str, received)) == sorted([created_id(results[0]), created_id(results[2])])


# --- Limits and malformed requests ------------------------------------------------------------


def test_service_provider_config_advertises_bulk(scim, settings):
    settings.SCIM = {**settings.SCIM, "BULK_MAX_OPERATIONS": 7, "BULK_MAX_PAYLOAD_BYTES": 4096}
    assert scim.get("/ServiceProviderConfig").json()["bulk"] == {
        "supported": True,
        "maxOperations": 7,
        "maxPayloadSize": 4096,
    }


def test_too_many_operations_is_413(scim, settings):
    settings.SCIM = {**settings.SCIM, "BULK_MAX_OPERATIONS": 2}
    body = bulk(*(post("/Users", str(i), user_body(f"u{i}")) for i in range(3)))
    assert_scim_error(
        scim.post("/Bulk", body),
        413,
        detail="The bulk request holds 3 operations; maxOperations is 2.",
    )
    assert not User.objects.exists()


def test_payload_larger_than_max_payload_size_is_413(scim, settings):
    settings.SCIM = {**settings.SCIM, "BULK_MAX_PAYLOAD_BYTES": 200}
    body = bulk(*(post("/Users", str(i), user_body(f"u{i}")) for i in range(3)))
    assert_scim_error(scim.post("/Bulk", body), 413, detail="200 bytes")
    assert not User.objects.exists()


USERS_POST = post("/Users", "q", user_body("u"))


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ([], "invalidSyntax", "must be a JSON object"),
        ({"Operations": []}, "invalidSyntax", "'schemas'"),
        ({"schemas": [BULK_REQUEST]}, "invalidSyntax", "'Operations' must be an array"),
        (bulk(USERS_POST, failOnErrors=0), "invalidValue", "'failOnErrors'"),
        (bulk(USERS_POST, failOnErrors="1"), "invalidValue", "'failOnErrors'"),
        (bulk("POST"), "invalidSyntax", "'Operations[0]' must be a JSON object"),
        (bulk({**USERS_POST, "method": "GET"}), "invalidSyntax", "'Operations[0].method'"),
        (bulk({**USERS_POST, "method": 1}), "invalidSyntax", "'Operations[0].method'"),
        (bulk({**USERS_POST, "path": "/Schemas"}), "invalidValue", "'Operations[0].path'"),
        (bulk({**USERS_POST, "path": "/Users/x"}), "invalidValue", "of a POST"),
        (bulk({**USERS_POST, "path": 7}), "invalidSyntax", "'Operations[0].path'"),
        (bulk({"method": "DELETE"}), "invalidSyntax", "'Operations[0].path'"),
        (bulk({"method": "DELETE", "path": "/Users"}), "invalidValue", "must name one"),
        (bulk({"method": "DELETE", "path": "/Users/a/b"}), "invalidValue", "'Operations[0].path'"),
        (bulk({"method": "POST", "path": "/Users", "data": {}}), "invalidSyntax", "bulkId"),
        (bulk({**USERS_POST, "bulkId": ""}), "invalidValue", "bulkId"),
        (bulk({**USERS_POST, "bulkId": 5}), "invalidSyntax", "bulkId"),
        (bulk(USERS_POST, USERS_POST), "invalidValue", "more than one operation"),
        (
            bulk({"method": "DELETE", "path": "/Users/x", "bulkId": "q"}, USERS_POST),
            "invalidValue",
            "more than one operation",
        ),
        (bulk({**USERS_POST, "data": "x"}), "invalidSyntax", "'Operations[0].data'"),
        (bulk({**USERS_POST, "version": 1}), "invalidSyntax", "version"),
        ({**bulk(USERS_POST), "operations": []}, "invalidSyntax", "more than once"),
    ],
    ids=[
        "not-an-object",
        "no-schemas",
        "no-operations",
        "fail-on-errors-zero",
        "fail-on-errors-string",
        "operation-not-object",
        "method-get",
        "method-not-string",
        "path-not-a-resource-type",
        "post-to-a-resource",
        "path-not-string",
        "path-missing",
        "delete-of-an-endpoint",
        "path-too-deep",
        "post-without-bulk-id",
        "empty-bulk-id",
        "bulk-id-not-string",
        "duplicate-bulk-id",
        "duplicate-bulk-id-of-a-delete",
        "data-not-object",
        "version-not-string",
        "operations-twice",
    ],
)
def test_malformed_bulk_requests_are_400(scim, body, scim_type, detail):
    """A request that is not a BulkRequest is refused whole, before anything is written."""
    assert_scim_error(scim.post("/Bulk", body), 400, scim_type, detail)
    assert not User.objects.exists()


def test_bulk_takes_post_only(scim):
    assert_scim_error(scim.get("/Bulk"), 405)


def test_statements_of_a_run_of_creates_do_not_grow_with_it(scim, django_assert_num_queries):
    """Users created together cost a fixed number of statements, whatever their number: the
    token, the Bulk's transaction and the run's savepoint (savepoints inside the test's own
    transaction, with their RELEASEs), the users' INSERT and their records' (these users have
    no multi-valued attribute, so no value row to insert)."""
    scim.get("/ServiceProviderConfig")  # the token's last use is written
    body = bulk(*(post("/Users", str(i), user_body(f"u{i}")) for i in range(200)))
    with django_assert_num_queries(7):
        results = send(scim, body)
    assert {r["status"] for r in results} == {"201"}


def test_statements_of_a_run_of_member_adds_do_not_grow_with_it(
    scim, make_group, django_assert_num_queries
):
    """A run of member adds to one group costs what one PATCH adding them all costs: the lock,
    the members' lookups, the rows, the members' versions, the group's, and one statement for
    all the change records."""
    group = make_group("Staff")
    created = send(scim, bulk(*(post("/Users", str(i), user_body(f"u{i}")) for i in range(100))))
    path = f"/Groups/{group['id']}"
    body = bulk(
        *(
            {
                "method": "PATCH",
                "path": path,
                "data": patch_body(
                    {"op": "add", "path": "members", "value": [{"value": created_id(r)}]}
                ),
            }
            for r in created
        )
    )
    with django_assert_num_queries(13):
        results = send(scim, body)
    assert {r["status"] for r in results} == {"204"}
    assert Membership.objects.filter(group_id=group["id"]).count() == 100
