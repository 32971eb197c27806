"""The cheaper readers of a Bulk's operations answer exactly as the plain ones they replaced:
each plain reader is kept here as the reference, and any body, drawn at random, must get the
same result or the same error from both. The readers: `parse_bulk_request` (one reference
check for the request, each path read once), `parse_id` (a regex rather than `uuid.UUID`),
`dialect._entra_patch` and `bulk._adds_members_only` (a body spelt as the RFC spells it read
as it is)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.bulk import _adds_members_only
from provisioning.scim import dialect
from provisioning.scim.bulk import (
    BULK_REQUEST_URN,
    METHODS,
    REFERENCE_PREFIX,
    Operation,
    parse_bulk_request,
)
from provisioning.scim.errors import InvalidSyntax, InvalidValue, PayloadTooLarge, SCIMError
from provisioning.scim.patch import PATCH_OP_URN, object_members
from provisioning.scim.resource import parse_id

from .test_member_adds import BABS, bodies, json_values, mostly

ENDPOINTS = ("/Users", "/Groups")

# --- The plain readers, as they were -------------------------------------------------------


def plain_parse_id(text: Any) -> uuid.UUID | None:
    if not isinstance(text, str) or len(text) != 36:
        return None
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return parsed if str(parsed) == text else None


def plain_parse_bulk_request(body: Any, max_operations: int) -> tuple:
    """The reader before, returning what the test compares: the operations' fields,
    failOnErrors and the definers' bulkIds."""
    if type(body) is not dict:
        raise InvalidSyntax("The request body must be a JSON object.")
    members = object_members(body, "the request body")
    schemas = members.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST_URN.lower() not in (
        s.lower() for s in schemas if isinstance(s, str)
    ):
        raise InvalidSyntax(f"'schemas' must be a list that includes '{BULK_REQUEST_URN}'.")
    items = members.get("operations")
    if not isinstance(items, list):
        raise InvalidSyntax("'Operations' must be an array of operations.")
    if len(items) > max_operations:
        raise PayloadTooLarge(
            f"The bulk request holds {len(items)} operations; maxOperations is {max_operations}."
        )
    fail_on_errors = members.get("failonerrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int)
        or isinstance(fail_on_errors, bool)
        or fail_on_errors < 1
    ):
        raise InvalidValue("'failOnErrors' must be an integer of 1 or more.")
    operations = [plain_read_operation(item, i) for i, item in enumerate(items)]
    definers, seen = [], set()
    for operation in operations:
        bulk_id = operation[4]
        if bulk_id is None:
            continue
        if bulk_id in seen:
            raise InvalidValue(f"bulkId '{bulk_id}' is used by more than one operation.")
        seen.add(bulk_id)
        if operation[1] == "POST":
            definers.append(bulk_id)
    return operations, fail_on_errors, definers


def plain_read_operation(item: Any, index: int) -> tuple:
    where = f"Operations[{index}]"
    if type(item) is not dict:
        raise InvalidSyntax(f"'{where}' must be a JSON object.")
    members = object_members(item, where)
    method = members.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidSyntax(f"'{where}.method' must be one of {', '.join(METHODS)}.")
    method = method.upper()
    for name in ("bulkId", "version", "path"):
        value = members.get(name.lower())
        if value is not None and not isinstance(value, str):
            raise InvalidSyntax(f"'{where}.{name}' must be a string.")
    bulk_id = members.get("bulkid")
    if bulk_id is not None and not bulk_id:
        raise InvalidValue(f"'{where}.bulkId' must not be empty.")
    if method == "POST" and bulk_id is None:
        raise InvalidSyntax(f"'{where}.bulkId' is required with POST (RFC 7644 §3.7).")
    endpoint, resource_id = plain_read_path(members.get("path"), method, where)
    data = members.get("data")
    if method != "DELETE" and type(data) is not dict:
        raise InvalidSyntax(f"'{where}.data' must be a JSON object with {method}.")
    references = set(plain_references(data))
    if resource_id is not None and resource_id.startswith(REFERENCE_PREFIX):
        references.add(resource_id.removeprefix(REFERENCE_PREFIX))
    data = data if method != "DELETE" else None
    version = members.get("version")
    return (index, method, endpoint, resource_id, bulk_id, version, data, frozenset(references))


def plain_read_path(path: Any, method: str, where: str):
    if not isinstance(path, str):
        raise InvalidSyntax(f"'{where}.path' is required: a resource type endpoint or resource.")
    parts = path.strip("/").split("/")
    endpoint = f"/{parts[0]}"
    if endpoint not in ENDPOINTS or len(parts) > 2:
        raise InvalidValue(
            f"'{where}.path' must be one of {', '.join(ENDPOINTS)}, or a resource under one."
        )
    if method == "POST":
        if len(parts) != 1:
            raise InvalidValue(f"'{where}.path' of a POST must be a resource type endpoint.")
        return endpoint, None
    if len(parts) != 2 or not parts[1]:
        raise InvalidValue(f"'{where}.path' of a {method} must name one resource.")
    return endpoint, parts[1]


def plain_references(value: Any):
    """Every string of `value` that is a reference, by a full walk (no orjson shortcut)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if type(value) is str:
            if value.startswith(REFERENCE_PREFIX):
                yield value.removeprefix(REFERENCE_PREFIX)
        elif type(value) is dict:
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)


def plain_members(obj: Any) -> dict[str, Any]:
    members: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if isinstance(key, str):
                members.setdefault(key.lower(), value)
    return members


def plain_entra_patch(body: Any) -> bool:
    operations = plain_members(body).get("operations")
    if not isinstance(operations, list):
        return False
    for operation in operations:
        members = plain_members(operation)
        op = members.get("op")
        if isinstance(op, str) and op.lower() in ("add", "remove", "replace") and op != op.lower():
            return True
        value, path = members.get("value"), members.get("path")
        if dialect._string_boolean(value) and dialect._names_boolean(path):
            return True
        if op == "remove" and value is not None:
            return True
        if path is None and isinstance(value, Mapping):
            for key, member in value.items():
                if (dialect._string_boolean(member) and dialect._names_boolean(key)) or (
                    dialect._is_path_key(key)
                ):
                    return True
    return False


def plain_adds_members_only(data) -> bool:
    if type(data) is not dict:
        return False
    operations = next((v for k, v in data.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        return False
    for item in operations:
        if type(item) is not dict:
            return False
        op, path = item.get("op"), item.get("path")
        if type(op) is not str or op.lower() != "add":
            return False
        if type(path) is not str or path.lower() != "members":
            return False
    return True


# --- Drawn bodies ----------------------------------------------------------------------------


def outcome(read, *args):
    try:
        return read(*args)
    except SCIMError as error:
        return (type(error), error.status, error.scim_type, error.detail)


def fields(operation: Operation) -> tuple:
    return (
        operation.index,
        operation.method,
        operation.endpoint,
        operation.resource_id,
        operation.bulk_id,
        operation.version,
        operation.data,
        operation.references,
    )


def new_parse(body, max_operations):
    parsed = parse_bulk_request(body, endpoints=ENDPOINTS, max_operations=max_operations)
    for bulk_id, definer in parsed.definers.items():
        assert definer.bulk_id == bulk_id and definer.method == "POST"
    return [fields(op) for op in parsed.operations], parsed.fail_on_errors, list(parsed.definers)


ids = st.sampled_from(["a", "b", "c", ""])
references = ids.map(lambda i: f"{REFERENCE_PREFIX}{i}")
strings = mostly(st.sampled_from([BABS, "x"]) | references, json_values, st.text(max_size=6))
documents = st.recursive(
    strings | json_values | st.just(2**70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
datas = mostly(st.dictionaries(st.sampled_from(["members", "userName", "x"]), documents), documents)
paths = mostly(
    st.sampled_from(["/Users", "/Groups", f"/Groups/{BABS}", "/Groups/bulkId:a", "Users/"]),
    st.sampled_from(["/Groups/x/y", "/Nope", "/Groups/", "", "/"]) | json_values,
)
methods = mostly(
    st.sampled_from(["POST", "PATCH", "PUT", "DELETE"]),
    st.sampled_from(["post", "Patch", "GET", ""]) | json_values,
)
operation_names = st.sampled_from(["method", "path", "bulkId", "version", "data"])
operation = st.fixed_dictionaries(
    {
        "method": methods,
        "path": paths,
        "bulkId": mostly(st.text("abcdefgh", min_size=1, max_size=3), json_values),
        "data": datas,
    },
    optional={"version": mostly(st.just('W/"1"'), json_values)},
)
operations = mostly(
    operation,
    st.tuples(operation, operation_names).map(
        lambda drawn: {name: value for name, value in drawn[0].items() if name != drawn[1]}
    ),
    st.dictionaries(
        operation_names | st.sampled_from(["Method", "PATH", "BulkId"]), paths | datas, max_size=4
    ),
    json_values,
)
bulk_bodies = mostly(
    st.fixed_dictionaries(
        {
            "schemas": mostly(st.just([BULK_REQUEST_URN]), json_values),
            "Operations": st.lists(operations, min_size=1, max_size=6),
        },
        optional={"failOnErrors": st.integers(-1, 3) | json_values},
    ),
    json_values,
)


@settings(max_examples=400)
@given(body=bulk_bodies, max_operations=st.integers(3, 6))
def test_parse_bulk_request_answers_as_the_plain_reader(body, max_operations) -> None:
    assert outcome(new_parse, body, max_operations) == outcome(
        plain_parse_bulk_request, body, max_operations
    )


def test_a_path_read_for_one_method_is_read_again_for_another() -> None:
    """The paths already read are kept by whether the method is POST: the same path is a
    POST's endpoint and no PATCH's resource, and the other way round."""
    patch = {"schemas": [PATCH_OP_URN], "Operations": []}
    body = {
        "schemas": [BULK_REQUEST_URN],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {}},
            {"method": "PATCH", "path": "/Groups", "data": patch},
        ],
    }
    error = outcome(new_parse, body, 10)
    assert error[0] is InvalidValue and error[3] == (
        "'Operations[1].path' of a PATCH must name one resource."
    )
    body["Operations"] = [
        {"method": "PATCH", "path": f"/Groups/{BABS}", "data": patch},
        {"method": "POST", "path": f"/Groups/{BABS}", "bulkId": "a", "data": {}},
    ]
    error = outcome(new_parse, body, 10)
    assert error[0] is InvalidValue and error[3] == (
        "'Operations[1].path' of a POST must be a resource type endpoint."
    )


def test_one_reference_among_many_operations_is_found() -> None:
    """The request is looked at once for references; the one operation holding one still
    gets it, the others none."""
    body = {
        "schemas": [BULK_REQUEST_URN],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": f"u{i}"}}
            for i in range(50)
        ],
    }
    body["Operations"][30]["data"]["manager"] = {"value": "bulkId:u7"}
    parsed = parse_bulk_request(body, endpoints=ENDPOINTS, max_operations=100)
    assert [op.index for op in parsed.operations if op.references] == [30]
    assert parsed.operations[30].references == {"u7"}


canonical = st.uuids().map(str)
id_texts = mostly(
    canonical,
    canonical.map(str.upper),
    canonical.map(lambda t: "{" + t + "}"),
    canonical.map(lambda t: "urn:uuid:" + t),
    canonical.map(lambda t: t.replace("-", "")),
    canonical.map(lambda t: t[:8] + t[9:13] + "-" + t[8] + t[13:]),  # a hyphen moved
    canonical.map(lambda t: t[:-1] + "\n"),
    canonical.map(lambda t: t[:-1] + "\u0661"),  # ARABIC-INDIC DIGIT ONE: int() takes it
    st.text(alphabet="0123456789abcdefABCDEF-{}", min_size=32, max_size=45),
    json_values,
)


@settings(max_examples=400)
@given(text=id_texts)
def test_parse_id_answers_as_uuid_and_back(text) -> None:
    """RFC 7643 §3.1: ids are caseExact; only the spelling the server issues names one."""
    assert parse_id(text) == plain_parse_id(text)


def test_an_upper_cased_id_names_nothing() -> None:
    assert parse_id(BABS) == uuid.UUID(BABS)
    assert parse_id(BABS.upper()) is None


def with_other_names(objects):
    """Objects with one name more, first, which may differ from one of theirs in case only."""
    names = st.sampled_from(["OP", "Path", "Value", "op"])
    values = st.sampled_from(["Add", "Remove", "add", "True", "active"]) | json_values
    return st.tuples(objects, names, values).map(lambda drawn: {drawn[1]: drawn[2], **drawn[0]})


patch_values = st.sampled_from(["True", "false", "x"]) | json_values
patch_ops = st.fixed_dictionaries(
    {},
    optional={
        "op": st.sampled_from(["add", "Add", "remove", "Remove", "replace", "REPLACE", "x"]),
        "path": st.sampled_from(["members", "Members", "active", 'emails[type eq "work"].primary'])
        | json_values,
        "value": patch_values
        | st.dictionaries(
            st.sampled_from(["active", "name.givenName", "x", "urn:a:2.0:User:b.c"]), patch_values
        ),
    },
)
member_add = st.fixed_dictionaries(
    {"op": st.just("add"), "path": st.just("members"), "value": st.just([{"value": BABS}])}
)
patch_operations = (
    st.lists(member_add | patch_ops | with_other_names(patch_ops) | json_values, max_size=3)
    | json_values
)
spelt = st.fixed_dictionaries(
    {"schemas": st.just([PATCH_OP_URN])}, optional={"Operations": patch_operations}
)
spelt_bodies = st.one_of(
    spelt,
    # A name that differs from `Operations` in case only, first or last.
    st.tuples(spelt, st.sampled_from(["operations", "OPERATIONS"]), patch_operations).map(
        lambda drawn: {drawn[1]: drawn[2], **drawn[0]}
    ),
    st.tuples(spelt, st.sampled_from(["operations", "extra"]), patch_operations).map(
        lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
    ),
    bodies,
)


@settings(max_examples=400)
@given(body=spelt_bodies)
def test_the_dialects_reading_of_a_patch_body_is_the_plain_one(body) -> None:
    assert dialect._entra_patch(body) == plain_entra_patch(body)


@settings(max_examples=400)
@given(body=spelt_bodies)
def test_the_member_add_hint_is_the_plain_one(body) -> None:
    assert _adds_members_only(body) == plain_adds_members_only(body)


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": [{"op": "Add", "path": "members", "value": []}]},
        {"Operations": [{"op": "remove", "path": "members", "value": [{"value": BABS}]}]},
        {"Operations": [{"Op": "Replace", "path": "active", "value": "True"}]},
        {"Operations": [{"op": "replace", "value": {"active": "False"}}]},
    ],
)
def test_entras_signs_are_seen_in_a_body_spelt_as_the_rfc_spells_it(body) -> None:
    assert dialect._entra_patch(body) is True


ADD = {"op": "add", "path": "members", "value": [{"value": BABS}]}


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ({"schemas": [PATCH_OP_URN], "Operations": [ADD, {**ADD, "op": "Add"}]}, True),
        ({"schemas": [PATCH_OP_URN], "Operations": [ADD, {**ADD, "path": "Members"}]}, True),
        ({"operations": [], "schemas": [PATCH_OP_URN], "Operations": [ADD]}, False),
        ({"OPERATIONS": [ADD], "Operations": "x"}, True),
        ({"schemas": [PATCH_OP_URN], "Operations": [ADD, {**ADD, "op": "replace"}]}, False),
    ],
)
def test_the_member_add_hint_reads_the_first_of_names_that_differ_in_case(body, hint) -> None:
    assert _adds_members_only(body) is hint
