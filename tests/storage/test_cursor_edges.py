"""Cursors (RFC 9865) that once gave a 500 (found in review): forged, deeply nested, or holding
an offset PostgreSQL cannot take."""

import base64
import json

import pytest

from tests.conftest import assert_scim_error


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        ["n", "2020-01-01T00:00:00Z", 5],
        ["n", "yesterday", "2819c223-7f76-453a-919d-413861904646"],
        ["x"],
        {"a": 1},
    ],
    ids=["number-id", "bad-instant", "short", "object"],
)
def test_forged_cursors_are_invalid_cursor(scim, payload):
    """A cursor the server did not issue is a 400 invalidCursor (RFC 9865 §2.1)."""
    assert_scim_error(scim.get("/Users", {"cursor": _cursor(payload)}), 400, "invalidCursor")


def test_cursor_position_with_a_large_offset_is_read_as_utc(scim, make_user):
    """A well-formed cursor position whose offset PostgreSQL cannot take still pages."""
    user = make_user("a")
    cursor = _cursor(["n", "2000-01-01T00:00:00-20:00", "2819c223-7f76-453a-919d-413861904646", 1])
    body = scim.get("/Users", {"cursor": cursor}).json()
    assert [r["id"] for r in body["Resources"]] == [user["id"]]


def test_deeply_nested_cursor_is_invalid_cursor(scim):
    """A cursor that decodes to deeply nested JSON is a 400 invalidCursor, not a 500."""
    cursor = base64.urlsafe_b64encode(b"[" * 1000).decode().rstrip("=")
    assert_scim_error(scim.get("/Users", {"cursor": cursor}), 400, "invalidCursor")
