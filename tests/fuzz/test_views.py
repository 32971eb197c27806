"""Generated HTTP requests to every endpoint (RFC 7644 §3.2): any method, the media types of
Accept and Content-Type, entity tags, bearer tokens right, wrong and missing, and bodies that
are JSON of any shape or not JSON at all. Each answer is a success or a SCIM error with the
status RFC 7644 §3.12 gives it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.scim.schema import RESOURCE_TYPES, SCHEMAS
from tests.fuzz.strategies import (
    entity_tags,
    json_values,
    media_types,
    patch_bodies,
    resource_ids,
    resources,
    visible_ascii,
)

pytestmark = pytest.mark.live

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATHS = st.one_of(
    st.sampled_from(
        (
            "/ServiceProviderConfig",
            "/ResourceTypes",
            "/Schemas",
            "/.search",
            "/Bulk",
            "/Me",
            "/",
            *(f"/ResourceTypes/{rt.id}" for rt in RESOURCE_TYPES),
            *(f"/Schemas/{schema.id}" for schema in SCHEMAS),
        )
    ),
    *(
        st.sampled_from(("", "/", "/.search")).map(lambda tail, e=rt.endpoint: e + tail)
        for rt in RESOURCE_TYPES
    ),
    *(resource_ids.map(lambda i, e=rt.endpoint: f"{e}/{i}") for rt in RESOURCE_TYPES),
    visible_ascii.map(lambda text: "/" + text.replace("?", "").replace("#", "")),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Accept": media_types,
        "Content-Type": media_types,
        "If-Match": entity_tags,
        "If-None-Match": entity_tags,
        "Authorization": st.one_of(
            st.sampled_from(("", "Bearer", "Basic dXNlcjpwYXNz", "bearer x y")),
            visible_ascii.map(lambda token: f"Bearer {token}".strip()),
        ),
    },
)
BODIES = st.one_of(
    st.none(),
    *(resources(rt) for rt in RESOURCE_TYPES),
    *(patch_bodies(rt) for rt in RESOURCE_TYPES),
    json_values,
)


@given(
    method=st.sampled_from(METHODS),
    path=PATHS,
    headers=HEADERS,
    body=BODIES,
    raw=st.none() | st.binary(max_size=40),
)
def test_any_request_is_answered_by_scim(fuzz, method, path, headers, body, raw):
    """Whatever the method, path, headers and body: a success, or a SCIM error body whose
    status and scimType agree, and nothing written by a write that failed."""
    content = raw if raw is not None and body is None else None
    fuzz.send(method, path, body=body, content=content, headers=headers)
