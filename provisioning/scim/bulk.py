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
* §3.7.1: "The service provider MUST try to resolve circular cross-references between
  resources in a single bulk job but MAY stop after a failed attempt and instead return HTTP
  status code 409 (Conflict)." POSTs whose references go round in a circle are created
  together, each with its id chosen before any of them is written (users naming each other
  as `manager`). When that fails, none of them is created and each is answered 409: groups
  that hold each other, as in the RFC's example, always fail, since no group may be a member
  of itself, directly or not.
* §3.7.3: the response lists every operation processed, in the order sent, each with its
  `method`, `bulkId`, `location` (except a failed POST), `version` and `status` (the code as a
  string); a failed one carries the SCIM error in `response`. `failOnErrors` stops the run
  after that many errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import InvalidSyntax, InvalidValue, PayloadTooLarge, SCIMError
from .patch import object_members

BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
REFERENCE_PREFIX = "bulkId:"
_PREFIX = REFERENCE_PREFIX.encode()


@dataclass(slots=True)
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
    walk = _may_refer(items)
    paths: dict[tuple[str, bool], tuple[str, str | None]] = {}
    operations = [_read_operation(item, i, endpoints, walk, paths) for i, item in enumerate(items)]
    definers: dict[str, Operation] = {}
    seen: set[str] = set()
    for operation in operations:
        if operation.bulk_id is None:
            continue
        if operation.bulk_id in seen:
            raise InvalidValue(f"bulkId '{operation.bulk_id}' is used by more than one operation.")
        seen.add(operation.bulk_id)
        if operation.method == "POST":
            definers[operation.bulk_id] = operation
    return BulkRequest(operations, fail_on_errors, definers)


_NO_REFERENCES: frozenset[str] = frozenset()


def _read_operation(
    item: Any,
    index: int,
    endpoints: tuple[str, ...],
    walk: bool,
    paths: dict[tuple[str, bool], tuple[str, str | None]],
) -> Operation:
    """Return the operation `item`, checked. It is read once per operation of a request of up
    to `maxOperations`, so it does no work twice: `walk` is False when no operation's `data`
    can hold a reference (`_may_refer`), and `paths` keeps each path already read."""
    where = f"Operations[{index}]"
    if type(item) is not dict:
        raise InvalidSyntax(f"'{where}' must be a JSON object.")
    members = object_members(item, where)
    method = members.get("method")
    method = method.upper() if isinstance(method, str) else None
    if method not in METHODS:
        raise InvalidSyntax(f"'{where}.method' must be one of {', '.join(METHODS)}.")
    bulk_id, version, path = members.get("bulkid"), members.get("version"), members.get("path")
    for name, value in (("bulkId", bulk_id), ("version", version), ("path", path)):
        if value is not None and not isinstance(value, str):
            raise InvalidSyntax(f"'{where}.{name}' must be a string.")
    if bulk_id is not None and not bulk_id:
        raise InvalidValue(f"'{where}.bulkId' must not be empty.")
    if method == "POST" and bulk_id is None:
        raise InvalidSyntax(f"'{where}.bulkId' is required with POST (RFC 7644 §3.7).")
    # What a path names depends on it and on whether the method is POST only.
    key = (path, method == "POST")
    read = paths.get(key)
    if read is None:
        read = paths[key] = _read_path(path, method, endpoints, where)
    endpoint, resource_id = read
    data = members.get("data")
    if method != "DELETE" and type(data) is not dict:
        raise InvalidSyntax(f"'{where}.data' must be a JSON object with {method}.")
    references = _NO_REFERENCES
    names_reference = resource_id is not None and resource_id.startswith(REFERENCE_PREFIX)
    if walk or names_reference:
        found = set(_references(data)) if walk else set()
        if names_reference:
            found.add(resource_id.removeprefix(REFERENCE_PREFIX))
        references = frozenset(found)
    return Operation(
        index,
        method,
        endpoint,
        resource_id,
        bulk_id,
        version,
        data if method != "DELETE" else None,
        references,
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


def _may_refer(value: Any) -> bool:
    """Return whether `value`, a JSON value, may hold a `bulkId:` reference string.

    Most operations refer to nothing: orjson writes a string that starts with the prefix as
    `"bulkId:` (it escapes only quotes, backslashes and control characters), so a document
    without that text holds no reference, and is not walked. `parse_bulk_request` asks it
    once of all the operations of a request, and of each one's `data` only when that finds
    the text."""
    try:
        return b'"' + _PREFIX in orjson.dumps(value)
    except TypeError:  # an integer past 64 bits: walked
        return True


def _references(value: Any) -> Iterator[str]:
    """Yield the bulkIds referenced anywhere in `value`, a JSON value (dicts and lists)."""
    if not _may_refer(value):
        return
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
    """Return a copy of `value` with its references replaced; iterative, so a document nested
    as deep as JSON allows costs no recursion."""
    box = [value]
    stack: list[dict | list] = [box]
    while stack:
        container = stack.pop()
        for key in container.keys() if type(container) is dict else range(len(container)):
            item = container[key]
            kind = type(item)
            if kind is str:
                if item.startswith(REFERENCE_PREFIX):
                    container[key] = ids[item.removeprefix(REFERENCE_PREFIX)]
            elif kind is dict or kind is list:
                container[key] = copy = kind(item)
                stack.append(copy)
    return box[0]


def execution_order(request: BulkRequest) -> list[list[Operation]]:
    """Return the steps in which the operations run: each a single operation, or a circle of
    POSTs that refer to each other (RFC 7644 §3.7.1), in the order sent.

    Operations run in the order sent, except that the POSTs an operation refers to run before
    it. POSTs whose references go round in a circle (a strongly connected set of them) are
    one step: none can run before the others, so they are created together (see
    `provisioning.bulk`). An operation referring to a bulkId no POST defines still runs, and
    fails (see `unresolved`).
    """
    if not any(operation.references for operation in request.operations):
        return [[operation] for operation in request.operations]  # nothing to reorder
    circles = _circles(request)
    steps: list[list[Operation]] = []
    placed: set[int] = set()
    for start in request.operations:
        # An iterative depth-first walk over the circles (which cannot refer back to
        # themselves): what a step refers to is placed before it.
        stack = [(circles[start.index], iter(_step_dependencies(circles[start.index], request)))]
        while stack:
            step, dependencies = stack[-1]
            if step[0].index in placed:
                stack.pop()
                continue
            dependency = next(dependencies, None)
            if dependency is None:
                stack.pop()
                placed.update(op.index for op in step)
                steps.append(step)
            elif dependency.index not in placed:
                circle = circles[dependency.index]
                stack.append((circle, iter(_step_dependencies(circle, request))))
    return steps


def _circles(request: BulkRequest) -> dict[int, list[Operation]]:
    """Return, for each operation's index, the operations of its circle: the strongly
    connected component of the reference graph holding it (Tarjan's algorithm, iterative),
    in the order sent. An operation in no circle is alone in its own."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[Operation] = []
    circles: dict[int, list[Operation]] = {}
    counter = 0
    for root in request.operations:
        if root.index in index_of:
            continue
        work = [(root, iter(_dependencies(root, request)))]
        index_of[root.index] = low[root.index] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root.index)
        while work:
            operation, dependencies = work[-1]
            dependency = next(dependencies, None)
            if dependency is not None:
                if dependency.index not in index_of:
                    index_of[dependency.index] = low[dependency.index] = counter
                    counter += 1
                    stack.append(dependency)
                    on_stack.add(dependency.index)
                    work.append((dependency, iter(_dependencies(dependency, request))))
                elif dependency.index in on_stack:
                    low[operation.index] = min(low[operation.index], index_of[dependency.index])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent.index] = min(low[parent.index], low[operation.index])
            if low[operation.index] == index_of[operation.index]:
                circle = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member.index)
                    circle.append(member)
                    if member is operation:
                        break
                circle.sort(key=lambda op: op.index)
                for member in circle:
                    circles[member.index] = circle
    return circles


def is_circle(step: list[Operation], request: BulkRequest) -> bool:
    """Return whether a step is a circle: several POSTs, or one that refers to itself."""
    first = step[0]
    return len(step) > 1 or (
        bool(first.references) and any(d is first for d in _dependencies(first, request))
    )


def _step_dependencies(step: list[Operation], request: BulkRequest) -> Iterator[Operation]:
    members = {op.index for op in step}
    for operation in step:
        for dependency in _dependencies(operation, request):
            if dependency.index not in members:
                yield dependency


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
    if not operation.references:
        return None
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
