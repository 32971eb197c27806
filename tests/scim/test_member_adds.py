"""The shortcut that reads the PATCH bodies IdPs send to add group members
(`provisioning.scim.patch._member_adds`): it must answer exactly as the general reader does,
result and error alike, on any body, and be taken for the IdPs' own shapes."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.scim.dialect import ALLOWED, Leniency
from provisioning.scim.errors import SCIMError
from provisioning.scim.patch import (
    PATCH_OP_URN,
    MemberChange,
    PatchResult,
    _apply_operations,
    _member_adds,
    apply_patch,
)
from provisioning.scim.schema import GROUP_RESOURCE_TYPE, GROUP_SCHEMA_URN

GROUP = {"schemas": [GROUP_SCHEMA_URN], "displayName": "Tour Guides", "externalId": "tg"}
ROWS = GROUP_RESOURCE_TYPE.row_attributes
BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"


def outcome(read, body, leniencies):
    """Return what `read` makes of `body` (its result, or its error's class and detail), and
    check that it left the stored document as it was."""
    document = copy.deepcopy(GROUP)
    try:
        found = read(
            GROUP_RESOURCE_TYPE, document, body, row_attributes=ROWS, leniencies=leniencies
        )
    except SCIMError as error:
        found = (type(error), error.detail)
    assert document == GROUP
    return found


def general(resource_type, document, body, *, row_attributes, leniencies):
    return _apply_operations(resource_type, document, body, row_attributes, leniencies)


# Bodies of the shape, most of the time, with now and then one part of them otherwise: a name
# in another case, missing, doubled or beside another; a value of another JSON kind; member
# ids repeated, empty, with a NUL, a lone surrogate.


def mostly(usual, *others):
    """Draw from `usual` about nine times in ten, else from one of `others`."""
    return st.integers(0, 9).flatmap(lambda i: st.one_of(*others) if i == 9 else usual)


json_values = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.just([])
texts = mostly(
    st.sampled_from([BABS, JAMES, "Babs", "User", "Group"]),
    st.uuids().map(str) | st.sampled_from(["", "a\x00b", "\ud800", "x" * 300]) | st.text(),
)
member_keys = st.sampled_from(["value", "display", "type", "$ref", "Value", "primary", "x"])
members = mostly(
    st.fixed_dictionaries({"value": texts}, optional={"display": texts, "type": texts}),
    st.dictionaries(member_keys, texts | json_values, max_size=4),
    json_values | texts,
)
member_lists = mostly(st.lists(members, max_size=4), json_values | members)


def with_another(names: list[str], values):
    """Objects with one member more, named as one of `names` or otherwise."""
    return st.tuples(values, st.sampled_from(names), json_values).map(
        lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
    )


operation = st.fixed_dictionaries(
    {
        "op": mostly(st.just("add"), st.sampled_from(["Add", "ADD", "remove"])),
        "path": mostly(st.just("members"), st.sampled_from(["Members", "displayName"])),
        "value": member_lists,
    }
)
operations = mostly(
    operation,
    with_another(["Op", "PATH", "extra"], operation),
    st.fixed_dictionaries(
        {},
        optional={
            "op": st.just("add") | json_values,
            "path": st.just("members") | json_values,
            "value": member_lists,
        },
    ),
    json_values,
)
body = st.fixed_dictionaries(
    {
        "schemas": mostly(
            st.just([PATCH_OP_URN]),
            st.sampled_from([[PATCH_OP_URN.upper()], [], [PATCH_OP_URN, "x"]]) | json_values,
        ),
        "Operations": mostly(st.lists(operations, min_size=1, max_size=3), json_values),
    }
)
bodies = mostly(body, with_another(["operations", "Schemas", "extra"], body), json_values)
leniency_sets = st.sampled_from(list(ALLOWED.values())) | st.frozensets(st.sampled_from(Leniency))


@settings(max_examples=400)
@given(body=bodies, leniencies=leniency_sets)
def test_the_shortcut_answers_as_the_general_reader(body, leniencies) -> None:
    """Whatever the body: the same member changes, the same document, the same error."""
    assert outcome(apply_patch, body, leniencies) == outcome(general, body, leniencies)


def adds(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


IDP_SHAPES = [
    ("rfc", ALLOWED["rfc"],
     adds({"op": "add", "path": "members", "value": [{"value": BABS}]}),
     (MemberChange("add", ({"value": BABS},)),)),
    ("okta-with-display", ALLOWED["okta"],
     adds({"op": "add", "path": "members",
           "value": [{"value": BABS, "display": "Babs"}, {"value": JAMES, "display": "James"}]}),
     (MemberChange("add", ({"value": BABS}, {"value": JAMES})),)),
    ("entra-capitalised", ALLOWED["entra"],
     adds({"op": "Add", "path": "members", "value": [{"value": BABS}]}),
     (MemberChange("add", ({"value": BABS},)),)),
    ("typed-repeated-in-two-operations", ALLOWED["rfc"],
     adds({"op": "add", "path": "members", "value": [{"value": BABS, "type": "User"}]},
          {"op": "add", "path": "members", "value": [{"value": BABS}, {"value": BABS}]}),
     (MemberChange("add", ({"value": BABS, "type": "User"},)),
      MemberChange("add", ({"value": BABS},)))),
    ("empty-list", ALLOWED["rfc"],
     adds({"op": "add", "path": "members", "value": []}),
     ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "leniencies", "body", "changes"), IDP_SHAPES, ids=[c[0] for c in IDP_SHAPES]
)
def test_the_idps_member_adds_take_the_shortcut(case, leniencies, body, changes) -> None:
    """RFC 7644 §3.5.2.1's member add, Okta's with `display`, Entra's `Add`: read by the
    shortcut, with the general reader's result."""
    assert _member_adds(GROUP_RESOURCE_TYPE, body, ROWS, leniencies) == changes
    assert outcome(general, body, leniencies) == PatchResult(GROUP, changes)


def test_entras_capitalised_add_is_the_general_readers_error_under_rfc() -> None:
    """`Add` without Entra's leniency: no shortcut, and the RFC's invalidSyntax."""
    body = adds({"op": "Add", "path": "members", "value": [{"value": BABS}]})
    assert _member_adds(GROUP_RESOURCE_TYPE, body, ROWS, ALLOWED["rfc"]) is None
    error, _ = outcome(apply_patch, body, ALLOWED["rfc"])
    assert error.scim_type == "invalidSyntax"


def add_values(*values) -> dict:
    return adds({"op": "add", "path": "members", "value": list(values)})


NEAR_MISSES = [
    ("empty-value", ALLOWED["entra"], add_values({"value": ""})),
    ("nul-in-value", ALLOWED["rfc"], add_values({"value": "a\x00b"})),
    ("lone-surrogate-in-display", ALLOWED["okta"], add_values({"value": BABS, "display": "\ud800"})),
    ("display-not-a-string", ALLOWED["okta"], add_values({"value": BABS, "display": 7})),
    ("no-value", ALLOWED["rfc"], add_values({"display": "Babs"})),
    ("ref", ALLOWED["rfc"], add_values({"value": BABS, "$ref": f"https://x/Users/{BABS}"})),
    ("value-capitalised", ALLOWED["rfc"], add_values({"Value": BABS})),
    ("bare-id", ALLOWED["entra"], add_values(BABS)),
    ("repeated-typed-first", ALLOWED["rfc"],
     add_values({"value": BABS, "type": "User"}, {"value": BABS, "type": "Group"})),
    ("members-capitalised", ALLOWED["rfc"],
     adds({"op": "add", "path": "Members", "value": [{"value": BABS}]})),
    ("another-schema-too", ALLOWED["rfc"],
     {"schemas": [PATCH_OP_URN, GROUP_SCHEMA_URN], "Operations": add_values()["Operations"]}),
    ("op-twice", ALLOWED["entra"],
     adds({"op": "add", "Op": "add", "path": "members"})),
    ("no-operations", ALLOWED["rfc"], {"schemas": [PATCH_OP_URN], "Operations": []}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "leniencies", "body"), NEAR_MISSES, ids=[c[0] for c in NEAR_MISSES]
)
def test_near_misses_answer_as_the_general_reader(case, leniencies, body) -> None:
    """A body one step from the shape: whichever reader reads it, the general reader's
    answer (the first of repeated members kept, an error where it gives one)."""
    assert outcome(apply_patch, body, leniencies) == outcome(general, body, leniencies)
