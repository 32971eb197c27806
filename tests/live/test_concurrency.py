"""Concurrent requests against the real server: no lost update, no duplicate, no 500
(RFC 7644 §3.5.2 atomic PATCH; per-tenant uniqueness enforced by the database)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import USER_SCHEMA, group_body, patch_body

PARALLEL = 60


def _parallel(send, count: int = PARALLEL) -> list:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send, range(count)))


@pytest.mark.live
def test_parallel_member_adds_to_one_group_lose_nothing(live_client):
    """60 single-member PATCHes to one group at once (Entra's pattern): every member lands and
    the version moves once per change."""
    users = [
        live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": f"m{i}"}).json()[
            "id"
        ]
        for i in range(PARALLEL)
    ]
    group = live_client.post("/Groups", json=group_body("Crowd")).json()

    def add(i):
        body = patch_body({"op": "add", "path": "members", "value": [{"value": users[i]}]})
        return live_client.patch(f"/Groups/{group['id']}", json=body).status_code

    assert set(_parallel(add)) == {204}
    fetched = live_client.get(f"/Groups/{group['id']}").json()
    assert sorted(m["value"] for m in fetched["members"]) == sorted(users)
    assert fetched["meta"]["version"] == f'W/"{PARALLEL + 1}"'


@pytest.mark.live
def test_parallel_patches_to_one_user_lose_nothing(live_client):
    """60 PATCHes each adding one email to the same user at once: all 60 emails are kept, and
    the version moved once per PATCH. (A PATCH whose user moved between its read and its write
    is applied again under the row lock, so this takes both of the store's paths.)"""
    user = live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "busy"}).json()

    def add_email(i):
        body = patch_body({"op": "add", "path": "emails", "value": [{"value": f"e{i}@x.com"}]})
        return live_client.patch(f"/Users/{user['id']}", json=body).status_code

    assert set(_parallel(add_email)) == {200}
    fetched = live_client.get(f"/Users/{user['id']}").json()
    assert sorted(e["value"] for e in fetched["emails"]) == sorted(
        f"e{i}@x.com" for i in range(PARALLEL)
    )
    assert fetched["meta"]["version"] == f'W/"{PARALLEL + 1}"'


@pytest.mark.live
@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("/Users", {"schemas": [USER_SCHEMA], "userName": "Same.Name"}),
        ("/Groups", group_body("Same Group")),
    ],
    ids=["userName", "displayName"],
)
def test_parallel_creates_of_one_name_make_one_resource(live_client, endpoint, body):
    """Concurrent creates of one name: exactly one 201, every other a 409, never a 500."""
    statuses = _parallel(lambda i: live_client.post(endpoint, json=body).status_code)
    assert sorted(statuses) == [201] + [409] * (PARALLEL - 1)
    assert live_client.get(endpoint, params={"count": 0}).json()["totalResults"] == 1


@pytest.mark.live
def test_crosswise_nesting_at_once_makes_no_cycle(live_client):
    """Two groups each adding the other at the same moment: one succeeds, one is a 400
    (it would close a cycle); a deadlock between them is retried, never a 500."""
    for attempt in range(5):
        a = live_client.post("/Groups", json=group_body(f"A{attempt}")).json()["id"]
        b = live_client.post("/Groups", json=group_body(f"B{attempt}")).json()["id"]

        def nest(pair):
            parent, child = pair
            body = patch_body({"op": "add", "path": "members", "value": [{"value": child}]})
            return live_client.patch(f"/Groups/{parent}", json=body).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert sorted(pool.map(nest, [(a, b), (b, a)])) == [204, 400]


@pytest.mark.live
def test_adding_a_member_while_it_is_deleted(live_client):
    """A member deleted while a PATCH adds it: the PATCH is a 204 or a 400, never a 500."""
    group = live_client.post("/Groups", json=group_body("Racing")).json()["id"]
    for i in range(10):
        user = live_client.post(
            "/Users", json={"schemas": [USER_SCHEMA], "userName": f"r{i}"}
        ).json()["id"]
        body = patch_body({"op": "add", "path": "members", "value": [{"value": user}]})
        with ThreadPoolExecutor(max_workers=2) as pool:
            added = pool.submit(live_client.patch, f"/Groups/{group}", json=body)
            deleted = pool.submit(live_client.delete, f"/Users/{user}")
            assert added.result().status_code in (204, 400)
            assert deleted.result().status_code == 204
    assert live_client.get(f"/Groups/{group}").json()["members"] == []


@pytest.mark.live
def test_group_bodies_match_their_entity_tags_under_concurrent_writes(live_client):
    """While members are added one by one, every GET, PUT and PATCH answer of the group holds
    exactly the members of the version its ETag names (RFC 7644 §3.14): at version v, the
    group holds v - 1 members, since each add and only each add moves the version by one."""
    users = [
        live_client.post("/Users", json={"schemas": [USER_SCHEMA], "userName": f"t{i}"}).json()[
            "id"
        ]
        for i in range(PARALLEL)
    ]
    group = live_client.post("/Groups", json=group_body("Tagged")).json()["id"]
    path = f"/Groups/{group}"

    def send(i):
        if i % 3 == 0:  # an add, answered with the group
            body = patch_body({"op": "add", "path": "members", "value": [{"value": users[i]}]})
            return live_client.patch(path, params={"attributes": "members,meta"}, json=body)
        if i % 3 == 1:  # an add, answered 204, and a read
            body = patch_body({"op": "add", "path": "members", "value": [{"value": users[i]}]})
            assert live_client.patch(path, json=body).status_code == 204
        return live_client.get(path)

    responses = _parallel(send)
    # A PUT that keeps the members and the name changes nothing: same version, same body.
    current = live_client.get(path).json()
    put = live_client.put(path, json=group_body("Tagged", members=current["members"]))
    for response in [*responses, put]:
        assert response.status_code == 200, response.text
        body = response.json()
        version = int(response.headers["ETag"].removeprefix('W/"').removesuffix('"'))
        assert body["meta"]["version"] == response.headers["ETag"]
        assert len(body.get("members", [])) == version - 1, body["meta"]
    assert int(put.headers["ETag"][3:-1]) == 2 * PARALLEL // 3 + 1
