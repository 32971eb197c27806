"""What every resource store shares: ids, lookups, uniqueness errors, version moves."""

import functools
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, connection
from django.db.models import F, Model, Q, UUIDField
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from ..scim.errors import NotFound, PreconditionFailed, Uniqueness
from ..scim.resource import parse_id
from .statements import Compiled, Slot, instance, uuid_array

# Turns a resource's current document into a `provisioning.scim.patch.PatchResult`.
Patcher = Callable[[dict], Any]
# Tells whether the answer shows a related attribute (`Projection.needs`).
Needs = Callable[[str], bool]


@dataclass(frozen=True)
class Written:
    """A resource as a write left it, with the related attributes (a group's `members`, a
    user's `groups`) that the answer shows, read inside the write's transaction.

    The answer to a write is built from this alone, so nothing reads the database after
    COMMIT: a write that committed is never answered with an error for a failed read.
    """

    obj: Model
    related: dict[str, list] = field(default_factory=dict)


def written(tenant, obj: Model, related: Callable, needs: Needs | None) -> Written:
    """Return `obj` with the related attributes its answer shows (`needs`; None for an answer
    without a body), read by the store's `related` now, before the transaction ends."""
    if needs is None:
        return Written(obj)
    return Written(obj, related(tenant, [obj], needs).get(obj.pk, {}))


def parse_pk(resource_id: str, type_name: str) -> uuid.UUID:
    """Return `resource_id` as a UUID; any other spelling of an id, an upper-cased one
    included (RFC 7643 §3.1: `id` is caseExact), names nothing (404)."""
    pk = parse_id(resource_id)
    if pk is None:
        raise not_found(type_name, resource_id)
    return pk


def get_one(model: type[Model], tenant, resource_id: str, *, for_update: bool = False):
    """Return the tenant's resource of `model` with this id, locked for update when asked."""
    pk = parse_pk(resource_id, model.__name__)
    rows = _by_id(model, for_update).rows([tenant.pk, pk])
    if not rows:
        raise not_found(model.__name__, resource_id)
    obj = instance(model, rows[0])
    model.tenant.field.set_cached_value(obj, tenant)  # its change record's signals send it
    return obj


def not_found(type_name: str, resource_id: str) -> NotFound:
    return NotFound(f"{type_name} '{resource_id}' not found.")


@functools.cache
def _by_id(model: type[Model], for_update: bool) -> Compiled:
    queryset = model.objects.filter(tenant_id=Slot(0), pk=Slot(1, UUIDField()))
    if for_update:
        queryset = queryset.select_for_update()
    return Compiled(queryset[:1])


def mark_changed(obj: Model) -> None:
    """Move the object's version and lastModified (RFC 7644 §3.14): something changed."""
    obj.version += 1
    obj.last_modified = timezone.now()


@contextmanager
def unique(constraint: str, detail: str):
    """Turn a violation of `constraint` into a SCIM 409 `uniqueness` with `detail`.

    The constraint, not a prior lookup, decides, so concurrent creates are safe. Callers run
    in a transaction of their own, which the error then rolls back whole.
    """
    try:
        yield
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == constraint:
            raise Uniqueness(detail) from None
        raise


def touch(model: type[Model], condition: Q) -> None:
    """Move the version of the resources matching `condition`: what they show has changed.

    A user shows its groups, direct and indirect, and a group its members' display names, so
    a change of membership or of a name moves the versions of the resources that show it:
    for a group, every user below it through nesting too (`groups.users_below`).
    """
    model.objects.filter(condition).update(version=F("version") + 1, last_modified=timezone.now())


def touch_ids(model: type[Model], tenant_id: int, ids: Iterable[uuid.UUID]) -> None:
    """`touch` the tenant's resources of `model` with these ids: one parameter for them all
    (Django's `pk__in` makes one per id, and compiling a thousand of them cost more than the
    statement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET version = version + 1, last_modified = %s"
            " WHERE tenant_id = %s AND id = ANY(%s::uuid[])",
            [timezone.now(), tenant_id, uuid_array(ids)],
        )


def check_version(obj: Model, expected: frozenset[int] | None) -> None:
    """Refuse a write when `If-Match` named only other versions (RFC 7644 §3.14): 412."""
    if expected is not None and obj.version not in expected:
        raise PreconditionFailed(
            f'The resource is at version W/"{obj.version}"; If-Match named another.'
        )


def retry_on_deadlock(write: Callable) -> Callable:
    """Run a write again (three tries in all) when PostgreSQL broke a deadlock by aborting it.

    Writes lock their resource first, but a membership change also touches the members'
    rows, so two writes can wait on each other; the one PostgreSQL aborts is simply retried.
    """

    @functools.wraps(write)
    def retrying(*args, **kwargs):
        for _ in range(2):
            try:
                return write(*args, **kwargs)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != DeadlockDetected.sqlstate:
                    raise
        return write(*args, **kwargs)

    return retrying
