"""Generated Bulk requests (RFC 7644 §3.7): operations of any method on seeded resources,
new ones and ids that name nothing, `bulkId` references forward, backward and to nowhere,
bodies from the resource and PATCH strategies, versions and failOnErrors. The answer is a
SCIM error that wrote nothing, or a BulkResponse whose every failed operation carries a SCIM
error of its own status."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES
from tests.conftest import ERROR_SCHEMA
from tests.fuzz.conftest import SCIM_TYPES_BY_STATUS
from tests.fuzz.strategies import entity_tags, json_values, patch_bodies, resource_ids, resources

pytestmark = pytest.mark.live

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_IDS = st.sampled_from(tuple("abcdefgh"))
REFERENCES = BULK_IDS.map(lambda bulk_id: f"bulkId:{bulk_id}")


def operation(resource_type):
    endpoint = resource_type.endpoint
    targets = st.one_of(resource_ids, REFERENCES).map(lambda i: f"{endpoint}/{i}")
    member = st.fixed_dictionaries({"value": REFERENCES})
    return st.one_of(
        st.fixed_dictionaries(
            {
                "method": st.just("POST"),
                "path": st.just(endpoint),
                "bulkId": BULK_IDS,
                "data": resources(resource_type),
            }
        ),
        st.fixed_dictionaries(
            {"method": st.just("PUT"), "path": targets, "data": resources(resource_type)},
            optional={"version": entity_tags},
        ),
        st.fixed_dictionaries(
            {
                "method": st.just("PATCH"),
                "path": targets,
                "data": st.one_of(
                    patch_bodies(resource_type),
                    st.lists(member, min_size=1, max_size=2).map(
                        lambda members: {
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": members}],
                        }
                    ),
                ),
            },
            optional={"version": entity_tags},
        ),
        st.fixed_dictionaries(
            {"method": st.sampled_from(("DELETE", "delete", "GET")), "path": targets},
            optional={"version": st.one_of(entity_tags, json_values)},
        ),
    )


# Mostly well-formed operations: one malformed operation makes the whole request a 400.
OPERATIONS = st.one_of(*(operation(rt) for rt in RESOURCE_TYPES for _ in range(4)), json_values)
BULK_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"schemas": st.just([BULK_REQUEST]), "Operations": st.lists(OPERATIONS, max_size=6)},
        optional={"failOnErrors": st.one_of(st.integers(1, 3), st.integers(1, 3), json_values)},
    ),
    json_values,
)


@given(body=BULK_BODIES)
def test_a_generated_bulk_request_is_answered_by_scim(fuzz, body):
    response = fuzz.send("POST", "/Bulk", body=body)
    if response.status_code != 200:
        return
    for result in response.json()["Operations"]:
        status = int(result["status"])
        assert result["status"] == str(status)
        if status < 400:
            assert "response" not in result, result
            continue
        error = result["response"]
        assert error["schemas"] == [ERROR_SCHEMA], result
        assert error["status"] == result["status"], result
        scim_types = SCIM_TYPES_BY_STATUS[status] | ({None} if status == 409 else set())
        assert error.get("scimType") in scim_types, result
