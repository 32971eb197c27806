"""Bulk requests (RFC 7644 §3.7): reading a BulkRequest, `bulkId` references, the order in
which operations run, and the BulkResponse. Pure: no database, no Django; the HTTP layer
runs the operations through the same writes as single requests.

RFC 7644 §3.7, the rules followed:

* A BulkRequest carries the BulkRequest URN in `schemas` and `Operations`; each operation has
  a `method` (POST, PUT, PATCH or DELETE) and a `path`: "If "method" is "POST", the value must
  specify a resource type endpoint, e.g., /Users or /Groups, whereas all other "method" values
  must specify the path to a specific resource". `bulkId` is "REQUIRED when "method" is
  "POST"" and "unique within a bulk request"; `data` is "REQUIRED in a request when "method"
  is "POST", "PUT", or "PATCH"". A request that breaks these is refused whole (400
  `invalidSyntax`, or `invalidValue` for a bad value), before anything is written.
* §3.7.4: more operations than `maxOperations`, or a body larger than `maxPayloadSize`, is a
  413 whose detail names the limit exceeded.
* §3.7.2: "The service provider MUST replace the string "bulkId:qwerty" with the permanent
  resource id once created", in any attribute (extensions too: "Extensions that include
  references to other resources MUST be handled in the same way"). Here every JSON string of
  an operation's `data` that is exactly `bulkId:<id>` is a reference, and so is the resource
  id in a `path` (`/Groups/bulkId:ytrewq`). A reference to a bulkId no POST of the request
  defines fails that operation (400 `invalidValue`).
* §3.7: "A SCIM service provider MAY elect to optimize the sequence of operations received
  ... the service provider MUST ensure that the client's intent is preserved": operations run
  in the order sent, except that one referring to a later POST runs just after that POST.
* §3.7.1: references that go round in a circle cannot all be resolved before the operations
  that need them run; those operations are answered 409 (Conflict), which the RFC allows "after
  a failed attempt". With this server's resource types, the only such circles are groups
  nesting each other (which a group refuses anyway: no group is a member of itself) and
  managers naming each other among new users (create them, then set the managers with PATCH).
* §3.7.3: the response lists every operation processed, in the order sent, each with its
  `method`, `bulkId`, `location` (except a failed POST), `version` and `status` (the code as a
  string); a failed one carries the SCIM error in `response`. `failOnErrors` stops the run
  after that many errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidSyntax, InvalidValue, PayloadTooLarge, SCIMError

BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
REFERENCE_PREFIX = "bulkId:"


@dataclass
class Operation:
    """One operation of a BulkRequest, checked for structure.

    `endpoint` is the resource type endpoint the path names (`/Users`); `resource_id` the id
    it names, None for a POST (it may be a `bulkId:` reference); `references` the bulkIds the
    operation needs resolved before it runs.
    """

    index: int
    method: str
    endpoint: str
    resource_id: str | None = None
    bulk_id: str | None = None
    version: str | None = None
    data: Any = None
    references: frozenset[str] = frozenset()


@dataclass
class BulkRequest:
    operations: list[Operation]
    fail_on_errors: int | None = None
    # The POST that defines each bulkId, by bulkId.
    definers: dict[str, Operation] = field(default_factory=dict)


def parse_bulk_request(
    body: Any, *, endpoints: tuple[str, ...], max_operations: int
) -> BulkRequest:
    """Return the BulkRequest in `body`, checked for structure; `endpoints` are the resource
    type endpoints operations may address (`/Users`, `/Groups`)."""
    if type(body) is not dict:
        raise InvalidSyntax("The request body must be a JSON object.")
    members = _members(body, "the request body")
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
    operations = [_read_operation(item, i, endpoints) for i, item in enumerate(items)]
    definers: dict[str, Operation] = {}
    for operation in operations:
        if operation.bulk_id is None:
            continue
        if operation.bulk_id in definers:
            raise InvalidValue(f"bulkId '{operation.bulk_id}' is used by more than one operation.")
        if operation.method == "POST":
            definers[operation.bulk_id] = operation
    return BulkRequest(operations, fail_on_errors, definers)


def _read_operation(item: Any, index: int, endpoints: tuple[str, ...]) -> Operation:
    where = f"Operations[{index}]"
    if type(item) is not dict:
        raise InvalidSyntax(f"'{where}' must be a JSON object.")
    members = _members(item, where)
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
    endpoint, resource_id = _read_path(members.get("path"), method, endpoints, where)
    data = members.get("data")
    if method != "DELETE" and type(data) is not dict:
        raise InvalidSyntax(f"'{where}.data' must be a JSON object with {method}.")
    references = set(_references(data))
    if resource_id is not None and resource_id.startswith(REFERENCE_PREFIX):
        references.add(resource_id.removeprefix(REFERENCE_PREFIX))
    return Operation(
        index=index,
        method=method,
        endpoint=endpoint,
        resource_id=resource_id,
        bulk_id=bulk_id,
        version=members.get("version"),
        data=data if method != "DELETE" else None,
        references=frozenset(references),
    )


def _read_path(path: Any, method: str, endpoints: tuple[str, ...], where: str):
    """Return the endpoint and resource id an operation's `path` names."""
    if not isinstance(path, str):
        raise InvalidSyntax(f"'{where}.path' is required: a resource type endpoint or resource.")
    parts = path.strip("/").split("/")
    endpoint = f"/{parts[0]}"
    if endpoint not in endpoints or len(parts) > 2:
        raise InvalidValue(
            f"'{where}.path' must be one of {', '.join(endpoints)}, or a resource under one."
        )
    if method == "POST":
        if len(parts) != 1:
            raise InvalidValue(f"'{where}.path' of a POST must be a resource type endpoint.")
        return endpoint, None
    if len(parts) != 2 or not parts[1]:
        raise InvalidValue(f"'{where}.path' of a {method} must name one resource.")
    return endpoint, parts[1]


def _references(value: Any) -> Iterator[str]:
    """Yield the bulkIds referenced anywhere in `value`, a JSON value (dicts and lists)."""
    stack = [value]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is str:
            if value.startswith(REFERENCE_PREFIX):
                yield value.removeprefix(REFERENCE_PREFIX)
        elif kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)


def resolve(operation: Operation, value: Any, ids: Mapping[str, str]) -> Any:
    """Return `value` (the operation's `data` or resource id) with each `bulkId:<id>` string
    replaced by the resource id in `ids`; unchanged when the operation refers to nothing."""
    return _resolve(value, ids) if operation.references else value


def _resolve(value: Any, ids: Mapping[str, str]) -> Any:
    kind = type(value)
    if kind is str:
        if value.startswith(REFERENCE_PREFIX):
            return ids[value.removeprefix(REFERENCE_PREFIX)]
        return value
    if kind is dict:
        return {key: _resolve(item, ids) for key, item in value.items()}
    if kind is list:
        return [_resolve(item, ids) for item in value]
    return value


def execution_order(request: BulkRequest) -> tuple[list[Operation], set[int]]:
    """Return the operations in the order they run, and the indexes of those caught in a
    circle of references (RFC 7644 §3.7.1), which do not run.

    Operations run in the order sent, except that the POST defining a bulkId runs before the
    first operation that refers to it. An operation referring to a bulkId no POST defines
    still runs, and fails (see `unresolved`).
    """
    order: list[Operation] = []
    state: dict[int, str] = {}  # "visiting" while its dependencies are placed, then "placed"
    circular: set[int] = set()
    for start in request.operations:
        if start.index in state:
            continue
        # An iterative depth-first walk: a dependency is placed before what needs it.
        stack: list[tuple[Operation, Iterator[Operation]]] = [
            (start, _dependencies(start, request))
        ]
        state[start.index] = "visiting"
        while stack:
            operation, dependencies = stack[-1]
            dependency = next(dependencies, None)
            if dependency is None:
                stack.pop()
                state[operation.index] = "placed"
                order.append(operation)
            elif state.get(dependency.index) == "visiting":
                # Every operation on the walk from the dependency onwards is in the circle.
                on_walk = [op.index for op, _ in stack]
                circular.update(on_walk[on_walk.index(dependency.index) :])
            elif dependency.index not in state:
                state[dependency.index] = "visiting"
                stack.append((dependency, _dependencies(dependency, request)))
    return order, circular


def _dependencies(operation: Operation, request: BulkRequest) -> Iterator[Operation]:
    for bulk_id in sorted(operation.references):
        definer = request.definers.get(bulk_id)
        if definer is not None:
            yield definer


def unresolved(
    operation: Operation, ids: Mapping[str, str], request: BulkRequest
) -> SCIMError | None:
    """Return the error that keeps `operation` from running for want of a resource id, if any:
    a bulkId that no POST defines, or whose POST failed."""
    for bulk_id in sorted(operation.references):
        if bulk_id in ids:
            continue
        if bulk_id not in request.definers:
            return InvalidValue(f"'bulkId:{bulk_id}' names no POST operation of this request.")
        return InvalidValue(
            f"'bulkId:{bulk_id}' names no resource: the operation that was to create it failed."
        )
    return None


def operation_result(
    operation: Operation,
    status: int,
    *,
    location: str | None = None,
    version: str | None = None,
    error: SCIMError | None = None,
) -> dict:
    """Return one entry of a BulkResponse's `Operations` (RFC 7644 §3.7.3)."""
    result: dict = {"method": operation.method}
    if operation.bulk_id is not None:
        result["bulkId"] = operation.bulk_id
    if location is not None:
        result["location"] = location
    if version is not None:
        result["version"] = version
    result["status"] = str(status)
    if error is not None:
        result["response"] = error.to_scim()
    return result


def bulk_response(results: list[dict]) -> dict:
    return {"schemas": [BULK_RESPONSE_URN], "Operations": results}


def _members(obj: Mapping, where: str) -> dict[str, Any]:
    """Return the members of `obj` keyed by lowercase name; names are case-insensitive."""
    members: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = key.lower()
        if lowered in members:
            raise InvalidSyntax(f"'{key}' appears more than once in {where}.")
        members[lowered] = value
    return members
