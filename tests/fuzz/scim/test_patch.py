"""Generated PATCH requests (RFC 7644 §3.5.2) on seeded users and groups: operations of any
case, paths from the schema table (value filters, sub-attributes, URNs, whole extensions),
values of the right type or any JSON. An error is a 400 of the PATCH scimTypes (Table 9)
or a 404/412, and leaves the resource as it was (atomic PATCH)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES
from tests.fuzz.strategies import (
    SEED_KINDS,
    SEEDS_PER_KIND,
    entity_tags,
    patch_bodies,
    path_texts,
    resource_ids,
    seed,
)

pytestmark = pytest.mark.live

PATCH_ERRORS = frozenset(
    {"invalidSyntax", "invalidPath", "invalidFilter", "invalidValue", "noTarget", "mutability"}
)
TARGETS = st.one_of(
    *(
        st.tuples(
            st.just(rt.endpoint),
            st.one_of(
                st.integers(0, SEEDS_PER_KIND - 1).map(
                    lambda i, kind=SEED_KINDS[rt.id]: seed(kind, i)
                ),
                resource_ids,
            ),
            patch_bodies(rt),
            st.fixed_dictionaries({}, optional={"attributes": path_texts(rt)}),
        )
        for rt in RESOURCE_TYPES
    )
)


@given(target=TARGETS, if_match=st.none() | entity_tags, ascii_only=st.booleans())
def test_a_generated_patch_applies_whole_or_not_at_all(fuzz, target, if_match, ascii_only):
    """PATCH /{Resources}/{id}: 200 or 204, or an error after which nothing was written."""
    endpoint, resource_id, body, params = target
    headers = {"If-Match": if_match} if if_match is not None else {}
    fuzz.send(
        "PATCH",
        f"{endpoint}/{resource_id}",
        body=body,
        params=params,
        headers=headers,
        scim_types=PATCH_ERRORS,
        ascii_only=ascii_only,
    )
