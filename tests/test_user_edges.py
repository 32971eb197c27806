"""User writes that once were unbounded or lost a change (found in review): the size of a PATCH
and of a multi-valued attribute, many values added at once, Entra's emptied manager."""

from tests.conftest import ENTERPRISE_SCHEMA, USER_SCHEMA, assert_scim_error, patch_body


def test_manager_value_emptied_by_patch_clears_the_manager(scim, make_user):
    """Entra clears the manager with an empty value, also through `manager.value`
    (docs/entra.md)."""
    boss = make_user("boss")
    user = make_user(
        "u",
        **{
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            ENTERPRISE_SCHEMA: {"manager": {"value": boss["id"]}, "department": "x"},
        },
    )
    body = patch_body({"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:manager.value", "value": ""})
    patched = scim.patch(f"/Users/{user['id']}", body).json()
    assert patched[ENTERPRISE_SCHEMA] == {"department": "x"}


def test_patch_operation_count_is_bounded(scim, make_user):
    """More operations than any IdP sends in one PATCH is a 400, not minutes of work."""
    user = make_user("a")
    ops = [{"op": "replace", "path": "title", "value": str(i)} for i in range(1001)]
    assert_scim_error(
        scim.patch(f"/Users/{user['id']}", patch_body(*ops)), 400, "invalidValue", "1000"
    )


def test_multi_valued_attributes_in_the_document_are_bounded(scim, make_user):
    """A user attribute holds at most 1000 values; group members, kept as rows, have no bound."""
    emails = [{"value": f"e{i}@x.com"} for i in range(1001)]
    response = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "many", "emails": emails})
    assert_scim_error(response, 400, "invalidValue", "at most 1000")


def test_adding_many_values_is_linear(scim, make_user):
    """990 new emails in one add, ten of them twice, land once each (no quadratic dedupe)."""
    user = make_user("a")
    emails = [{"value": f"e{i}@x.com"} for i in range(990)]
    body = patch_body({"op": "add", "path": "emails", "value": emails + emails[:10]})
    response = scim.patch(f"/Users/{user['id']}", body)
    assert response.status_code == 200, response.content
    assert len(response.json()["emails"]) == 990
