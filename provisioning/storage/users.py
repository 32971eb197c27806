"""Users in PostgreSQL: create, read, replace, delete and page through a tenant's users.

Callers hand in canonical documents (see `provisioning.scim.resource.parse_resource`); this
module keeps the indexed columns in step with the document, turns constraint violations into
SCIM errors, and moves `version`/`lastModified` only when something changed.
"""

import functools
import json
import uuid
from contextlib import nullcontext

from django.db import connection, transaction
from django.db.models import OuterRef, Q
from django.utils import timezone

from .. import authsync
from ..models import Group, Membership, Tenant, User, UserValue
from ..scim.list_request import ListRequest
from ..scim.schema import USER_RESOURCE_TYPE, Rows, shown_attributes
from . import groups, mirrors
from .changes import Entry, Operation, record, record_many
from .common import (
    Needs,
    Patcher,
    Written,
    check_version,
    get_one,
    mark_changed,
    not_found,
    parse_pk,
    retry_on_deadlock,
    touch,
    unique,
)
from .listing import Page, Related, list_page
from .query import Source
from .statements import Together, fetch, insert, inserted_row, instance, updated_row

USERNAME_CONSTRAINT = "provisioning_user_username_ci_unique"


# The rows this store keeps its resources in (a root search lists several types).
MODEL = User


MIRRORS = mirrors.written(USER_RESOURCE_TYPE)
# The attributes kept as value rows, with their keys in the document and in the rows (an
# extension's by `urn:name`).
VALUE_ATTRIBUTES = tuple(
    (schema.id if schema is not USER_RESOURCE_TYPE.schema else None, attr.name)
    for schema in USER_RESOURCE_TYPE.schemas
    for attr in schema.attributes
    if attr.rows is Rows.VALUES
)
# A user's `groups` (RFC 7643 §4.1.2), worked out from membership rows.
(GROUPS,) = USER_RESOURCE_TYPE.kept_in(Rows.MEMBERSHIPS)
# The attributes of a user that the groups holding it show in their `members` (its
# `displayName`): a change of one moves those groups' versions (TOUCH_GROUPS).
SHOWN = shown_attributes(USER_RESOURCE_TYPE)


def columns_for(document: dict) -> dict:
    """Return the column values that mirror `document`."""
    return mirrors.columns(MIRRORS, document)


# One row per value of the user's multi-valued attributes, for filtering, made by PostgreSQL
# from those values as one JSON parameter (`_multi_values`) for the user that the statement's
# `resource` part wrote.
VALUE_ROWS = f"""
    INSERT INTO {UserValue._meta.db_table} (tenant_id, user_id, attribute, position, element)
    SELECT %s, resource.id, attribute.key, element.n - 1, element.value
    FROM resource, jsonb_each(%s::jsonb) AS attribute,
         jsonb_array_elements(attribute.value) WITH ORDINALITY AS element(value, n)
"""
# The same for several users at once: [[user id, values], ...] as one JSON parameter.
VALUE_ROWS_OF_MANY = f"""
    INSERT INTO {UserValue._meta.db_table} (tenant_id, user_id, attribute, position, element)
    SELECT %s, (resource.value->>0)::uuid, attribute.key, element.n - 1, element.value
    FROM jsonb_array_elements(%s::jsonb) AS resource, jsonb_each(resource.value->1) AS attribute,
         jsonb_array_elements(attribute.value) WITH ORDINALITY AS element(value, n)
"""
DROP_VALUE_ROWS = (
    f"DELETE FROM {UserValue._meta.db_table} WHERE user_id IN (SELECT id FROM resource)"
)
# The groups' `members` show attributes of their users (SHOWN): a change of one moves their
# versions.
TOUCH_GROUPS = f"""
    UPDATE {Group._meta.db_table} SET version = version + 1, last_modified = %s
    WHERE id IN (
        SELECT group_id FROM {Membership._meta.db_table}
        WHERE user_id IN (SELECT id FROM resource)
    )
"""


def _multi_values(document: dict) -> dict[str, list]:
    """Return the values of each attribute of `document` kept as value rows, keyed as the
    rows are."""
    found = {}
    for urn, name in VALUE_ATTRIBUTES:
        container = document if urn is None else document.get(urn, {})
        if name in container:
            found[name if urn is None else f"{urn}:{name}"] = container[name]
    return found


def get(tenant: Tenant, user_id: str, *, for_update: bool = False) -> User:
    """Return the user `user_id` of `tenant`."""
    return get_one(User, tenant, user_id, for_update=for_update)


def read(tenant: Tenant, user_id: str, needs: Needs | None) -> tuple[User, dict]:
    """Return the user `user_id` of `tenant` and its `groups` unless the answer leaves them
    out (`needs`; as `related` gives them), both from one statement, so from one snapshot."""
    if not (needs and needs(GROUPS.name)):
        return get(tenant, user_id), {}
    pk = parse_pk(user_id, "User")
    rows = fetch(_read_with_groups_sql(), [pk, tenant.pk, tenant.pk, tenant.pk, pk])
    if not rows:
        raise not_found("User", user_id)
    found = groups.read_user_groups(rows[0][-1])
    return instance(User, rows[0][:-1]), ({GROUPS.name: found} if found else {})


@functools.cache
def _read_with_groups_sql() -> str:
    columns = ", ".join(f'row."{f.column}"' for f in User._meta.concrete_fields)
    return (
        f"WITH RECURSIVE {groups.user_groups('ARRAY[%s::uuid]')}"
        f" SELECT {columns}, (SELECT groups FROM user_groups)"
        f' FROM "{User._meta.db_table}" AS row WHERE row.tenant_id = %s AND row.id = %s'
    )


@retry_on_deadlock
def create(
    tenant: Tenant, document: dict, needs: Needs | None = None, pk: uuid.UUID | None = None
) -> Written:
    """Store a new user; a userName already taken in the tenant is a 409 `uniqueness`.

    The user's row, its value rows and its change record are one statement. A new user
    belongs to no group yet: whatever the answer shows (`needs`), it has no related attribute
    to read. Its id is new, or `pk` when the caller chose it (a Bulk request's circle of
    references, `provisioning.bulk`).
    """
    now = timezone.now()
    user = User(
        tenant=tenant, data=document, created=now, last_modified=now, **columns_for(document)
    )
    if pk is not None:
        user.pk = pk
    write = Together()
    write.add("resource", *inserted_row(user))
    write.add("value_rows", VALUE_ROWS, [tenant.pk, json.dumps(_multi_values(document))])
    with _syncing(), _unique_user_name(document):
        record(user, Operation.CREATE, None, write=write)
    return Written(user)


@retry_on_deadlock
@transaction.atomic
def create_each(tenant: Tenant, documents: list[dict]) -> list[Written]:
    """Store several new users with three statements in all (a Bulk request's run of creates),
    each recorded as `create` records it.

    All or none: a userName already taken (in the tenant, or twice among them) raises the
    IntegrityError, and the caller creates them one by one to learn which.
    """
    now = timezone.now()
    created = [
        User(tenant=tenant, data=document, created=now, last_modified=now, **columns_for(document))
        for document in documents
    ]
    insert(created)
    values = [[str(user.pk), found] for user in created if (found := _multi_values(user.data))]
    if values:
        with connection.cursor() as cursor:
            cursor.execute(VALUE_ROWS_OF_MANY, [tenant.pk, json.dumps(values)])
    record_many([Entry(user, Operation.CREATE, None) for user in created])
    return [Written(user) for user in created]


@retry_on_deadlock
def replace(
    tenant: Tenant, user_id: str, document: dict, expected_version=None, needs: Needs | None = None
) -> Written:
    """Replace the user's document (RFC 7644 §3.5.1); nothing moves when nothing changed."""
    return _change(
        tenant, user_id, lambda data: document, Operation.REPLACE, expected_version, needs
    )


@retry_on_deadlock
def patch(
    tenant: Tenant,
    user_id: str,
    operations: Patcher,
    expected_version=None,
    needs: Needs | None = None,
) -> Written:
    """Apply PATCH operations to the user's current document (RFC 7644 §3.5.2)."""
    return _change(
        tenant,
        user_id,
        lambda data: operations(data).document,
        Operation.PATCH,
        expected_version,
        needs,
    )


def _change(tenant, user_id, new_document, operation, expected_version, needs) -> Written:
    """Write the document that `new_document` makes of the user's current one.

    Optimistically first: the user is read without a lock and written only if its version
    has not moved meanwhile, in one statement with its value rows and change record. Every
    change of what the user shows moves its version (a membership too), so the `groups` read
    with it for the answer (`needs`) are those of the version written. If another write came
    first, the user is read again under its row lock, where nothing can come between; so
    concurrent writes of one user apply one after the other and none is lost.
    """
    for locked in (False, True):
        with transaction.atomic() if locked else nullcontext():
            if locked:
                # The groups are read after the lock is held, so they are the locked version's.
                user = get(tenant, user_id, for_update=True)
                shown = related(tenant, [user], needs).get(user.pk, {}) if needs else {}
            else:
                user, shown = read(tenant, user_id, needs)
            check_version(user, expected_version)
            if _write(user, new_document(user.data), operation):
                return Written(user, shown)
    raise AssertionError("a write under the row lock found the row moved")


def _write(user: User, document: dict, operation: Operation) -> bool:
    """Store `document` as the user's, with its columns and value rows, if it differs and
    the user is still at the version read; return whether it was (or nothing was to write)."""
    if user.data == document:
        return True
    before = user.data
    read_version = user.version
    renamed = any(shown.value(document) != shown.value(before) for shown in SHOWN)
    values = _multi_values(document)
    values_changed = values != _multi_values(before)
    for column, value in columns_for(document).items():
        setattr(user, column, value)
    user.data = document
    mark_changed(user)
    write = Together()
    write.add("resource", *updated_row(user, "version", read_version))
    if renamed:
        write.add("touched", TOUCH_GROUPS, [user.last_modified])
    if values_changed:  # not on a deactivation, say: only when a value row would differ
        write.add("dropped", DROP_VALUE_ROWS)
        write.add("value_rows", VALUE_ROWS, [user.tenant_id, json.dumps(values)])
    with _syncing(), _unique_user_name(document):
        return record(user, operation, before, write=write) is not None


@retry_on_deadlock
@transaction.atomic
def delete(tenant: Tenant, user_id: str, expected_version=None) -> None:
    """Delete the user for good (RFC 7644 §3.6); its memberships go with it."""
    user = get(tenant, user_id, for_update=True)
    check_version(user, expected_version)
    touch(Group, Q(memberships__user=user))
    record(user, Operation.DELETE, user.data)
    user.delete()


def _syncing():
    """Return the transaction a write that is one statement needs: none on its own; a
    savepoint inside another transaction (so that its failure leaves that one usable); a
    transaction when its linked Django user is kept in step, which takes statements of its own."""
    if connection.in_atomic_block or authsync.syncs(User):
        return transaction.atomic()
    return nullcontext()


def related(tenant: Tenant, users: list[User], needs) -> dict:
    """Return the `groups` of these users (RFC 7643 §4.1.2), unless the response leaves them out."""
    if not users or not needs(GROUPS.name):
        return {}
    memberships = groups.groups_of_users(tenant, [user.pk for user in users])
    return {pk: {GROUPS.name: found} for pk, found in memberships.items() if found}


def source() -> Source:
    """Return where filters and sorts find user attributes."""
    return Source(
        USER_RESOURCE_TYPE,
        # The tenant comes from the outer row, not as a value: a statement compiled for one
        # tenant's request is run again for other tenants (provisioning.storage.listing).
        values=lambda key: UserValue.objects.filter(
            tenant_id=OuterRef("tenant_id"), user=OuterRef("pk"), attribute=key
        ),
        group_source=groups.source(),
        members_of=groups.members_of,
    )


# A user's `groups`, read with an index page's users.
PAGE_RELATED = Related(
    GROUPS.name, groups.user_groups, "user_groups", tenant_params=2, read=groups.read_user_groups
)


def search(tenant: Tenant, request: ListRequest, needs: Needs | None = None) -> Page:
    """Return the page of the tenant's users that a list or search request asks for, with
    their `groups` unless the response leaves them out (`needs`)."""
    return list_page(User, tenant, source(), request, PAGE_RELATED, needs)


def _unique_user_name(document: dict):
    return unique(USERNAME_CONSTRAINT, f"userName '{document['userName']}' is already in use.")
