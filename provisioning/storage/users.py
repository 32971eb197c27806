"""Users in PostgreSQL: create, read, replace, delete and page through a tenant's users.

Callers hand in canonical documents (see `provisioning.scim.resource.parse_resource`); this
module keeps the indexed columns in step with the document, turns constraint violations into
SCIM errors, and moves `version`/`lastModified` only when something changed.
"""

from django.db import transaction
from django.db.models import OuterRef, Q
from django.utils import timezone

from ..models import Group, Tenant, User, UserValue
from ..scim.schema import USER_RESOURCE_TYPE, USER_SCHEMA
from . import groups
from .changes import Operation, record
from .common import (
    Needs,
    Patcher,
    Written,
    check_version,
    get_one,
    mark_changed,
    mirror,
    mirrored_columns,
    retry_on_deadlock,
    touch,
    unique,
    written,
)
from .listing import ListRequest, Page, list_page
from .query import Source
from .statements import insert, update

USERNAME_CONSTRAINT = "provisioning_user_username_ci_unique"


# The rows this store keeps its resources in (a root search lists several types).
MODEL = User


MIRRORED_COLUMNS = mirrored_columns(USER_RESOURCE_TYPE)


def columns_for(document: dict) -> dict:
    """Return the column values that mirror `document`, the main email included."""
    columns = mirror(MIRRORED_COLUMNS, document)
    columns["email"] = _main_email(document.get("emails", []))
    return columns


def value_rows(user: User) -> list[UserValue]:
    """Return one row per value of the user's multi-valued attributes, for filtering."""
    return [
        UserValue(tenant_id=user.tenant_id, user=user, attribute=key, position=i, element=element)
        for key, values in _multi_values(user.data).items()
        for i, element in enumerate(values)
    ]


def _multi_values(document: dict) -> dict[str, list]:
    """Return the values of each multi-valued attribute of `document`, keyed as value rows are."""
    found = {}
    for schema in USER_RESOURCE_TYPE.schemas:
        container = document if schema is USER_SCHEMA else document.get(schema.id, {})
        for attr in schema.attributes:
            if attr.multi_valued and attr.name in container:
                key = attr.name if schema is USER_SCHEMA else f"{schema.id}:{attr.name}"
                found[key] = container[attr.name]
    return found


def _main_email(emails: list[dict]) -> str | None:
    """Return the primary email, else the work email, else the first one."""
    for wanted in (lambda e: e.get("primary") is True, lambda e: e.get("type") == "work", bool):
        for email in emails:
            if "value" in email and wanted(email):
                return email["value"]
    return None


def get(tenant: Tenant, user_id: str, *, for_update: bool = False) -> User:
    """Return the user `user_id` of `tenant`."""
    return get_one(User, tenant, user_id, for_update=for_update)


@retry_on_deadlock
@transaction.atomic
def create(tenant: Tenant, document: dict, needs: Needs | None = None) -> Written:
    """Store a new user; a userName already taken in the tenant is a 409 `uniqueness`.

    A new user belongs to no group yet: whatever the answer shows (`needs`), it has no
    related attribute to read.
    """
    now = timezone.now()
    user = User(
        tenant=tenant, data=document, created=now, last_modified=now, **columns_for(document)
    )
    with _unique_user_name(document):
        insert([user])
    insert(value_rows(user))
    record(user, Operation.CREATE, None)
    return Written(user)


@retry_on_deadlock
@transaction.atomic
def replace(
    tenant: Tenant, user_id: str, document: dict, expected_version=None, needs: Needs | None = None
) -> Written:
    """Replace the user's document (RFC 7644 §3.5.1); nothing moves when nothing changed.

    The `groups` the answer shows (`needs`) are read before the transaction ends.
    """
    user = get(tenant, user_id, for_update=True)
    check_version(user, expected_version)
    return written(tenant, _write(user, document, Operation.REPLACE), related, needs)


@retry_on_deadlock
@transaction.atomic
def patch(
    tenant: Tenant,
    user_id: str,
    operations: Patcher,
    expected_version=None,
    needs: Needs | None = None,
) -> Written:
    """Apply PATCH operations to the user's current document, under its row lock.

    The operations run on the document as it is once locked, so concurrent PATCHes of one
    user apply one after the other and none is lost (RFC 7644 §3.5.2). The `groups` the
    answer shows (`needs`) are read before the transaction ends.
    """
    user = get(tenant, user_id, for_update=True)
    check_version(user, expected_version)
    return written(
        tenant, _write(user, operations(user.data).document, Operation.PATCH), related, needs
    )


def _write(user: User, document: dict, operation: Operation) -> User:
    """Store `document` as the user's, with its columns and value rows, if it differs."""
    if user.data == document:
        return user
    before = user.data
    renamed = document.get("displayName") != user.display_name
    values_changed = _multi_values(document) != _multi_values(user.data)
    for column, value in columns_for(document).items():
        setattr(user, column, value)
    user.data = document
    mark_changed(user)
    with _unique_user_name(document):
        update(user)
    if renamed:
        # The groups' `members` show the user's display name.
        touch(Group, Q(memberships__user=user))
    if values_changed:  # not on a deactivation, say: only when a value row would differ
        UserValue.objects.filter(user=user).delete()
        insert(value_rows(user))
    record(user, operation, before)
    return user


@retry_on_deadlock
@transaction.atomic
def delete(tenant: Tenant, user_id: str, expected_version=None) -> None:
    """Delete the user for good (RFC 7644 §3.6); its memberships go with it."""
    user = get(tenant, user_id, for_update=True)
    check_version(user, expected_version)
    touch(Group, Q(memberships__user=user))
    record(user, Operation.DELETE, user.data)
    user.delete()


def related(tenant: Tenant, users: list[User], needs) -> dict:
    """Return the `groups` of these users (RFC 7643 §4.1.2), unless the response leaves them out."""
    if not users or not needs("groups"):
        return {}
    memberships = groups.groups_of_users(tenant, [user.pk for user in users])
    return {pk: {"groups": found} for pk, found in memberships.items() if found}


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


def search(tenant: Tenant, request: ListRequest) -> Page:
    """Return the page of the tenant's users that a list or search request asks for."""
    return list_page(User, tenant, source(), request)


def _unique_user_name(document: dict):
    return unique(USERNAME_CONSTRAINT, f"userName '{document['userName']}' is already in use.")
