from tests.conftest import USER_SCHEMA


def test_create_then_get_user(scim, make_user):
    """POST /Users answers 201 and GET by id returns the same resource (RFC 7644 §3.3, §3.4.1)."""
    created = make_user("alice")
    fetched = scim.get(f"/Users/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert created["schemas"] == [USER_SCHEMA]
