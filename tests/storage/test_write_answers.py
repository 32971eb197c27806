"""The answer to a write is read inside the write's transaction (issue 8, defect 2): once a
write has committed, its answer needs nothing more from the database, so an outage that
begins right after COMMIT cannot turn a write that succeeded into a 500."""

from contextlib import contextmanager

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from tests.conftest import group_body, patch_body, streamed_json, user_body


@pytest.fixture
def outage_after_commit(monkeypatch):
    """Return a context manager under which every query fails once a write has committed:
    the database becomes unreachable right after a write's COMMIT, or right after a write
    that is one statement outside a transaction (its change record commits with it)."""
    connection = connections[DEFAULT_DB_ALIAS]

    @contextmanager
    def outage():
        committed = False
        commit = connection.commit

        def commit_then_fail():
            nonlocal committed
            commit()
            committed = True

        def execute(execute_, sql, params, many, context):
            nonlocal committed
            if committed:
                raise OperationalError("the database is unreachable")
            result = execute_(sql, params, many, context)
            if "provisioning_changerecord" in sql and not connection.in_atomic_block:
                committed = True
            return result

        with monkeypatch.context() as patched, connection.execute_wrapper(execute):
            patched.setattr(connection, "commit", commit_then_fail)
            yield
        assert committed, "no transaction committed: the test tested nothing"

    return outage


@pytest.fixture
def nested(transactional_db, make_user, make_group):
    """A user directly in `Inner`, which is itself a member of `Outer`."""
    alice = make_user("alice")
    inner = make_group("Inner", members=[{"value": alice["id"]}])
    outer = make_group("Outer", members=[{"value": inner["id"]}])
    return alice, inner, outer


BASE = "http://testserver/scim/v2"


def _groups(inner: dict, outer: dict) -> list[dict]:
    return [
        {
            "value": group["id"],
            "$ref": f"{BASE}/Groups/{group['id']}",
            "display": group["displayName"],
            "type": kind,
        }
        for group, kind in ((inner, "direct"), (outer, "indirect"))
    ]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_user_write_answers_its_groups_read_before_commit(
    scim, nested, outage_after_commit, method
):
    """PUT and PATCH of a user answer 200 with its direct and indirect `groups` (RFC 7643
    §4.1.2), though the database is gone once the write has committed."""
    alice, inner, outer = nested
    if method == "put":
        body = user_body("alice", title="Guide")
    else:
        body = patch_body({"op": "replace", "path": "title", "value": "Guide"})
    with outage_after_commit():
        response = getattr(scim, method)(f"/Users/{alice['id']}", body)
    assert response.status_code == 200, response.content
    answered = response.json()
    assert answered["title"] == "Guide"
    assert answered["groups"] == _groups(inner, outer)
    assert scim.get(f"/Users/{alice['id']}").json()["title"] == "Guide"


def test_a_user_create_answers_without_reading_again(scim, transactional_db, outage_after_commit):
    """POST /Users answers 201 with the user it stored, whatever happens after COMMIT."""
    with outage_after_commit():
        response = scim.post("/Users", user_body("bob"))
    assert response.status_code == 201, response.content
    assert response.json()["userName"] == "bob" and "groups" not in response.json()


@pytest.mark.parametrize(
    ("method", "params"),
    [("post", ""), ("put", ""), ("patch", "?attributes=members,displayName")],
    ids=["post", "put", "patch-with-attributes"],
)
def test_a_group_write_answers_its_members_read_before_commit(
    scim, nested, outage_after_commit, method, params
):
    """POST, PUT and a PATCH asking for attributes answer with the group's `members`, read
    inside the write's transaction; nothing is streamed from the database afterwards."""
    alice, inner, _ = nested
    members = [{"value": alice["id"]}]
    if method == "post":
        path, body = "/Groups", group_body("New", members=members)
    elif method == "put":
        path, body = f"/Groups/{inner['id']}", group_body("New", members=members)
    else:
        path = f"/Groups/{inner['id']}{params}"
        body = patch_body({"op": "replace", "path": "displayName", "value": "New"})
    with outage_after_commit():
        response = getattr(scim, method)(path, body)
        answered = streamed_json(response)  # a streamed body is read now, in the outage
    assert response.status_code in (200, 201), response.content
    assert answered["displayName"] == "New"
    assert answered["members"] == [
        {"value": alice["id"], "$ref": f"{BASE}/Users/{alice['id']}", "type": "User"}
    ]
