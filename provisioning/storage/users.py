"""Users in PostgreSQL: create, read, replace, delete and page through a tenant's users.

Callers hand in canonical documents (see `provisioning.scim.resource.parse_resource`); this
module keeps the indexed columns in step with the document, turns constraint violations into
SCIM errors, and moves `version`/`lastModified` only when something changed.
"""

import uuid
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Tenant, User
from ..scim.errors import NotFound, Uniqueness
from ..scim.schema import COMMON_ATTRIBUTES, USER_SCHEMA

USERNAME_CONSTRAINT = "provisioning_user_username_ci_unique"


def _mirrored_columns() -> list[tuple[str, str, str | None]]:
    """Return (column, attribute, sub-attribute) for every attribute the schema table mirrors."""
    mirrored = [(COMMON_ATTRIBUTES["externalid"].column, "externalId", None)]
    for attr in USER_SCHEMA.attributes:
        if attr.column:
            mirrored.append((attr.column, attr.name, None))
        mirrored.extend(
            (sub.column, attr.name, sub.name) for sub in attr.sub_attributes if sub.column
        )
    return mirrored


MIRRORED_COLUMNS = _mirrored_columns()


def columns_for(document: dict) -> dict:
    """Return the column values that mirror `document`."""
    columns = {}
    for column, name, sub_name in MIRRORED_COLUMNS:
        value = document.get(name)
        if sub_name is not None:
            value = value.get(sub_name) if isinstance(value, dict) else None
        columns[column] = value
    columns["email"] = _main_email(document.get("emails", []))
    return columns


def _main_email(emails: list[dict]) -> str | None:
    """Return the primary email, else the work email, else the first one."""
    for wanted in (lambda e: e.get("primary") is True, lambda e: e.get("type") == "work", bool):
        for email in emails:
            if "value" in email and wanted(email):
                return email["value"]
    return None


def get(tenant: Tenant, user_id: str, *, for_update: bool = False) -> User:
    """Return the user `user_id` of `tenant`."""
    queryset = User.objects.filter(tenant=tenant, pk=_pk(user_id))
    if for_update:
        queryset = queryset.select_for_update()
    user = queryset.first()
    if user is None:
        raise NotFound(f"User '{user_id}' not found.")
    return user


def create(tenant: Tenant, document: dict) -> User:
    """Store a new user; a userName already taken in the tenant is a 409 `uniqueness`."""
    now = timezone.now()
    user = User(
        tenant=tenant, data=document, created=now, last_modified=now, **columns_for(document)
    )
    with _unique_user_name(document["userName"]):
        user.save(force_insert=True)
    return user


@transaction.atomic
def replace(tenant: Tenant, user_id: str, document: dict) -> User:
    """Replace the user's document (RFC 7644 §3.5.1); nothing moves when nothing changed."""
    user = get(tenant, user_id, for_update=True)
    if user.data == document:
        return user
    for column, value in columns_for(document).items():
        setattr(user, column, value)
    user.data = document
    user.version += 1
    user.last_modified = timezone.now()
    with _unique_user_name(document["userName"]):
        user.save()
    return user


def delete(tenant: Tenant, user_id: str) -> None:
    """Delete the user for good (RFC 7644 §3.6)."""
    deleted, _ = User.objects.filter(tenant=tenant, pk=_pk(user_id)).delete()
    if not deleted:
        raise NotFound(f"User '{user_id}' not found.")


def page(tenant: Tenant, start_index: int, count: int) -> tuple[int, list[User]]:
    """Return the tenant's user count and the `count` users from the 1-based `start_index`.

    Users come in creation order, ties broken by id, so that offset pages neither skip nor
    repeat a user (RFC 7644 §3.4.2.4).
    """
    queryset = User.objects.filter(tenant=tenant)
    total = queryset.count()
    if count == 0 or start_index > total:
        return total, []
    offset = start_index - 1
    return total, list(queryset.order_by("created", "id")[offset : offset + count])


@contextmanager
def _unique_user_name(user_name: str):
    """Turn a violation of the per-tenant userName constraint into a SCIM 409 `uniqueness`.

    The write runs in a savepoint so that the violation leaves the request's transaction
    usable; the constraint, not a prior lookup, decides, so concurrent creates are safe.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if (
            getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
            == USERNAME_CONSTRAINT
        ):
            raise Uniqueness(f"userName '{user_name}' is already in use.") from None
        raise


def _pk(user_id: str) -> uuid.UUID:
    """Return `user_id` as a UUID; an id that is not even a UUID names no user."""
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise NotFound(f"User '{user_id}' not found.") from None
