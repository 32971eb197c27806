"""The interface of a resource type's storage module (`users.py`, `groups.py`): what the views,
the writes of `provisioning.resources`, the root search, Bulk and the admin call on it. The
modules implement it as modules; `tests/storage/test_store.py` checks that each has every member
with a signature a caller of the Protocol can call.

Parameters a caller passes by position are positional-only here: the modules name them after
their resource (`user_id`, `group_id`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.db.models import Model

from ..models import Tenant
from ..scim.list_request import ListRequest
from ..scim.schema import Attribute
from .common import Needs, Patcher, Written
from .listing import Page, Related
from .query import Source

if TYPE_CHECKING:
    import uuid

    from .groups import MemberRows


class Store(Protocol):
    """The storage of one resource type."""

    # The model whose rows hold the resources.
    MODEL: type[Model]
    # The related attribute an index page's statement reads with the page's resources when
    # the answer shows it (`search`), or None when `related` reads them apart.
    PAGE_RELATED: Related | None

    def get(self, tenant: Tenant, resource_id: str, /, *, for_update: bool = False) -> Model:
        """Return the tenant's resource `resource_id`, locked for update if asked, or raise
        NotFound."""

    def read(
        self, tenant: Tenant, resource_id: str, needs: Needs | None, /
    ) -> tuple[Model, dict | None]:
        """Return the resource and, when they were read with it, its related attributes that
        `needs` asks for (None: read them with `related`)."""

    def related(self, tenant: Tenant, objs: list, needs: Needs, /) -> dict:
        """Return the related attributes of `objs` that `needs` asks for, by resource id."""

    def source(self) -> Source:
        """Return what the filter and sort compiler (`storage.query`) reads the type from."""

    def search(self, tenant: Tenant, request: ListRequest, needs: Needs | None = None, /) -> Page:
        """Return the page of the tenant's resources that `request` asks for, with PAGE_RELATED
        read along when `needs` asks for it."""

    def create(
        self,
        tenant: Tenant,
        document: dict,
        /,
        *,
        needs: Needs | None = None,
        pk: uuid.UUID | None = None,
    ) -> Written:
        """Store a new resource from a parsed document, with the id `pk` if given."""

    def replace(
        self,
        tenant: Tenant,
        resource_id: str,
        document: dict,
        expected_version=None,
        /,
        *,
        needs: Needs | None = None,
    ) -> Written:
        """Replace a resource's document, if its version is one `expected_version` allows."""

    def patch(
        self,
        tenant: Tenant,
        resource_id: str,
        patcher: Patcher,
        expected_version=None,
        /,
        *,
        needs: Needs | None = None,
    ) -> Written:
        """Change a resource with `patcher`, if its version is one `expected_version` allows."""

    def delete(self, tenant: Tenant, resource_id: str, expected_version=None, /) -> None:
        """Delete a resource, if its version is one `expected_version` allows."""


class MemberStore(Store, Protocol):
    """The storage of a resource type with members (Groups), which the detail view streams."""

    # The members attribute, stored as rows.
    MEMBERS: Attribute

    def read_with_members(self, tenant: Tenant, resource_id: str, /) -> tuple[Model, MemberRows]:
        """Return the resource and its member rows, read from one snapshot; the rows are
        read once, or closed unread."""
