"""Users in PostgreSQL: create, read, replace, delete and page through a tenant's users.

Callers hand in canonical documents (see `provisioning.scim.resource.parse_resource`); this
module keeps the indexed columns in step with the document, turns constraint violations into
SCIM errors, and moves `version`/`lastModified` only when something changed.
"""

import uuid
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import OuterRef
from django.utils import timezone

from ..models import Tenant, User, UserValue
from ..scim.errors import NotFound, Uniqueness
from ..scim.schema import COMMON_ATTRIBUTES, USER_RESOURCE_TYPE, USER_SCHEMA
from .listing import ListRequest, Page, list_page
from .query import Source

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


def value_rows(user: User) -> list[UserValue]:
    """Return one row per value of the user's multi-valued attributes, for filtering."""
    rows = []
    for schema in USER_RESOURCE_TYPE.schemas:
        container = user.data if schema is USER_SCHEMA else user.data.get(schema.id, {})
        for attr in schema.attributes:
            if not attr.multi_valued:
                continue
            key = attr.name if schema is USER_SCHEMA else f"{schema.id}:{attr.name}"
            rows.extend(
                UserValue(
                    tenant_id=user.tenant_id, user=user, attribute=key, position=i, element=element
                )
                for i, element in enumerate(container.get(attr.name, []))
            )
    return rows


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
    UserValue.objects.bulk_create(value_rows(user))
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
    UserValue.objects.filter(user=user).delete()
    UserValue.objects.bulk_create(value_rows(user))
    return user


def delete(tenant: Tenant, user_id: str) -> None:
    """Delete the user for good (RFC 7644 §3.6)."""
    deleted, _ = User.objects.filter(tenant=tenant, pk=_pk(user_id)).delete()
    if not deleted:
        raise NotFound(f"User '{user_id}' not found.")


def source(tenant: Tenant) -> Source:
    """Return where filters and sorts find the tenant's user attributes."""
    return Source(
        USER_RESOURCE_TYPE,
        values=lambda key: UserValue.objects.filter(
            tenant=tenant, user=OuterRef("pk"), attribute=key
        ),
    )


def search(tenant: Tenant, request: ListRequest) -> Page:
    """Return the page of the tenant's users that a list or search request asks for."""
    return list_page(User.objects.filter(tenant=tenant), source(tenant), request)


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
