"""Tests for PATCH semantics (RFC 7644 §3.5.2) on canonical documents, with the IdPs' dialects.

Cases are named by the RFC paragraph they exercise (``3.5.2.1-...`` for add, ``3.5.2.2-...`` for
remove, ``3.5.2.3-...`` for replace) or by the IdP whose request shape they reproduce
(docs/okta.md, docs/entra.md, docs/other-idps.md). Every assertion compares the whole
`PatchResult`. The RFC's cases run in every dialect and must get the RFC's answer in each; the
IdPs' cases run in their dialect, in `auto`, and in `rfc`, where they get the RFC's answer
(`provisioning.scim.dialect`, docs/dialects.md).
"""

from __future__ import annotations

import copy

import pytest

from provisioning.scim.dialect import ALLOWED, Dialect, Leniency, leniencies
from provisioning.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    SCIMError,
)
from provisioning.scim.filter import And, AttrPath, Compare, Or
from provisioning.scim.patch import PATCH_OP_URN, MemberChange, PatchResult, apply_patch
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import (
    ENTERPRISE_USER_SCHEMA_URN,
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    USER_SCHEMA_URN,
    Attribute,
    ResourceType,
    Schema,
    Type,
)
from provisioning.scim.schema import Mutability as Mut

CORE = USER_SCHEMA_URN
ENTERPRISE = ENTERPRISE_USER_SCHEMA_URN
MEMBERS = frozenset({"members"})

BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"
MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"
NEW_MANAGER = "9c1f2b0e-5f0c-4d55-9a43-2b1f0c7a1d11"
CERTIFICATE = "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMC"

WORK_ADDRESS = {
    "streetAddress": "100 Universal City Plaza",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "USA",
    "type": "work",
}
HOME_ADDRESS = {
    "streetAddress": "456 Hollywood Blvd",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "USA",
    "type": "home",
    "primary": True,
}
WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
ENTERPRISE_USER = {
    "employeeNumber": "701984",
    "department": "Tour Operations",
    "manager": {"value": MANAGER},
}

# The stored User: RFC 7643 §8.2's Babs Jensen, as `parse_resource` stores her.
USER = {
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "active": True,
    "emails": [WORK_EMAIL],
    "addresses": [WORK_ADDRESS, HOME_ADDRESS],
    "x509Certificates": [{"value": CERTIFICATE}],
    ENTERPRISE: ENTERPRISE_USER,
}
# The stored Group: `members` live in rows, never in the document.
GROUP = {"displayName": "Tour Guides"}


def ids(cases: list[tuple]) -> list[str]:
    """Return the readable test ids, the first item of each case."""
    return [case[0] for case in cases]


def body(*operations: dict) -> dict:
    """Return a PatchOp message carrying `operations`."""
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


RFC = ALLOWED[Dialect.RFC]
OKTA = ALLOWED[Dialect.OKTA]
ENTRA = ALLOWED[Dialect.ENTRA]
# What `auto` allows a request that shows no sign of any IdP.
AUTO = leniencies(Dialect.AUTO)
DIALECTS = {"rfc": RFC, "okta": OKTA, "entra": ENTRA, "auto": AUTO}


def patch_user(
    *operations: dict, document: dict = USER, allowed: frozenset[Leniency] = RFC
) -> PatchResult:
    return apply_patch(USER_RESOURCE_TYPE, document, body(*operations), leniencies=allowed)


def patch_group(*operations: dict, allowed: frozenset[Leniency] = RFC) -> PatchResult:
    return apply_patch(
        GROUP_RESOURCE_TYPE, GROUP, body(*operations), row_attributes=MEMBERS, leniencies=allowed
    )


def user(*removed: str, **changes: object) -> dict:
    """Return USER without the attributes `removed` and with `changes` applied."""
    return {**{k: v for k, v in USER.items() if k not in removed}, **changes}


def user_with(changes: dict, *removed: str) -> dict:
    """Like `user`, for attribute names that are not Python identifiers (extension URNs)."""
    return {**user(*removed), **changes}


def enterprise(*removed: str, **changes: object) -> dict:
    """Return USER with its enterprise extension changed."""
    extension = {k: v for k, v in ENTERPRISE_USER.items() if k not in removed}
    return user_with({ENTERPRISE: {**extension, **changes}})


def eq(attr: str, value: object) -> Compare:
    return Compare(AttrPath(attr), "eq", value)


def member(value: str, **extra: str) -> dict:
    return {"value": value, **extra}


def test_fixture_is_canonical() -> None:
    """The stored documents are what `parse_resource` returns, so results compare exactly."""
    assert parse_resource({"schemas": [CORE, ENTERPRISE], **USER}, USER_RESOURCE_TYPE) == USER


# --- RFC 7644 §3.5.2: the examples and rules of add, remove and replace on a User -------------

USER_CASES = [
    # §3.5.2.1 Add
    ("3.5.2.1-add-no-path-example",
     [{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}],
                              "nickname": "Babs"}}],
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}], nickName="Babs")),
    ("3.5.2.1-add-multi-valued-appends",
     [{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}],
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}])),
    ("3.5.2.1-add-multi-valued-single-object",
     [{"op": "add", "path": "emails", "value": {"value": "babs@jensen.org", "type": "home"}}],
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}])),
    ("3.5.2.1-add-existing-value-changes-nothing",
     [{"op": "add", "path": "emails", "value": [WORK_EMAIL]}],
     USER),
    ("3.5.2.1-add-singular-replaces",
     [{"op": "add", "path": "displayName", "value": "Barbara Jensen"}],
     user(displayName="Barbara Jensen")),
    ("3.5.2.1-add-absent-attribute",
     [{"op": "add", "path": "nickName", "value": "Babs"}],
     user(nickName="Babs")),
    ("3.5.2.1-add-complex-merges-sub-attributes",
     [{"op": "add", "path": "name", "value": {"middleName": "Jane", "givenName": "Babs"}}],
     user(name={"familyName": "Jensen", "givenName": "Babs", "middleName": "Jane"})),
    ("3.5.2.1-add-sub-attribute",
     [{"op": "add", "path": "name.honorificPrefix", "value": "Ms."}],
     user(name={"familyName": "Jensen", "givenName": "Barbara", "honorificPrefix": "Ms."})),
    ("3.5.2.1-add-filtered-merges-into-match",
     [{"op": "add", "path": 'addresses[type eq "work"]', "value": {"formatted": "100 UCP"}}],
     user(addresses=[{"formatted": "100 UCP", **WORK_ADDRESS}, HOME_ADDRESS])),
    ("3.5.2.1-add-filtered-sub-attribute-sets-on-match",
     [{"op": "add", "path": 'emails[type eq "work"].display', "value": "Work"}],
     user(emails=[{**WORK_EMAIL, "display": "Work"}])),
    ("3.5.2.1-add-sub-attribute-of-every-value",
     [{"op": "add", "path": "emails.display", "value": "Babs"}],
     user(emails=[{**WORK_EMAIL, "display": "Babs"}])),
    ("3.5.2.1-add-null-unassigns",
     [{"op": "add", "path": "displayName", "value": None}],
     user("displayName")),
    # §3.5.2.2 Remove
    ("3.5.2.2-remove-singular",
     [{"op": "remove", "path": "displayName"}],
     user("displayName")),
    ("3.5.2.2-remove-sub-attribute",
     [{"op": "remove", "path": "name.givenName"}],
     user(name={"familyName": "Jensen"})),
    ("3.5.2.2-remove-last-sub-attribute-unassigns-complex",
     [{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"}],
     user("name")),
    ("3.5.2.2-remove-complex",
     [{"op": "remove", "path": "name"}],
     user("name")),
    ("3.5.2.2-remove-multi-valued-all",
     [{"op": "remove", "path": "addresses"}],
     user("addresses")),
    ("3.5.2.2-remove-emails-filter-example",
     [{"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}],
     user("emails")),
    ("3.5.2.2-remove-x509Certificates-example",
     [{"op": "remove", "path": f'x509Certificates[value eq "{CERTIFICATE}"]'}],
     user("x509Certificates")),
    ("3.5.2.2-remove-filtered-keeps-others",
     [{"op": "remove", "path": 'addresses[type eq "home"]'}],
     user(addresses=[WORK_ADDRESS])),
    ("3.5.2.2-remove-filtered-sub-attribute",
     [{"op": "remove", "path": 'addresses[type eq "work"].region'}],
     user(addresses=[{k: v for k, v in WORK_ADDRESS.items() if k != "region"}, HOME_ADDRESS])),
    ("3.5.2.2-remove-filter-matching-nothing",
     [{"op": "remove", "path": 'emails[type eq "other"]'}],
     USER),
    ("3.5.2.2-remove-absent-attribute",
     [{"op": "remove", "path": "nickName"}],
     USER),
    ("3.5.2.2-remove-with-or-filter",
     [{"op": "remove", "path": 'addresses[type eq "work" or type eq "home"]'}],
     user("addresses")),
    ("3.5.2.2-remove-with-not-filter",
     [{"op": "remove", "path": 'addresses[not (type eq "work")]'}],
     user(addresses=[WORK_ADDRESS])),
    ("3.5.2.2-remove-with-present-filter",
     [{"op": "remove", "path": "addresses[primary pr]"}],
     user(addresses=[WORK_ADDRESS])),
    # §3.5.2.3 Replace
    ("3.5.2.3-replace-no-path-example",
     [{"op": "replace", "value": {
         "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
         "nickname": "Babs"}}],
     user(nickName="Babs")),
    ("3.5.2.3-replace-addresses-work-example",
     [{"op": "replace", "path": 'addresses[type eq "work"]', "value": {
         "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "US",
         "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": True}}],
     user(addresses=[
         {"formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
          "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
          "postalCode": "91608", "country": "US", "type": "work", "primary": True},
         {**HOME_ADDRESS, "primary": False}])),
    ("3.5.2.3-replace-addresses-streetAddress-example",
     [{"op": "replace", "path": 'addresses[type eq "work"].streetAddress',
       "value": "1010 Broadway Ave"}],
     user(addresses=[{**WORK_ADDRESS, "streetAddress": "1010 Broadway Ave"}, HOME_ADDRESS])),
    ("3.5.2.3-replace-emails-work-whole-value",
     [{"op": "replace", "path": 'emails[type eq "work"]',
       "value": {"value": "barbara@example.com", "type": "work"}}],
     user(emails=[{"value": "barbara@example.com", "type": "work"}])),
    ("3.5.2.3-replace-singular",
     [{"op": "replace", "path": "displayName", "value": "Barbara Jensen"}],
     user(displayName="Barbara Jensen")),
    ("3.5.2.3-replace-absent-is-add",
     [{"op": "replace", "path": "title", "value": "Tour Guide"}],
     user(title="Tour Guide")),
    ("3.5.2.3-replace-complex-keeps-unspecified-sub-attributes",
     [{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}],
     user(name={"familyName": "Jensen", "givenName": "Babs"})),
    ("3.5.2.3-replace-multi-valued-all",
     [{"op": "replace", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}],
     user(emails=[{"value": "babs@jensen.org", "type": "home"}])),
    ("3.5.2.3-replace-multi-valued-empty-array-unassigns",
     [{"op": "replace", "path": "emails", "value": []}],
     user("emails")),
    ("3.5.2.3-replace-null-unassigns",
     [{"op": "replace", "path": "name", "value": None}],
     user("name")),
    ("3.5.2.3-replace-filtered-null-removes-match",
     [{"op": "replace", "path": 'addresses[type eq "home"]', "value": None}],
     user(addresses=[WORK_ADDRESS])),
    # §3.5.2: operations apply in sequence, each to the result of the previous one.
    ("3.5.2-operations-in-order",
     [{"op": "replace", "path": "nickName", "value": "Babs"},
      {"op": "remove", "path": "nickName"},
      {"op": "add", "path": "title", "value": "Tour Guide"}],
     user(title="Tour Guide")),
    # §3.10 attribute notation: URN-qualified paths and extensions.
    ("3.10-core-urn-qualified-path",
     [{"op": "replace", "path": f"{CORE}:displayName", "value": "Barbara"}],
     user(displayName="Barbara")),
    ("3.10-core-urn-qualified-common-attribute",
     [{"op": "replace", "path": f"{CORE}:externalId", "value": "701985"}],
     user(externalId="701985")),
    ("3.10-names-case-insensitive",
     [{"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"}],
     user(name={"familyName": "Jensen", "givenName": "Babs"})),
    ("3.10-extension-attribute",
     [{"op": "replace", "path": f"{ENTERPRISE}:costCenter", "value": "4130"}],
     enterprise(costCenter="4130")),
    ("3.10-extension-attribute-unqualified",
     [{"op": "replace", "path": "division", "value": "Theme Park"}],
     enterprise(division="Theme Park")),
    ("3.10-extension-sub-attribute",
     [{"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": NEW_MANAGER}],
     enterprise(manager={"value": NEW_MANAGER})),
    ("3.10-whole-extension-replace-merges",
     [{"op": "replace", "path": ENTERPRISE, "value": {"costCenter": "4130", "manager": None}}],
     enterprise("manager", costCenter="4130")),
    ("3.10-whole-extension-add-merges",
     [{"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "42"}}],
     enterprise(employeeNumber="42")),
    ("3.10-whole-extension-remove",
     [{"op": "remove", "path": ENTERPRISE}],
     user(ENTERPRISE)),
    ("3.10-whole-extension-replace-null-unassigns",
     [{"op": "replace", "path": ENTERPRISE, "value": None}],
     user(ENTERPRISE)),
    ("3.10-whole-extension-null-in-no-path-value",
     [{"op": "replace", "value": {ENTERPRISE: None}}],
     user(ENTERPRISE)),
    ("3.10-whole-extension-in-no-path-value",
     [{"op": "replace", "value": {ENTERPRISE: {"department": "Rides"}}}],
     enterprise(department="Rides")),
    # RFC 7643 §2.4: primary at most once; a new primary value resets the others.
    ("7643-2.4-add-primary-resets-others",
     [{"op": "add", "path": "emails",
       "value": [{"value": "babs@jensen.org", "type": "home", "primary": True}]}],
     user(emails=[{**WORK_EMAIL, "primary": False},
                  {"value": "babs@jensen.org", "type": "home", "primary": True}])),
    ("7643-2.4-primary-sub-attribute-resets-others",
     [{"op": "replace", "path": 'addresses[type eq "work"].primary', "value": True}],
     user(addresses=[{**WORK_ADDRESS, "primary": True}, {**HOME_ADDRESS, "primary": False}])),
    # RFC 7643 §2.2 writeOnly: accepted, checked, never stored.
    ("7643-2.2-password-path-not-stored",
     [{"op": "replace", "path": "password", "value": "t1meMa$heen"}],
     USER),
    ("7643-2.2-password-no-path-not-stored",
     [{"op": "replace", "value": {"password": "t1meMa$heen", "nickName": "Babs"}}],
     user(nickName="Babs")),
    ("7643-2.2-remove-password-changes-nothing",
     [{"op": "remove", "path": "password"}],
     USER),
    ("3.5.2.3-no-path-value-ignores-schemas-and-unknown-names",
     [{"op": "replace", "value": {"schemas": [CORE], "unknownAttribute": 1,
                                  "displayName": "Babs"}}],
     user(displayName="Babs")),
    ("3.5.1-read-only-sub-attributes-in-values-dropped",
     [{"op": "replace", "path": f"{ENTERPRISE}:manager",
       "value": {"value": NEW_MANAGER, "displayName": "John Smith"}}],
     enterprise(manager={"value": NEW_MANAGER})),
]  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("case", "operations", "expected"), USER_CASES, ids=ids(USER_CASES))
def test_user_cases(case: str, operations: list[dict], expected: dict, dialect: str) -> None:
    """Each RFC 7644 §3.5.2 rule (add §3.5.2.1, remove §3.5.2.2, replace §3.5.2.3) and the
    examples of those paragraphs, applied to a stored User: the same answer in every dialect,
    so a request shaped as the RFC writes it gets the RFC's answer under `auto` too."""
    assert patch_user(*operations, allowed=DIALECTS[dialect]) == PatchResult(expected, ())


def test_whole_extension_added_to_user_without_it() -> None:
    """A path naming a whole extension (RFC 7644 §3.10) adds the extension object when the
    User had none (RFC 7644 §3.5.2.1: "If the target location does not exist, the attribute
    and value are added")."""
    result = patch_user(
        {"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "42"}},
        document=user(ENTERPRISE),
    )
    assert result == PatchResult(user_with({ENTERPRISE: {"employeeNumber": "42"}}), ())


# --- Group `members`: stored as rows, returned as MemberChanges -------------------------------

BABS_MEMBER = {
    "display": "Babs Jensen",
    "$ref": f"https://example.com/v2/Users/{BABS}",
    "value": BABS,
}
JAMES_MEMBER = {
    "display": "James Smith",
    "$ref": f"https://example.com/v2/Users/{JAMES}",
    "value": JAMES,
}

GROUP_CASES = [
    ("3.5.2.1-add-member-example",
     [{"op": "add", "path": "members", "value": [BABS_MEMBER]}],
     [MemberChange("add", (member(BABS),))]),
    ("3.5.2.1-add-member-keeps-type",
     [{"op": "add", "path": "members", "value": [{"value": BABS, "type": "User"}]}],
     [MemberChange("add", (member(BABS, type="User"),))]),
    ("3.5.2.1-add-member-no-path",
     [{"op": "add", "value": {"members": [{"value": BABS}]}}],
     [MemberChange("add", (member(BABS),))]),
    ("3.5.2.1-add-empty-array-changes-nothing",
     [{"op": "add", "path": "members", "value": []}],
     []),
    ("3.5.2.2-remove-all-members-example",
     [{"op": "remove", "path": "members"}],
     [MemberChange("remove")]),
    ("3.5.2.2-remove-one-member-example",
     [{"op": "remove", "path": f'members[value eq "{BABS}"]'}],
     [MemberChange("remove", value_filter=eq("value", BABS))]),
    ("3.5.2.2-remove-members-then-add-example",
     [{"op": "remove", "path": f'members[value eq"{BABS}"]'},
      {"op": "remove", "path": f'members[value eq"{MANDY}"]'},
      {"op": "add", "path": "members", "value": [JAMES_MEMBER]}],
     [MemberChange("remove", value_filter=eq("value", BABS)),
      MemberChange("remove", value_filter=eq("value", MANDY)),
      MemberChange("add", (member(JAMES),))]),
    ("3.5.2.2-remove-all-then-add-example",
     [{"op": "remove", "path": "members"},
      {"op": "add", "path": "members", "value": [BABS_MEMBER, JAMES_MEMBER]}],
     [MemberChange("remove"), MemberChange("add", (member(BABS), member(JAMES)))]),
    ("3.5.2.2-remove-by-compound-filter",
     [{"op": "remove", "path": f'members[type eq "Group" or value eq "{BABS}"]'}],
     [MemberChange("remove", value_filter=Or(eq("type", "Group"), eq("value", BABS)))]),
    ("3.5.2.3-replace-members-example",
     [{"op": "replace", "path": "members", "value": [BABS_MEMBER, JAMES_MEMBER]}],
     [MemberChange("replace", (member(BABS), member(JAMES)))]),
    ("3.5.2.3-replace-members-empty-array",
     [{"op": "replace", "path": "members", "value": []}],
     [MemberChange("replace")]),
    ("3.5.2.3-replace-filtered-member",
     [{"op": "replace", "path": f'members[value eq "{BABS}"]', "value": {"value": JAMES}}],
     [MemberChange("replace", (member(JAMES),), eq("value", BABS))]),
    ("3.5.2.3-replace-filtered-member-null-removes",
     [{"op": "replace", "path": f'members[value eq "{BABS}" and type eq "User"]',
       "value": None}],
     [MemberChange("remove", value_filter=And(eq("value", BABS), eq("type", "User")))]),
    ("duplicate-member-in-one-add",
     [{"op": "add", "path": "members", "value": [{"value": BABS}, {"value": BABS}]}],
     [MemberChange("add", (member(BABS),))]),
]  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("case", "operations", "changes"), GROUP_CASES, ids=ids(GROUP_CASES))
def test_group_member_cases(case: str, operations: list[dict], changes: list, dialect: str) -> None:
    """Operations on `members` (RFC 7644 §3.5.2's Group examples) become MemberChanges, in
    order; `display` (read-only) and `$ref` (derived) are dropped; the document is untouched.
    The same in every dialect."""
    result = patch_group(*operations, allowed=DIALECTS[dialect])
    assert result == PatchResult(GROUP, tuple(changes))


# --- Real IdP request shapes (docs/okta.md, docs/entra.md, docs/other-idps.md) ---------------

WITHOUT_CONTACTS = user("emails", "addresses")

IDP_USER_CASES = [
    ("okta-deactivate",
     USER, [{"op": "replace", "value": {"active": False}}],
     user(active=False)),
    ("okta-reactivate",
     user(active=False), [{"op": "replace", "value": {"active": True}}],
     USER),
    ("entra-capitalised-op-string-boolean",
     USER, [{"op": "Replace", "path": "active", "value": "False"}],
     user(active=False)),
    ("entra-add-capitalised",
     USER, [{"op": "Add", "path": "title", "value": "Tour Guide"}],
     user(title="Tour Guide")),
    ("entra-name-givenName",
     USER, [{"op": "Replace", "path": "name.givenName", "value": "Babs"}],
     user(name={"familyName": "Jensen", "givenName": "Babs"})),
    ("entra-emails-work-value-creates-element",
     WITHOUT_CONTACTS,
     [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "bjensen@example.com"}],
     user("addresses", emails=[{"value": "bjensen@example.com", "type": "work"}])),
    ("entra-emails-work-value-replace-creates-element",
     WITHOUT_CONTACTS,
     [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "bjensen@example.com"}],
     user("addresses", emails=[{"value": "bjensen@example.com", "type": "work"}])),
    ("entra-emails-work-value-updates-match",
     USER,
     [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "babs@example.com"}],
     user(emails=[{**WORK_EMAIL, "value": "babs@example.com"}])),
    ("entra-phoneNumbers-work-value",
     USER,
     [{"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "555-555-8377"}],
     user(phoneNumbers=[{"value": "555-555-8377", "type": "work"}])),
    ("entra-phoneNumbers-two-types",
     USER,
     [{"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "555-555-8377"},
      {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "555-555-0000"}],
     user(phoneNumbers=[{"value": "555-555-8377", "type": "work"},
                        {"value": "555-555-0000", "type": "mobile"}])),
    ("entra-addresses-work-streetAddress-creates-element",
     WITHOUT_CONTACTS,
     [{"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"}],
     user("emails", addresses=[{"streetAddress": "1 Main St", "type": "work"}])),
    ("entra-addresses-work-streetAddress-updates-match",
     USER,
     [{"op": "Replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"}],
     user(addresses=[{**WORK_ADDRESS, "streetAddress": "1 Main St"}, HOME_ADDRESS])),
    ("entra-filter-conjunction-creates-element",
     WITHOUT_CONTACTS,
     [{"op": "Add", "path": 'emails[type eq "work" and primary eq true].value',
       "value": "bjensen@example.com"}],
     user("addresses", emails=[WORK_EMAIL])),
    ("entra-enterprise-employeeNumber",
     USER,
     [{"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "701985"}],
     enterprise(employeeNumber="701985")),
    ("entra-enterprise-employeeNumber-first-time",
     user(ENTERPRISE),
     [{"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "701985"}],
     user_with({ENTERPRISE: {"employeeNumber": "701985"}})),
    ("entra-manager-object",
     USER, [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": {"value": NEW_MANAGER}}],
     enterprise(manager={"value": NEW_MANAGER})),
    ("entra-manager-bare-string",
     USER, [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": NEW_MANAGER}],
     enterprise(manager={"value": NEW_MANAGER})),
    ("entra-manager-empty-object-clears",
     USER, [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": {"value": ""}}],
     enterprise("manager")),
    ("entra-manager-empty-string-clears",
     USER, [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}],
     enterprise("manager")),
    ("entra-remove-manager",
     USER, [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}],
     enterprise("manager")),
    ("entra-aadOptscim062020-no-path-dotted-keys",
     USER,
     [{"op": "replace", "value": {
         "name.givenName": "Babs",
         "name.familyName": "Jensen-Smith",
         f"{ENTERPRISE}:employeeNumber": "701985",
         f"{ENTERPRISE}:manager": {"value": NEW_MANAGER},
         "active": False}}],
     user_with({"name": {"familyName": "Jensen-Smith", "givenName": "Babs"}, "active": False,
                ENTERPRISE: {**ENTERPRISE_USER, "employeeNumber": "701985",
                             "manager": {"value": NEW_MANAGER}}})),
    ("entra-remove-emails-by-value-list",
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}]),
     [{"op": "Remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}],
     USER),
    ("entra-no-path-filtered-key",
     WITHOUT_CONTACTS,
     [{"op": "replace", "value": {'emails[type eq "work"].value': "bjensen@example.com"}}],
     user("addresses", emails=[{"value": "bjensen@example.com", "type": "work"}])),
    ("entra-no-path-unknown-and-read-only-keys-ignored",
     USER,
     [{"op": "replace", "value": {
         "urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge": "7",
         f"{ENTERPRISE}:manager.displayName": "John Smith",
         "userName.value": "x",
         "emails[": "x",
         f"{ENTERPRISE}:department": "Rides"}}],
     enterprise(department="Rides")),
    ("jumpcloud-repeated-add",
     USER,
     [{"op": "add", "path": "emails", "value": [WORK_EMAIL]},
      {"op": "add", "path": "emails", "value": [WORK_EMAIL]}],
     USER),
    ("jumpcloud-repeated-remove",
     USER,
     [{"op": "remove", "path": 'emails[value eq "gone@example.com"]'}],
     USER),
]  # fmt: skip


# The RFC's answer to the IdP cases that are not shaped as the RFC writes them; the others get
# the same answer in `rfc` as in their IdP's dialect.
RFC_ANSWERS = {
    "entra-capitalised-op-string-boolean": InvalidSyntax,
    "entra-add-capitalised": InvalidSyntax,
    "entra-name-givenName": InvalidSyntax,
    "entra-emails-work-value-creates-element": InvalidSyntax,
    "entra-emails-work-value-replace-creates-element": InvalidSyntax,
    "entra-emails-work-value-updates-match": InvalidSyntax,
    "entra-phoneNumbers-work-value": InvalidSyntax,
    "entra-phoneNumbers-two-types": InvalidSyntax,
    "entra-addresses-work-streetAddress-creates-element": InvalidSyntax,
    "entra-addresses-work-streetAddress-updates-match": InvalidSyntax,
    "entra-filter-conjunction-creates-element": InvalidSyntax,
    "entra-enterprise-employeeNumber": InvalidSyntax,
    "entra-enterprise-employeeNumber-first-time": InvalidSyntax,
    "entra-manager-object": InvalidSyntax,
    "entra-manager-bare-string": InvalidSyntax,
    "entra-manager-empty-object-clears": InvalidSyntax,
    "entra-manager-empty-string-clears": InvalidSyntax,
    "entra-remove-manager": InvalidSyntax,
    "entra-aadOptscim062020-no-path-dotted-keys": InvalidPath,
    "entra-remove-emails-by-value-list": InvalidSyntax,
    "entra-no-path-filtered-key": InvalidPath,
    "entra-no-path-unknown-and-read-only-keys-ignored": InvalidPath,
    "okta-rename-with-id": Mutability,
    "entra-add-member-capitalised": InvalidSyntax,
    "entra-remove-member-by-value-list": InvalidSyntax,
    "entra-remove-members-empty-list-removes-nothing": InvalidSyntax,
    "entra-replace-displayName": InvalidSyntax,
}


def read_as(case: str, operations: list[dict], dialect: str) -> frozenset[Leniency]:
    """Return the leniencies an IdP case is read with: its IdP's dialect ("own"), `auto`
    recognising the IdP from the body alone (no User-Agent), or `rfc`."""
    if dialect == "auto":
        return leniencies(Dialect.AUTO, patch_body=body(*operations))
    if dialect == "rfc":
        return RFC
    return {"okta": OKTA, "entra": ENTRA, "jumpcloud": RFC}[case.split("-")[0]]


@pytest.mark.parametrize("dialect", ["own", "auto", "rfc"])
@pytest.mark.parametrize(
    ("case", "document", "operations", "expected"), IDP_USER_CASES, ids=ids(IDP_USER_CASES)
)
def test_idp_user_requests(
    case: str, document: dict, operations: list[dict], expected: dict, dialect: str
) -> None:
    """Okta, Entra (default and ``aadOptscim062020``) and JumpCloud User PATCHes as
    docs/ records them, in their IdP's dialect and in `auto`; in `rfc`, those not
    shaped as the RFC writes them get the RFC's error."""
    allowed = read_as(case, operations, dialect)
    if dialect == "rfc" and case in RFC_ANSWERS:
        with pytest.raises(RFC_ANSWERS[case]):
            patch_user(*operations, document=document, allowed=allowed)
        return
    assert patch_user(*operations, document=document, allowed=allowed) == PatchResult(expected, ())


IDP_GROUP_CASES = [
    ("okta-rename-with-id",
     [{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
                                  "displayName": "Tour Leaders"}}],
     {"displayName": "Tour Leaders"}, []),
    ("okta-membership-remove-and-add",
     [{"op": "remove", "path": f'members[value eq "{MANDY}"]'},
      {"op": "add", "path": "members",
       "value": [{"value": BABS, "display": "bjensen@example.com"},
                 {"value": JAMES, "display": "jsmith@example.com"}]}],
     GROUP,
     [MemberChange("remove", value_filter=eq("value", MANDY)),
      MemberChange("add", (member(BABS), member(JAMES)))]),
    ("okta-push-now-replace-members",
     [{"op": "replace", "path": "members",
       "value": [{"value": BABS, "display": "bjensen@example.com"}]}],
     GROUP, [MemberChange("replace", (member(BABS),))]),
    ("entra-add-member-capitalised",
     [{"op": "Add", "path": "members", "value": [{"value": BABS}]}],
     GROUP, [MemberChange("add", (member(BABS),))]),
    ("entra-remove-member-by-value-list",
     [{"op": "Remove", "path": "members", "value": [{"value": BABS}]}],
     GROUP, [MemberChange("remove", (member(BABS),))]),
    ("entra-remove-members-empty-list-removes-nothing",
     [{"op": "Remove", "path": "members", "value": []}],
     GROUP, []),
    ("entra-replace-displayName",
     [{"op": "Replace", "path": "displayName", "value": "Tour Leaders"}],
     {"displayName": "Tour Leaders"}, []),
    ("jumpcloud-repeated-member-add",
     [{"op": "add", "path": "members", "value": [{"value": BABS}]},
      {"op": "add", "path": "members", "value": [{"value": BABS}]}],
     GROUP,
     [MemberChange("add", (member(BABS),)), MemberChange("add", (member(BABS),))]),
]  # fmt: skip


@pytest.mark.parametrize("dialect", ["own", "auto", "rfc"])
@pytest.mark.parametrize(
    ("case", "operations", "document", "changes"), IDP_GROUP_CASES, ids=ids(IDP_GROUP_CASES)
)
def test_idp_group_requests(
    case: str, operations: list[dict], document: dict, changes: list, dialect: str
) -> None:
    """Okta group push (rename, combined remove+add, Push Now), Entra and JumpCloud Group
    PATCHes (docs/); repeated adds are passed on for the storage layer to absorb. In
    `rfc`, those not shaped as the RFC writes them get the RFC's error."""
    allowed = read_as(case, operations, dialect)
    if dialect == "rfc" and case in RFC_ANSWERS:
        with pytest.raises(RFC_ANSWERS[case]):
            patch_group(*operations, allowed=allowed)
        return
    assert patch_group(*operations, allowed=allowed) == PatchResult(document, tuple(changes))


# --- Each leniency alone: allowed where its dialect allows it, the RFC's answer elsewhere ------

LENIENCY_CASES = [
    ("capitalised-op", Leniency.CAPITALISED_OPS, USER,
     [{"op": "Replace", "path": "title", "value": "Guide"}],
     user(title="Guide"), InvalidSyntax),
    ("string-boolean", Leniency.STRING_BOOLEANS, USER,
     [{"op": "replace", "path": "active", "value": "False"}],
     user(active=False), InvalidValue),
    ("bare-string-manager", Leniency.BARE_VALUES, USER,
     [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": NEW_MANAGER}],
     enterprise(manager={"value": NEW_MANAGER}), InvalidValue),
    ("empty-manager-value-clears", Leniency.EMPTY_VALUE_UNASSIGNS, USER,
     [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": ""}}],
     enterprise("manager"), InvalidValue),
    ("empty-manager-sub-attribute-clears", Leniency.EMPTY_VALUE_UNASSIGNS, USER,
     [{"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": ""}],
     enterprise("manager"), InvalidValue),
    # RFC 7644 §3.5.2.3: "no record match was made ... noTarget"
    ("3.5.2.3-filtered-replace-without-match", Leniency.FILTERED_UPSERT, WITHOUT_CONTACTS,
     [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "babs@example.com"}],
     user("addresses", emails=[{"value": "babs@example.com", "type": "work"}]), NoTarget),
    ("3.5.2.1-filtered-add-without-match", Leniency.FILTERED_UPSERT, USER,
     [{"op": "add", "path": 'emails[type eq "home"]', "value": {"value": "babs@jensen.org"}}],
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}]), NoTarget),
    ("remove-by-value-list", Leniency.REMOVE_BY_VALUE,
     user(emails=[WORK_EMAIL, {"value": "babs@jensen.org", "type": "home"}]),
     [{"op": "remove", "path": "emails", "value": [{"value": "babs@jensen.org"}]}],
     USER, InvalidSyntax),
    ("dotted-key-in-no-path-value", Leniency.PATH_KEYS, USER,
     [{"op": "replace", "value": {"name.givenName": "Babs"}}],
     user(name={"familyName": "Jensen", "givenName": "Babs"}), InvalidPath),
    ("urn-qualified-key-in-no-path-value", Leniency.PATH_KEYS, USER,
     [{"op": "replace", "value": {f"{ENTERPRISE}:employeeNumber": "42"}}],
     enterprise(employeeNumber="42"), InvalidPath),
    ("qualified-and-dotted-keys-in-extension-value", Leniency.PATH_KEYS, USER,
     [{"op": "replace", "path": ENTERPRISE, "value": {
         f"{ENTERPRISE}:costCenter": "4130", "manager.value": NEW_MANAGER,
         f"{CORE}:displayName": "ignored: not an attribute of the extension"}}],
     enterprise(costCenter="4130", manager={"value": NEW_MANAGER}), InvalidPath),
    ("read-only-keys-in-no-path-value", Leniency.READ_ONLY_KEYS, USER,
     [{"op": "replace", "value": {"id": BABS, "meta": {"version": 'W/"1"'}, "groups": [],
                                  "displayName": "Babs"}}],
     user(displayName="Babs"), Mutability),
]  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("case", "leniency", "document", "operations", "expected", "error"),
    LENIENCY_CASES,
    ids=ids(LENIENCY_CASES),
)
def test_leniencies_per_dialect(
    case: str,
    leniency: Leniency,
    document: dict,
    operations: list[dict],
    expected: dict,
    error: type[SCIMError],
    dialect: str,
) -> None:
    """Each IdP departure from the RFC is read only in the dialects that allow it (`auto`
    here: a request that shows no sign of an IdP); elsewhere it gets the RFC's error. A
    filtered replace that matches nothing is noTarget (RFC 7644 §3.5.2.3) but in `entra`."""
    allowed = DIALECTS[dialect]
    if leniency in allowed:
        assert patch_user(*operations, document=document, allowed=allowed) == PatchResult(
            expected, ()
        )
        return
    with pytest.raises(error) as raised:
        patch_user(*operations, document=document, allowed=allowed)
    assert type(raised.value) is error


def test_only_entra_and_recognised_entra_create_through_an_unmatched_filter() -> None:
    """The one leniency that changes the answer to a request shaped as the RFC writes it: in
    `auto`, a filtered replace that matches nothing is noTarget unless the request is Entra's
    (here its User-Agent, or a capitalised op beside it)."""
    replace = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@example.com"}
    created = user("addresses", emails=[{"value": "b@example.com", "type": "work"}])
    plain = leniencies(Dialect.AUTO, "python-httpx/0.28", patch_body=body(replace))
    with pytest.raises(NoTarget):
        patch_user(replace, document=WITHOUT_CONTACTS, allowed=plain)
    by_agent = leniencies(
        Dialect.AUTO, "Microsoft Azure AD SCIM provisioning", patch_body=body(replace)
    )
    assert patch_user(replace, document=WITHOUT_CONTACTS, allowed=by_agent).document == created
    title = {"op": "Replace", "path": "title", "value": "Guide"}
    by_shape = leniencies(Dialect.AUTO, patch_body=body(replace, title))
    result = patch_user(replace, title, document=WITHOUT_CONTACTS, allowed=by_shape)
    assert result.document == {**created, "title": "Guide"}


GROUP_LENIENCY_CASES = [
    ("member-as-bare-id", Leniency.BARE_VALUES,
     [{"op": "add", "path": "members", "value": [BABS]}],
     [MemberChange("add", (member(BABS),))], InvalidValue),
    ("member-remove-by-value-list", Leniency.REMOVE_BY_VALUE,
     [{"op": "remove", "path": "members", "value": [{"value": BABS}]}],
     [MemberChange("remove", (member(BABS),))], InvalidSyntax),
    ("okta-rename-with-id", Leniency.READ_ONLY_KEYS,
     [{"op": "replace", "value": {"id": BABS, "displayName": "Tour Leaders"}}],
     [], Mutability),
]  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("case", "leniency", "operations", "changes", "error"),
    GROUP_LENIENCY_CASES,
    ids=ids(GROUP_LENIENCY_CASES),
)
def test_group_leniencies_per_dialect(
    case: str,
    leniency: Leniency,
    operations: list[dict],
    changes: list,
    error: type[SCIMError],
    dialect: str,
) -> None:
    """Member PATCHes that only some dialects read: a bare id, Entra's removal by a value list
    (RFC 7644 §3.5.2.2 defines no `value` for remove: refused, rather than read as "remove
    every member"), Okta's rename carrying `id`."""
    allowed = DIALECTS[dialect]
    if leniency not in allowed:
        with pytest.raises(error):
            patch_group(*operations, allowed=allowed)
        return
    result = patch_group(*operations, allowed=allowed)
    assert result.member_changes == tuple(changes)


# --- Errors (RFC 7644 §3.12 Table 9) -----------------------------------------------------------

OP = {"op": "replace", "path": "displayName", "value": "x"}

BODY_ERRORS = [
    ("3.5.2-body-not-object", [OP], InvalidSyntax, "must be a JSON object"),
    ("3.5.2-schemas-missing", {"Operations": [OP]}, InvalidSyntax, PATCH_OP_URN),
    ("3.5.2-schemas-without-patchop", {"schemas": [CORE], "Operations": [OP]}, InvalidSyntax,
     PATCH_OP_URN),
    ("3.5.2-operations-missing", {"schemas": [PATCH_OP_URN]}, InvalidSyntax,
     "one or more PATCH operations"),
    ("3.5.2-operations-empty", body(), InvalidSyntax, "one or more PATCH operations"),
    ("3.5.2-operations-not-array", {"schemas": [PATCH_OP_URN], "Operations": OP}, InvalidSyntax,
     "one or more PATCH operations"),
    ("3.5.2-operations-twice", {"schemas": [PATCH_OP_URN], "Operations": [OP],
                                "operations": [OP]}, InvalidSyntax, "more than once"),
    ("3.5.2-operation-not-object", body("add"), InvalidSyntax, "'Operations[0]' must be"),
    ("3.5.2-op-missing", body({"path": "displayName", "value": "x"}), InvalidSyntax,
     "'Operations[0].op' must be one of"),
    ("3.5.2-op-unknown", body({"op": "merge", "value": {}}), InvalidSyntax,
     "'Operations[0].op' must be one of"),
    ("3.5.2-op-not-string", body({"op": 1, "value": {}}), InvalidSyntax, "must be one of"),
    ("3.5.2-path-not-string", body({"op": "remove", "path": ["name"]}), InvalidSyntax,
     "'Operations[0].path' must be a string"),
    ("3.5.2.1-add-without-value", body({"op": "add", "path": "nickName"}), InvalidValue,
     "must contain a 'value'"),
    ("3.5.2.3-replace-without-value", body({"op": "Replace", "path": "nickName"}), InvalidValue,
     "must contain a 'value'"),
    ("3.5.2.2-remove-without-path", body({"op": "remove"}), NoTarget, "needs a 'path'"),
    ("3.5.2.2-remove-empty-path", body({"op": "remove", "path": ""}), NoTarget,
     "needs a 'path'"),
    ("3.5.2.1-no-path-value-not-object", body({"op": "add", "value": "Babs"}), InvalidValue,
     "needs a JSON object"),
    ("3.5.2.3-no-path-value-null", body({"op": "replace", "value": None}), InvalidValue,
     "needs a JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "request_body", "error", "detail"), BODY_ERRORS, ids=ids(BODY_ERRORS)
)
def test_body_errors(case: str, request_body: object, error: type, detail: str) -> None:
    """A body that is not a PatchOp message is invalidSyntax: RFC 7644 §3.12 "The request body
    message structure was invalid or did not conform to the request schema"; an add or replace
    without `value` is invalidValue ("A required value was missing"); a remove without `path` is
    noTarget (§3.5.2.2). Read in the most lenient dialect, `entra`."""
    with pytest.raises(error) as raised:
        apply_patch(USER_RESOURCE_TYPE, USER, request_body, leniencies=ENTRA)
    assert type(raised.value) is error
    assert detail in raised.value.detail


USER_ERRORS = [
    # Paths (RFC 7644 §3.12: invalidPath, invalidFilter for path filters)
    ("unknown-attribute", {"op": "replace", "path": "nickname2", "value": "x"}, InvalidPath,
     "Unknown attribute 'nickname2'"),
    ("unknown-sub-attribute", {"op": "replace", "path": "name.nick", "value": "x"}, InvalidPath,
     "Unknown attribute 'name.nick'"),
    ("unknown-filtered-sub-attribute",
     {"op": "replace", "path": 'emails[type eq "work"].nick', "value": "x"}, InvalidPath,
     "Unknown attribute 'emails.nick'"),
    ("sub-attribute-of-simple-attribute", {"op": "remove", "path": "userName.value"},
     InvalidPath, "'userName' is not complex"),
    ("filter-on-singular-attribute", {"op": "remove", "path": 'name[givenName eq "x"]'},
     InvalidPath, "takes no filter"),
    ("unknown-schema-urn",
     {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:acme:2.0:User:x",
      "value": "x"}, InvalidPath, "Unknown attribute"),
    ("unknown-extension-attribute", {"op": "replace", "path": f"{ENTERPRISE}:userName",
                                     "value": "x"}, InvalidPath, "Unknown attribute"),
    ("core-schema-as-path", {"op": "replace", "path": CORE, "value": {}}, InvalidPath,
     "names the core schema"),
    ("malformed-path", {"op": "remove", "path": "emails]"}, InvalidPath, "unexpected ']'"),
    ("malformed-filter", {"op": "remove", "path": 'emails[type xx "work"]'}, InvalidFilter,
     "expected a comparison operator"),
    ("filter-unknown-sub-attribute", {"op": "remove", "path": 'emails[kind eq "work"]'},
     InvalidFilter, "'kind' is not a sub-attribute of 'emails'"),
    ("filter-boolean-compared-with-string", {"op": "remove", "path": 'emails[primary eq "yes"]'},
     InvalidFilter, "'primary' is a boolean"),
    ("filter-string-compared-with-number", {"op": "remove", "path": "emails[type eq 1]"},
     InvalidFilter, "'type' is a string"),
    ("filter-binary-ordering", {"op": "remove", "path": 'x509Certificates[value gt "M"]'},
     InvalidFilter, "does not apply to binary"),
    # Mutability (RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability
    # "readOnly"")
    ("read-only-id", {"op": "replace", "path": "id", "value": BABS}, Mutability,
     "'id' is read-only"),
    ("read-only-meta", {"op": "remove", "path": "meta"}, Mutability, "'meta' is read-only"),
    ("read-only-meta-sub-attribute", {"op": "replace", "path": "meta.lastModified",
                                      "value": "2024-01-01T00:00:00Z"}, Mutability,
     "'meta.lastModified' is read-only"),
    ("read-only-groups", {"op": "add", "path": "groups", "value": [{"value": BABS}]},
     Mutability, "'groups' is read-only"),
    ("read-only-manager-displayName",
     {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "John"},
     Mutability, "manager.displayName' is read-only"),
    ("schemas-attribute", {"op": "replace", "path": "schemas", "value": [CORE]}, Mutability,
     "'schemas'"),
    # RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a
    # required attribute ... "mutability"."
    ("3.5.2.2-remove-required-userName", {"op": "remove", "path": "userName"}, Mutability,
     "'userName' is required"),
    ("3.5.2.2-replace-required-with-null", {"op": "replace", "path": "userName", "value": None},
     Mutability, "'userName' is required"),
    # noTarget (RFC 7644 §3.5.2.3: a value filter that matches no record)
    ("3.5.2.3-replace-filter-without-match",
     {"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "a@b.c"}},
     NoTarget, "No value of 'emails' matches"),
    ("3.5.2.3-replace-sub-attribute-filter-not-eq",
     {"op": "replace", "path": 'emails[value co "jensen.org"].value', "value": "a@b.c"},
     NoTarget, "No value of 'emails' matches"),
    ("3.5.2.3-replace-sub-attribute-filter-or",
     {"op": "replace", "path": 'emails[type eq "home" or type eq "other"].value',
      "value": "a@b.c"}, NoTarget, "No value of 'emails' matches"),
    ("3.5.2.1-add-filter-contradictory-eqs",
     {"op": "add", "path": 'emails[type eq "home" and type eq "other"].value', "value": "a@b.c"},
     NoTarget, "No value of 'emails' matches"),
    # Values (RFC 7644 §3.12 invalidValue), read as a POST would read them
    ("boolean-not-boolean", {"op": "replace", "path": "active", "value": "maybe"}, InvalidValue,
     "'active' must be a boolean"),
    ("string-not-string", {"op": "replace", "path": "displayName", "value": 7}, InvalidValue,
     "'displayName' must be a string"),
    ("multi-valued-not-objects", {"op": "add", "path": "emails", "value": [7]}, InvalidValue,
     "must be a JSON object"),
    ("complex-not-object", {"op": "replace", "path": "name", "value": "Babs"}, InvalidValue,
     "'name' must be a JSON object"),
    ("sub-attribute-wrong-type", {"op": "replace", "path": 'emails[type eq "work"].primary',
                                  "value": "yes"}, InvalidValue, "must be a boolean"),
    ("binary-not-base64", {"op": "add", "path": "x509Certificates", "value": [{"value": "%%"}]},
     InvalidValue, "base64"),
    ("7643-2.4-two-primaries-in-one-add",
     {"op": "add", "path": "emails", "value": [{"value": "a@b.c", "primary": True},
                                               {"value": "d@e.f", "primary": True}]},
     InvalidValue, "more than one primary"),
    ("7643-2.4-two-primaries-by-filter",
     {"op": "replace", "path": 'addresses[locality eq "Hollywood"].primary', "value": True},
     InvalidValue, "more than one primary"),
    ("filtered-replace-with-array",
     {"op": "replace", "path": 'emails[type eq "work"]', "value": [{"value": "a@b.c"}]},
     InvalidValue, "give one JSON object"),
    ("required-emptied", {"op": "replace", "path": "userName", "value": ""}, InvalidValue,
     "'userName' is required and must not be empty"),
    ("password-not-string", {"op": "replace", "path": "password", "value": 1234}, InvalidValue,
     "'password' must be a string"),
    ("whole-extension-not-object", {"op": "replace", "path": ENTERPRISE, "value": "x"},
     InvalidValue, "needs a JSON object"),
    ("no-path-key-with-unknown-filter-attribute",
     {"op": "replace", "value": {'emails[kind eq "work"].value': "a@b.c"}}, InvalidFilter,
     "'kind' is not a sub-attribute of 'emails'"),
    ("no-path-duplicate-key", {"op": "replace", "value": {"nickName": "a", "NICKNAME": "b"}},
     InvalidSyntax, "appears more than once"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "operation", "error", "detail"), USER_ERRORS, ids=ids(USER_ERRORS)
)
def test_user_errors(case: str, operation: dict, error: type, detail: str) -> None:
    """Each error rule with its RFC 7644 §3.12 scimType: unknown or malformed paths are
    invalidPath (invalidFilter inside ``[...]``), read-only and required targets mutability,
    an unmatched value filter noTarget, and values a POST would refuse invalidValue. Read in
    the most lenient dialect, `entra`: no leniency turns these into successes."""
    with pytest.raises(error) as raised:
        patch_user(operation, allowed=ENTRA)
    assert type(raised.value) is error
    assert detail in raised.value.detail


GROUP_ERRORS = [
    ("member-display-read-only",
     {"op": "replace", "path": f'members[value eq "{BABS}"].display', "value": "Babs"},
     Mutability, "'members[...].display' is read-only"),
    ("member-value-immutable",
     {"op": "replace", "path": f'members[value eq "{BABS}"].value', "value": JAMES},
     Mutability, "cannot be modified"),
    ("member-type-immutable", {"op": "replace", "path": "members.type", "value": "Group"},
     Mutability, "'members.type' cannot be modified"),
    ("member-sub-attribute-remove", {"op": "remove", "path": "members.value"}, Mutability,
     "cannot be modified"),
    ("member-without-value", {"op": "add", "path": "members", "value": [{"type": "User"}]},
     InvalidValue, "needs 'value'"),
    ("member-empty-value", {"op": "add", "path": "members", "value": [{"value": ""}]},
     InvalidValue, "needs 'value'"),
    ("member-filter-on-display",
     {"op": "remove", "path": 'members[display eq "Babs"]'}, InvalidFilter,
     "may compare 'value' and 'type'"),
    ("member-add-through-filter",
     {"op": "add", "path": f'members[value eq "{BABS}"]', "value": {"value": BABS}},
     InvalidPath, "not a filter"),
    ("3.5.2.2-remove-required-displayName", {"op": "remove", "path": "displayName"}, Mutability,
     "'displayName' is required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "operation", "error", "detail"), GROUP_ERRORS, ids=ids(GROUP_ERRORS)
)
def test_group_errors(case: str, operation: dict, error: type, detail: str) -> None:
    """A member is replaced whole: its value, type and $ref are immutable and display is
    read-only (RFC 7643 §4.2), so sub-attribute paths are mutability; a group keeps its
    required displayName (RFC 7644 §3.5.2.2). Read in the most lenient dialect, `entra`."""
    with pytest.raises(error) as raised:
        patch_group(operation, allowed=ENTRA)
    assert type(raised.value) is error
    assert detail in raised.value.detail


# --- Atomicity, immutability and the unchanged result ------------------------------------------


def test_failed_operation_aborts_the_whole_patch() -> None:
    """RFC 7644 §3.5.2: "A patch request, regardless of the number of operations, SHALL be
    treated as atomic": the first failure raises, and the stored document is untouched."""
    stored = copy.deepcopy(USER)
    with pytest.raises(NoTarget):
        patch_user(
            {"op": "replace", "path": "displayName", "value": "Barbara"},
            {"op": "remove", "path": "emails.display"},
            {"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "a@b.c"}},
        )
    assert stored == USER


def test_input_document_is_not_modified() -> None:
    """The result is a new object: the caller's document stays as stored (RFC 7644 §3.5.2)."""
    stored = copy.deepcopy(USER)
    result = patch_user(
        {"op": "remove", "path": 'addresses[type eq "work"].region'},
        {"op": "add", "path": "name.middleName", "value": "Jane"},
        {"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": NEW_MANAGER},
    )
    assert stored == USER
    assert result.document != USER


def test_no_op_patch_returns_an_equal_document() -> None:
    """RFC 7644 §3.5.2.1: "If the target location already contains the value specified, no
    changes SHOULD be made to the resource ... this operation SHALL NOT change the modify
    timestamp": the caller sees a document equal to the input and no member changes."""
    result = patch_user(
        {"op": "replace", "path": "displayName", "value": "Babs Jensen"},
        {"op": "add", "path": "emails", "value": [WORK_EMAIL]},
        {"op": "replace", "value": {"active": True}},
    )
    assert result == PatchResult(USER, ())


BADGE = ResourceType(
    "Badge",
    "/Badges",
    "A resource with immutable attributes",
    Schema(
        "urn:example:params:scim:schemas:core:2.0:Badge",
        "Badge",
        "Badge",
        (
            Attribute("label", required=True),
            Attribute("serial", mutability=Mut.IMMUTABLE),
            Attribute(
                "holder",
                Type.COMPLEX,
                sub_attributes=(
                    Attribute("value", mutability=Mut.IMMUTABLE),
                    Attribute("note"),
                ),
            ),
        ),
    ),
)

IMMUTABLE_CASES = [
    ("set-when-unassigned", {"label": "a"},
     {"op": "add", "path": "serial", "value": "S1"}, {"label": "a", "serial": "S1"}),
    ("same-value", {"label": "a", "serial": "S1"},
     {"op": "replace", "path": "serial", "value": "S1"}, {"label": "a", "serial": "S1"}),
    ("sub-attribute-set-when-unassigned", {"label": "a", "holder": {"note": "n"}},
     {"op": "add", "path": "holder.value", "value": "h"},
     {"label": "a", "holder": {"value": "h", "note": "n"}}),
    ("other-sub-attribute-of-set-complex", {"label": "a", "holder": {"value": "h"}},
     {"op": "replace", "path": "holder", "value": {"note": "n"}},
     {"label": "a", "holder": {"value": "h", "note": "n"}}),
    ("changed", {"label": "a", "serial": "S1"},
     {"op": "replace", "path": "serial", "value": "S2"}, Mutability),
    ("removed", {"label": "a", "serial": "S1"},
     {"op": "remove", "path": "serial"}, Mutability),
    ("sub-attribute-changed", {"label": "a", "holder": {"value": "h"}},
     {"op": "replace", "path": "holder", "value": {"value": "k"}}, Mutability),
    ("sub-attribute-removed-with-parent", {"label": "a", "holder": {"value": "h"}},
     {"op": "remove", "path": "holder"}, Mutability),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "document", "operation", "expected"), IMMUTABLE_CASES, ids=ids(IMMUTABLE_CASES)
)
def test_immutable_attributes(
    case: str, document: dict, operation: dict, expected: dict | type[SCIMError]
) -> None:
    """RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability ...
    "immutable". However, a client MAY "add" a value to an "immutable" attribute if the
    attribute had no previous value." A change is mutability."""
    if isinstance(expected, dict):
        assert apply_patch(BADGE, document, body(operation)) == PatchResult(expected, ())
        return
    with pytest.raises(expected):
        apply_patch(BADGE, document, body(operation))


def test_schemas_and_names_case_insensitive() -> None:
    """RFC 7643 §2.1: attribute names, including the message's `schemas` and `Operations`, are
    case-insensitive; so is the PatchOp URN."""
    request = {
        "SCHEMAS": [PATCH_OP_URN.upper()],
        "operations": [{"OP": "replace", "Path": "displayName", "Value": "Barbara"}],
    }
    result = apply_patch(USER_RESOURCE_TYPE, USER, request)
    assert result == PatchResult(user(displayName="Barbara"), ())
