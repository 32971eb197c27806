"""Recognising an IdP from its requests, and which dialect allows which leniency
(`provisioning.scim.dialect`)."""

import pytest

from provisioning.scim.dialect import ALLOWED, Dialect, Leniency, leniencies, recognise
from provisioning.scim.patch import PATCH_OP_URN


def body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


RFC_REPLACE = body({"op": "replace", "path": "active", "value": False})

SIGNS = [
    ("okta-user-agent", "Okta SCIM Client 1.0.0", (), RFC_REPLACE, Dialect.OKTA),
    ("entra-user-agent", "Microsoft Azure AD SCIM provisioning", (), RFC_REPLACE, Dialect.ENTRA),
    ("entra-user-agent-any-case", "microsoft azure ad scim PROVISIONING/1.0", (), None,
     Dialect.ENTRA),
    ("entra-flag-in-query", "", ["aadOptscim062020", "filter"], None, Dialect.ENTRA),
    ("entra-flag-any-case", "", ["AADOPTSCIM062020"], None, Dialect.ENTRA),
    ("entra-capitalised-op", "", (), body({"op": "Replace", "path": "title", "value": "x"}),
     Dialect.ENTRA),
    ("entra-string-boolean", "", (), body({"op": "replace", "path": "active", "value": "False"}),
     Dialect.ENTRA),
    ("entra-string-boolean-in-no-path-value", "", (),
     body({"op": "replace", "value": {"active": "True"}}), Dialect.ENTRA),
    ("entra-dotted-key", "", (), body({"op": "replace", "value": {"name.givenName": "B"}}),
     Dialect.ENTRA),
    ("entra-filtered-key", "", (),
     body({"op": "replace", "value": {'emails[type eq "work"].value': "b@example.com"}}),
     Dialect.ENTRA),
    ("entra-remove-with-values", "", (),
     body({"op": "remove", "path": "members", "value": [{"value": "1"}]}), Dialect.ENTRA),
    ("rfc-shaped-patch", "python-httpx/0.28", ["attributes"], RFC_REPLACE, None),
    ("rfc-extension-urn-key", "", (),
     body({"op": "replace",
           "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}}}), None),
    ("rfc-no-body", "curl/8.5.0", (), None, None),
    ("malformed-body", "", (), {"Operations": "not a list"}, None),
    ("malformed-operation", "", (), {"Operations": [1, {"op": 2}]}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "user_agent", "query", "patch_body", "expected"),
    SIGNS,
    ids=[case[0] for case in SIGNS],
)
def test_recognise(case, user_agent, query, patch_body, expected):
    """Okta by its User-Agent; Entra by its User-Agent, the aadOptscim062020 flag, or a PATCH
    body in either of its dialects; nothing for a request shaped as the RFC writes it."""
    assert recognise(user_agent, query, patch_body) == expected


def test_table():
    """`rfc` allows nothing, `okta` Okta's one departure, `entra` every one; `auto` allows all
    but the upsert through an unmatched filter until it recognises Entra."""
    assert ALLOWED[Dialect.RFC] == frozenset()
    assert ALLOWED[Dialect.OKTA] == {Leniency.READ_ONLY_KEYS}
    assert ALLOWED[Dialect.ENTRA] == frozenset(Leniency)
    assert leniencies("auto") == frozenset(Leniency) - {Leniency.FILTERED_UPSERT}
    assert leniencies("auto", "Okta SCIM Client 1.0.0") == leniencies("auto")
    assert leniencies("auto", "Microsoft Azure AD SCIM provisioning") == frozenset(Leniency)
    for dialect in ("rfc", "okta", "entra"):
        assert leniencies(dialect, "Microsoft Azure AD SCIM provisioning") == ALLOWED[dialect]
