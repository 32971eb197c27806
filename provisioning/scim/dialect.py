"""Dialects: which of the IdPs' departures from RFC 7644 a connection tolerates.

A tenant is one IdP connection and has a dialect. Each departure the server can tolerate is
a named `Leniency`; `ALLOWED` says which dialect allows which. The pure SCIM code
(`resource.py`, `patch.py`, `filter.py`) takes the set of leniencies as a parameter and
answers as the RFC does for every leniency the set lacks (docs/dialects.md has the table;
docs/okta.md and docs/entra.md what each IdP sends):

* ``rfc``: the letter of RFC 7643/7644, no leniency.
* ``okta``: the RFC, and what Okta sends beyond it.
* ``entra``: the RFC, and what Microsoft Entra ID sends beyond it (its default PATCH dialect
  and its ``aadOptscim062020`` one).
* ``auto`` (the default): every leniency whose RFC answer is an error, since a request
  shaped as the RFC writes it never meets one, and the leniencies that change the answer to
  such a request only for a request `recognise` attributes to the IdP that needs them.

How the IdPs are recognised, and the evidence for each sign:

* Okta's requests carry ``User-Agent: Okta SCIM Client 1.0.0`` (Okta's "SCIM 2.0 Protocol
  Reference", developer.okta.com/docs/reference/scim/scim-20/, on every request shown).
* Entra's carry a User-Agent starting ``Microsoft Azure AD SCIM provisioning``: GitHub's SCIM
  server recognises Entra by that string, case-insensitively, as a substring, noting that
  Entra sends it unversioned and Okta versions its own (app/api/scim/base_scim.rb of GitHub's
  server). Microsoft does not document it; no public source was found for other spellings
  (``Microsoft.AzureAD.Provisioning...`` is the namespace of Microsoft's reference SCIM
  server, not a User-Agent).
* ``aadOptscim062020`` is a flag the Entra admin appends to the Tenant URL (Microsoft Learn,
  "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra
  user provisioning service", "Flags to alter the SCIM behavior"). Whether Entra repeats it in
  the query string of each request is not documented; when a request carries it (a query
  parameter of that name, in any case, with any value), it is Entra's.
* Entra's default PATCH dialect capitalises `op` (``"Replace"``, ``"Add"``, ``"Remove"``),
  sends booleans as ``"True"``/``"False"`` and removes members with a `value` list; with the
  flag, it sends dotted attribute paths as the keys of a path-less ``replace`` (the same
  Microsoft page shows both side by side). A PATCH body with any of these is Entra's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from .schema import SCHEMAS, Type

__all__ = ["ALLOWED", "NO_LENIENCY", "Dialect", "Leniency", "leniencies", "recognise"]


class Dialect(StrEnum):
    RFC = "rfc"
    OKTA = "okta"
    ENTRA = "entra"
    AUTO = "auto"


class Leniency(StrEnum):
    """A departure from RFC 7643/7644 that an IdP needs; the RFC's answer is in brackets."""

    # `op` in any case: Entra's "Add", "Replace", "Remove" [RFC 7644 §3.5.2: "add", "remove"
    # or "replace"; anything else is invalidSyntax].
    CAPITALISED_OPS = "capitalised-ops"
    # "True"/"False" for a boolean: Entra's default PATCH [RFC 7643 §2.3.2: a JSON boolean;
    # invalidValue].
    STRING_BOOLEANS = "string-booleans"
    # A complex value with a `value` sub-attribute sent as a bare string: Entra's `manager`
    # id [RFC 7643 §2.3.8: a complex attribute is a JSON object; invalidValue].
    BARE_VALUES = "bare-values"
    # An empty `value` ("" or {"value": ""}) unassigns: Entra's way to clear `manager`
    # [RFC 7643 §2.5 unassigns with null only, and an empty string names no resource;
    # invalidValue].
    EMPTY_VALUE_UNASSIGNS = "empty-value-unassigns"
    # An add or replace through a value filter of `eq`s that matches no value creates one
    # from the filter: Entra's `emails[type eq "work"].value` [RFC 7644 §3.5.2.3: "no record
    # match was made ... noTarget"; §3.5.2.1 creates no value through a filter either
    # (RFC errata 8097 asks exactly this), so noTarget too].
    FILTERED_UPSERT = "filtered-upsert"
    # A remove with a path without filter and a `value` removes only those values: Entra's
    # member removal [RFC 7644 §3.5.2.2 defines no `value` for remove, and without a filter
    # removes every value; rather than empty a group, the operation is refused as
    # invalidSyntax].
    REMOVE_BY_VALUE = "remove-by-value"
    # The keys of a path-less add or replace may be attribute paths ("name.givenName",
    # URN-qualified names, value filters): Entra's aadOptscim062020 [RFC 7644 §3.5.2.1 and
    # §3.5.2.3: the value holds attributes; a key that is a path is invalidPath].
    PATH_KEYS = "path-keys"
    # A read-only attribute among the keys of a path-less add or replace is ignored: Okta's
    # group rename carries `id` [RFC 7644 §3.5.2: a client MUST NOT modify a readOnly
    # attribute; mutability].
    READ_ONLY_KEYS = "read-only-keys"
    # URIs in `schemas` beyond the resource type's own: Entra's ADSCIM Group schema
    # [RFC 7643 §3: `schemas` names the schemas that define the attributes present;
    # invalidSyntax].
    EXTRA_SCHEMAS = "extra-schemas"
    # A sub-attribute comparison after a value filter in a `filter`: Entra's lookup
    # `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`
    # [RFC 7644 §3.4.2.2 Figure 1: a valuePath ends at "]"; invalidFilter].
    VALUE_FILTER_SUB_ATTRIBUTE = "value-filter-sub-attribute"


# What the pure code reads by default: the letter of the RFCs.
NO_LENIENCY: frozenset[Leniency] = frozenset()

ALLOWED: dict[Dialect, frozenset[Leniency]] = {
    Dialect.RFC: NO_LENIENCY,
    Dialect.OKTA: frozenset({Leniency.READ_ONLY_KEYS}),
    Dialect.ENTRA: frozenset(Leniency),
}

# The leniencies `auto` allows whoever sends the request: each only turns what the RFC
# answers with an error into a success. FILTERED_UPSERT is the one that changes the answer
# to a request shaped as the RFC writes it (noTarget), so it waits for Entra to be recognised.
_AUTO_ALWAYS = frozenset(Leniency) - {Leniency.FILTERED_UPSERT}
_AUTO = {
    None: _AUTO_ALWAYS,
    Dialect.OKTA: _AUTO_ALWAYS | ALLOWED[Dialect.OKTA],
    Dialect.ENTRA: _AUTO_ALWAYS | ALLOWED[Dialect.ENTRA],
}

# The names of a PatchOp body and of its operations as RFC 7644 §3.5.2 spells them.
_BODY_NAMES = frozenset({"schemas", "Operations"})
_OPERATION_NAMES = frozenset({"op", "path", "value"})


def patch_operations(body: Any) -> Any:
    """Return the `Operations` of a PatchOp body, named in any case (the first of names that
    differ only in case), or None. Asked of each PATCH of a Bulk request, it reads a body
    whose names are all spelt as the RFC spells them as it is, rather than by `_members`."""
    if type(body) is dict and body.keys() <= _BODY_NAMES:
        return body.get("Operations")
    return _members(body).get("operations")


_AUTO_NAME = Dialect.AUTO.value
_OKTA_AGENT = "okta scim client"
_ENTRA_AGENT = "microsoft azure ad scim provisioning"
_ENTRA_FLAG = "aadoptscim062020"
_OPS = ("add", "remove", "replace")


def leniencies(
    dialect: str, user_agent: str = "", query: Iterable[str] = (), patch_body: Any = None
) -> frozenset[Leniency]:
    """Return the leniencies a request to a connection of `dialect` is read with.

    For ``auto``, the request is recognised from its User-Agent, the names in its query
    string and, for a PATCH, its body.
    """
    return reader(dialect, user_agent, query)(patch_body)


def reader(
    dialect: str, user_agent: str = "", query: Iterable[str] = ()
) -> Callable[[Any], frozenset[Leniency]]:
    """Return `leniencies` for the bodies of one request, `patch_body -> leniencies`, with
    what does not depend on a body worked out once: a Bulk request's operations share its
    connection, User-Agent and query string, and ask for the leniencies of each PATCH body."""
    if dialect != _AUTO_NAME:
        fixed = ALLOWED[dialect]
        return lambda patch_body=None: fixed
    found = recognise(user_agent, query)
    if found is not None:
        fixed = _AUTO[found]
        return lambda patch_body=None: fixed
    return lambda patch_body=None: _AUTO[
        Dialect.ENTRA if patch_body is not None and _entra_patch(patch_body) else None
    ]


def recognise(user_agent: str, query: Iterable[str] = (), patch_body: Any = None) -> Dialect | None:
    """Return the IdP dialect a request shows signs of (see the module docstring), or None."""
    agent = user_agent.lower()
    if _ENTRA_AGENT in agent:
        return Dialect.ENTRA
    if _OKTA_AGENT in agent:
        return Dialect.OKTA
    if any(name.lower() == _ENTRA_FLAG for name in query):
        return Dialect.ENTRA
    if patch_body is not None and _entra_patch(patch_body):
        return Dialect.ENTRA
    return None


def _entra_patch(body: Any) -> bool:
    """Return whether a PATCH body has a sign of Entra's dialects: a capitalised op, a
    boolean as a string, a remove carrying values, or a dotted or filtered path as a key.
    Operations whose names are all spelt as the RFC spells them are read as they are."""
    operations = patch_operations(body)
    if not isinstance(operations, list):
        return False
    for operation in operations:
        if type(operation) is dict and operation.keys() <= _OPERATION_NAMES:
            members = operation
        else:
            members = _members(operation)
        op = members.get("op")
        # An op spelt in lower case is no capitalised one: one comparison for most.
        if op not in _OPS and isinstance(op, str) and op.lower() in _OPS:
            return True
        value, path = members.get("value"), members.get("path")
        if _string_boolean(value) and _names_boolean(path):
            return True
        if op == "remove" and value is not None:
            return True
        if path is None and isinstance(value, Mapping):
            for key, member in value.items():
                if (_string_boolean(member) and _names_boolean(key)) or _is_path_key(key):
                    return True
    return False


# The names of the boolean attributes and sub-attributes of the schema table (`active`,
# `primary`): a string "true" is a sign of Entra only where a boolean belongs, not as the
# value of a string attribute that an RFC-shaped request may set to it.
_BOOLEAN_NAMES = frozenset(
    attr.name.lower()
    for schema in SCHEMAS
    for top in schema.attributes
    for attr in (top, *top.sub_attributes)
    if attr.type == Type.BOOLEAN
)


def _names_boolean(path: Any) -> bool:
    """Return whether an attribute path ends in a boolean attribute (``active``,
    ``emails[type eq "work"].primary``)."""
    if not isinstance(path, str):
        return False
    last = path.rsplit("]", 1)[-1].rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return last.lower() in _BOOLEAN_NAMES


def _members(obj: Any) -> dict[str, Any]:
    """Return the members of a JSON object by lowercase name (the first of names that differ
    only in case), read in one pass; none for anything else."""
    members: dict[str, Any] = {}
    if type(obj) is dict or isinstance(obj, Mapping):  # a JSON object is a dict: no ABC check
        for key, value in obj.items():
            if isinstance(key, str):
                members.setdefault(key.lower(), value)
    return members


def _string_boolean(value: Any) -> bool:
    return isinstance(value, str) and value.lower() in ("true", "false")


def _is_path_key(key: Any) -> bool:
    """Return whether a key is a dotted or filtered attribute path (``name.givenName``,
    ``emails[type eq "work"].value``); a schema URN's own dots (``2.0``) do not count."""
    return isinstance(key, str) and ("[" in key or "." in key.rsplit(":", 1)[-1])
