"""Running a Bulk request (RFC 7644 §3.7): each operation through the same write as its single
request (`provisioning.resources`), in the order `provisioning.scim.bulk` works out.

Transactions. The RFC makes each operation atomic on its own and the request as a whole not
atomic: "The service provider MUST continue performing as many changes as possible and
disregard partial failures." A request runs in one transaction, and each operation in a
savepoint of it (the stores' `transaction.atomic` nests): an operation that fails is rolled
back to its savepoint, alone, and the others stay. One COMMIT for the request, rather than one
per operation, is part of what makes a Bulk cheaper than single requests; its price is that
the rows a Bulk writes stay locked until it ends (about a second for 1,000 operations). The
answer is sent after the COMMIT, so an answer never reports a change that was not made: if the
COMMIT fails, nothing was written and the client gets the error. Signals and webhook events
follow the change records: events are written in each operation's savepoint (and go with it
when it is rolled back), signals are sent after the COMMIT for the operations that stayed.

Speed. Runs of operations that a single statement can serve are written together, with the
outcome of running them one by one: consecutive POSTs of Users (`users.create_each`), and
consecutive PATCHes of one Group that only add members (`groups.add_members_each`). When
a run of creates fails (a userName taken), it is rolled back and its operations run one by
one, so each gets its own answer; in a run of member adds, a PATCH that fails (a member that
does not exist) fails alone and the others are still written together.

Versions of a run of member adds. The run writes the group once, with the members of all
its PATCHes: its version moves once, and every PATCH of the run answers that version. It
vouches for the body the run wrote, and a later If-Match on the group accepts it (unless a
later operation or request changed the group since). The run is recorded as that one write
(`groups.add_members_each`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import IntegrityError, transaction

from .resources import GROUPS, RESOURCES, USERS, Resource
from .scim import bulk, errors
from .scim.bulk import BulkRequest, Operation
from .scim.dialect import patch_operations
from .scim.resource import expected_versions, format_version, parse_resource
from .storage import groups, users

BY_ENDPOINT: dict[str, Resource] = {resource.type.endpoint: resource for resource in RESOURCES}
ENDPOINTS = tuple(BY_ENDPOINT)


def run(tenant, request: BulkRequest, base_url: str, leniencies: Callable) -> dict:
    """Apply the operations of `request` for `tenant`; return the BulkResponse.

    `leniencies(patch_body=None)` returns the IdP leniencies an operation's body is read
    with, as its single request's would be (`provisioning.scim.dialect`).
    """
    runner = _Runner(tenant, request, base_url, leniencies)
    with transaction.atomic():
        runner.run()
    return bulk.bulk_response([runner.results[i] for i in sorted(runner.results)])


class _Runner:
    def __init__(self, tenant, request: BulkRequest, base_url: str, leniencies: Callable) -> None:
        self.tenant = tenant
        self.leniencies = leniencies
        self.request = request
        self.base_url = base_url
        self.ids: dict[str, str] = {}  # resource id by bulkId, once its POST succeeded
        self.results: dict[int, dict] = {}  # by the operation's index in the request
        self.errors = 0

    @property
    def stopped(self) -> bool:
        """Whether `failOnErrors` errors have happened: the rest is not processed."""
        limit = self.request.fail_on_errors
        return limit is not None and self.errors >= limit

    def run(self) -> None:
        steps = bulk.execution_order(self.request)
        position = 0
        while position < len(steps) and not self.stopped:
            step = steps[position]
            if bulk.is_circle(step, self.request):
                self.circle(step)
                position += 1
                continue
            run = self.batch(steps, position)
            if len(run) > 1 and run[0].method == "POST":
                self.create_users(run)
            elif len(run) > 1:
                self.add_members(run)
            else:
                self.single(run[0])
            position += len(run)

    def batch(self, steps: list[list[Operation]], start: int) -> list[Operation]:
        """Return the run of operations from `steps[start]` that can be written together:
        POSTs of Users whose references are resolved already, or PATCHes of one Group that
        add members, without a `version`. Else just the operation of `steps[start]`."""
        first = steps[start][0]
        kind = self.kind(first)
        if kind is None:
            return [first]
        run = [first]
        request = self.request
        for position in range(start + 1, len(steps)):
            step = steps[position]
            operation = step[0]
            # A step of one operation that refers to nothing is no circle (`is_circle`).
            if len(step) > 1 or (operation.references and bulk.is_circle(step, request)):
                break
            if self.kind(operation) != kind:
                break
            run.append(operation)
        return run

    def kind(self, operation: Operation):
        """Return what an operation shares with the others of its run, or None when it
        runs alone."""
        if operation.references and bulk.unresolved(operation, self.ids, self.request) is not None:
            return None
        method, endpoint = operation.method, operation.endpoint
        if method == "POST" and endpoint == _USERS:
            return "POST"
        if (
            method == "PATCH"
            and endpoint == _GROUPS
            and operation.version is None
            and _adds_members_only(operation.data)
        ):
            return ("PATCH", bulk.resolve(operation, operation.resource_id, self.ids))
        return None

    # --- one operation -------------------------------------------------------------------

    def single(self, operation: Operation) -> None:
        error = bulk.unresolved(operation, self.ids, self.request)
        if error is not None:
            self.fail(operation, error)
            return
        resource = BY_ENDPOINT[operation.endpoint]
        data = bulk.resolve(operation, operation.data, self.ids)
        resource_id = bulk.resolve(operation, operation.resource_id, self.ids)
        expected = expected_versions(operation.version)
        try:
            if operation.method == "POST":
                written = resource.create(
                    self.tenant, data, needs=None, leniencies=self.leniencies()
                )
                self.created(operation, written.obj)
                return
            if operation.method == "PUT":
                written = resource.replace(
                    self.tenant,
                    resource_id,
                    data,
                    expected,
                    needs=None,
                    leniencies=self.leniencies(),
                )
                status = 200
            elif operation.method == "PATCH":
                written = resource.patch(
                    self.tenant,
                    resource_id,
                    data,
                    expected,
                    needs=None,
                    leniencies=self.leniencies(data),
                )
                status = 204 if resource.patch_no_content else 200
            else:
                resource.delete(self.tenant, resource_id, expected)
                self.succeed(operation, 204, resource_id)
                return
        except errors.SCIMError as error:
            self.fail(operation, error)
            return
        self.succeed(operation, status, resource_id, written.obj.version)

    def circle(self, step: list[Operation]) -> None:
        """Create POSTs that refer to each other (RFC 7644 §3.7.1) together, each with an id
        chosen before any is written; if one fails, none is created and each is a 409."""
        chosen = {operation.bulk_id: uuid.uuid4() for operation in step}
        ids = {**self.ids, **{bulk_id: str(pk) for bulk_id, pk in chosen.items()}}
        created = []
        try:
            with transaction.atomic():
                for operation in step:
                    error = bulk.unresolved(operation, ids, self.request)
                    if error is not None:
                        raise error
                    data = bulk.resolve(operation, operation.data, ids)
                    resource = BY_ENDPOINT[operation.endpoint]
                    pk = chosen[operation.bulk_id]
                    written = resource.create(
                        self.tenant, data, needs=None, pk=pk, leniencies=self.leniencies()
                    )
                    created.append(written.obj)
        except errors.SCIMError as error:
            for operation in step:
                if self.stopped:
                    return
                self.fail(
                    operation,
                    errors.Conflict(
                        "The operation is part of a circle of bulkId references that could "
                        f"not be resolved (RFC 7644 §3.7.1): {error.detail}"
                    ),
                )
            return
        for operation, obj in zip(step, created, strict=True):
            self.created(operation, obj)

    # --- runs ----------------------------------------------------------------------------

    def create_users(self, run: list[Operation]) -> None:
        """Create a run of users, with one write for those whose body is valid."""
        pending: list[tuple[Operation, dict]] = []
        for operation in run:
            try:
                document = parse_resource(
                    bulk.resolve(operation, operation.data, self.ids),
                    USERS.type,
                    self.leniencies(),
                )
            except errors.SCIMError as error:
                self.create_pending(pending)
                pending = []
                if self.stopped:
                    return
                self.fail(operation, error)
                if self.stopped:
                    return
                continue
            pending.append((operation, document))
        self.create_pending(pending)

    def create_pending(self, pending: list[tuple[Operation, dict]]) -> None:
        if not pending:
            return
        try:
            written = users.create_each(self.tenant, [document for _, document in pending])
        except (IntegrityError, errors.SCIMError):
            # One of them cannot be created: each is created alone, and answered alone.
            for operation, document in pending:
                if self.stopped:
                    return
                try:
                    self.created(operation, users.create(self.tenant, document).obj)
                except errors.SCIMError as error:
                    self.fail(operation, error)
            return
        for (operation, _), one in zip(pending, written, strict=True):
            self.created(operation, one.obj)

    def add_members(self, run: list[Operation]) -> None:
        """Apply a run of member-adding PATCHes of one group as one write, or one by one."""
        group_id = bulk.resolve(run[0], run[0].resource_id, self.ids)
        bodies = [bulk.resolve(op, op.data, self.ids) for op in run]
        patchers = [GROUPS.patcher(body, self.leniencies(body)) for body in bodies]
        limit = self.request.fail_on_errors
        allowed = None if limit is None else limit - self.errors
        try:
            written = groups.add_members_each(self.tenant, group_id, patchers, allowed)
        except errors.SCIMError:  # the group: each operation answers its own error
            written = None
        if written is None:
            for operation in run:
                if self.stopped:
                    return
                self.single(operation)
            return
        outcomes, version = written
        location = self.location(run[0], group_id)
        tag = format_version(version)
        # Fewer outcomes than operations when failOnErrors stopped the run: the rest is not
        # processed.
        for operation, error in zip(run[: len(outcomes)], outcomes, strict=True):
            if error is None:
                self.results[operation.index] = bulk.operation_result(
                    operation, 204, location=location, version=tag
                )
            else:
                self.fail(operation, error)

    # --- answers -------------------------------------------------------------------------

    def created(self, operation: Operation, obj) -> None:
        self.ids[operation.bulk_id] = str(obj.pk)
        self.succeed(operation, 201, str(obj.pk), obj.version)

    def succeed(
        self, operation: Operation, status: int, resource_id: str, version: int | None = None
    ) -> None:
        self.results[operation.index] = bulk.operation_result(
            operation,
            status,
            location=self.location(operation, resource_id),
            version=None if version is None else format_version(version),
        )

    def location(self, operation: Operation, resource_id: str) -> str:
        return f"{self.base_url}{operation.endpoint}/{resource_id}"

    def fail(self, operation: Operation, error: errors.SCIMError) -> None:
        # RFC 7644 §3.7.3: a location for every operation "except for failed POST operations".
        location = None
        if operation.resource_id is not None:
            resource_id = operation.resource_id
            if resource_id.startswith(bulk.REFERENCE_PREFIX):
                resource_id = self.ids.get(
                    resource_id.removeprefix(bulk.REFERENCE_PREFIX), resource_id
                )
            location = self.location(operation, resource_id)
        self.results[operation.index] = bulk.operation_result(
            operation, error.status, location=location, error=error
        )
        self.errors += 1


_USERS = USERS.type.endpoint
_GROUPS = GROUPS.type.endpoint
_MEMBERS = groups.MEMBERS.name.lower()


def _adds_members_only(data) -> bool:
    """Return whether a PatchOp body looks like one that only adds group members. Only a
    hint: `groups.add_members_each` applies the body and decides."""
    if type(data) is not dict:
        return False
    operations = patch_operations(data)
    if not isinstance(operations, list) or not operations:
        return False
    for item in operations:
        if type(item) is not dict:
            return False
        # Spelt as the RFC spells them (lower case), each is one comparison.
        op, path = item.get("op"), item.get("path")
        if op != "add" and (type(op) is not str or op.lower() != "add"):
            return False
        if path != _MEMBERS and (type(path) is not str or path.lower() != _MEMBERS):
            return False
    return True
