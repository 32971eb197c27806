"""Generated POST and PUT bodies (RFC 7644 §3.3, §3.5.1): every attribute of the schema table
absent, of its type or of any JSON type, with NULs, lone surrogates, huge numbers and names
in any case. Each is created or replaced, or refused with nothing written."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES
from tests.fuzz.strategies import SEED_KINDS, SEEDS_PER_KIND, resources, seed

pytestmark = pytest.mark.live

BODY_ERRORS = frozenset({"invalidSyntax", "invalidValue"})
BODIES = st.one_of(*(st.tuples(st.just(rt), resources(rt)) for rt in RESOURCE_TYPES))


@given(type_and_body=BODIES, ascii_only=st.booleans())
def test_a_generated_body_creates_or_is_refused(fuzz, type_and_body, ascii_only):
    """POST /{Resources}: 201, a 409 uniqueness, or a 400 invalidSyntax/invalidValue."""
    resource_type, body = type_and_body
    fuzz.send(
        "POST", resource_type.endpoint, body=body, scim_types=BODY_ERRORS, ascii_only=ascii_only
    )


@given(type_and_body=BODIES, index=st.integers(0, SEEDS_PER_KIND - 1))
def test_a_generated_body_replaces_or_is_refused(fuzz, type_and_body, index):
    """PUT /{Resources}/{id} of a seeded resource: 200, a 409, or a 400 with nothing written."""
    resource_type, body = type_and_body
    path = f"{resource_type.endpoint}/{seed(SEED_KINDS[resource_type.id], index)}"
    fuzz.send("PUT", path, body=body, scim_types=BODY_ERRORS)
