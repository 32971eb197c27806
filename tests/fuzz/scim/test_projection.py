"""Generated `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on reads and on
writes: names from the schema table in any case and notation, unknown names, and text that
is no attribute path. A write whose parameters are refused is refused whole: the parameters
are checked before anything is written (issue 8, defect 1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.patch import PATCH_OP_URN
from provisioning.scim.schema import RESOURCE_TYPES
from tests.fuzz.strategies import SEED_KINDS, SEEDS_PER_KIND, path_texts, seed

pytestmark = pytest.mark.live

INVALID_VALUE = frozenset({"invalidValue"})


def _params(resource_type):
    names = st.lists(path_texts(resource_type), min_size=1, max_size=3).map(",".join)
    return st.fixed_dictionaries({}, optional={"attributes": names, "excludedAttributes": names})


def _body(resource_type, method: str, name: str) -> dict:
    """Return a body the server accepts for `method` and that changes the resource, so that
    only the parameters can fail."""
    core = resource_type.schema
    key = (core.attribute("userName") or core.attribute("displayName")).name
    if method == "PATCH":
        return {"schemas": [PATCH_OP_URN], "Operations": [{"op": "replace", "value": {key: name}}]}
    return {"schemas": [core.id], key: name}


REQUESTS = st.one_of(
    *(
        st.tuples(
            st.just(rt),
            st.sampled_from(("GET", "POST", "PUT", "PATCH")),
            st.booleans(),
            st.integers(0, SEEDS_PER_KIND - 1),
            _params(rt),
        )
        for rt in RESOURCE_TYPES
    )
)


@given(request=REQUESTS)
def test_projection_parameters_are_checked_before_a_write(fuzz, request):
    """The resource answered with the attributes asked for, or a 400 invalidValue after which
    nothing was written."""
    resource_type, method, listing, index, params = request
    one = f"{resource_type.endpoint}/{seed(SEED_KINDS[resource_type.id], index)}"
    if method == "GET":
        fuzz.send("GET", resource_type.endpoint if listing else one, params=params)
        return
    path = resource_type.endpoint if method == "POST" else one
    body = _body(resource_type, method, fuzz.fresh("projected"))
    fuzz.send(method, path, body=body, params=params, scim_types=INVALID_VALUE)
