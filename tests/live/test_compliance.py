"""The scim2-tester compliance suite against the real server (granian, PostgreSQL)."""

import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckConfig, Status, check_server
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckContext

# Every check scim2-tester has, by tag. (Its `exclude_tags` would also drop the "*"-tagged
# discovery checks everything depends on, so the suite is named by inclusion.)
INCLUDED_TAGS = {
    "discovery",
    "misc",
    "crud:create",
    "crud:read",
    "crud:read:attributes",
    "crud:update",
    "crud:delete",
    "patch:add",
    "patch:remove",
    "patch:replace",
}


@pytest.mark.live
def test_scim2_tester_passes_every_check_it_runs(live_client):
    """Every check of scim2-tester passes over real HTTP, none skipped: discovery, errors, CRUD,
    projection, .search and PATCH of every attribute, for Users and Groups."""
    client = SyncSCIMClient(live_client)
    results = check_server(client, include_tags=INCLUDED_TAGS)
    # check_server does not call this check of the RFC 7643 §8.7.2 schemas; call it here.
    results += core_schemas_validation(CheckContext(client, CheckConfig()))

    failures = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failures, "\n".join(f"{r.resource_type} {r.title}: {r.reason}" for r in failures)
    assert not [r for r in results if r.status is Status.SKIPPED]
    passed = {r.title for r in results if r.status is Status.SUCCESS}
    assert passed == {
        "service_provider_config_endpoint",
        "service_provider_config_endpoint_methods",
        "query_all_resource_types",
        "query_resource_type_by_id",
        "access_invalid_resource_type",
        "resource_types_endpoint_methods",
        "resource_types_schema_validation",
        "query_all_schemas",
        "access_schema_by_id",
        "access_invalid_schema",
        "schemas_endpoint_methods",
        "core_schemas_validation",
        "random_url",
        "object_creation",
        "object_query",
        "object_query_without_id",
        "object_replacement",
        "object_deletion",
        "object_query_with_attributes",
        "object_list_with_attributes",
        "search_with_attributes",
        "check_add_attribute",
        "check_remove_attribute",
        "check_replace_attribute",
    }
