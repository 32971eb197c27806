"""SCIM error bodies (RFC 7644 §3.12): whatever text a detail quotes, the body encodes."""

import json

import pytest

from provisioning.scim.errors import ERROR_SCHEMA, InvalidSyntax, SCIMError


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        ("Attribute 'userName\ud800' appears more than once.", "userName\\ud800"),
        ("Member '\udc00x' does not exist.", "\\udc00x"),
        ("a NUL \x00 and an é stay", "a NUL \x00 and an é stay"),
    ],
    ids=["high-surrogate", "low-surrogate", "other-text-unchanged"],
)
def test_a_detail_quoting_a_lone_surrogate_still_encodes(detail, shown):
    """A lone surrogate a client sent in JSON is spelled as its escape, so the error body
    encodes as UTF-8 (RFC 7644 §8.1) instead of failing the response."""
    body = InvalidSyntax(detail).to_scim()
    assert shown in body["detail"]
    encoded = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert json.loads(encoded) == {
        "schemas": [ERROR_SCHEMA],
        "status": "400",
        "scimType": "invalidSyntax",
        "detail": body["detail"],
    }


def test_the_default_detail_is_kept():
    """Without a detail, the class's own is the body's."""
    assert SCIMError().to_scim()["detail"] == SCIMError.default_detail
