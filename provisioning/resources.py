"""The writes of each resource type, as a single request and a Bulk operation make them: read
the body (`parse_resource`, `apply_patch`), then call the store. Both the views and Bulk
(`provisioning.bulk`) call these, so an operation is checked and stored exactly as the single
request would be."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .scim.dialect import NO_LENIENCY, Leniency
from .scim.patch import apply_patch
from .scim.resource import parse_resource
from .scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE, ResourceType
from .storage import groups, users
from .storage.common import Needs, Written
from .storage.store import MemberStore, Store

# The interface of the resource type's storage module: `Store`, or a narrower one.
S = TypeVar("S", bound=Store)


@dataclass(frozen=True, eq=False)
class Resource(Generic[S]):
    """A resource type and the storage module that keeps it."""

    type: ResourceType
    store: S
    # Whether a PATCH answers 204 rather than the whole resource, unless `attributes` asks
    # for it (RFC 7644 §3.5.2): Groups, whose member lists can be long.
    patch_no_content: bool = False

    # Each write reads its body with the IdP leniencies of the connection's dialect
    # (`provisioning.scim.dialect`); none, the letter of the RFC, unless told.

    def create(
        self,
        tenant,
        body: Any,
        needs: Needs | None = None,
        pk: uuid.UUID | None = None,
        leniencies: frozenset[Leniency] = NO_LENIENCY,
    ) -> Written:
        """Create a resource from a POST body (RFC 7644 §3.3), with the id `pk` if given."""
        document = parse_resource(body, self.type, leniencies)
        return self.store.create(tenant, document, needs=needs, pk=pk)

    def replace(
        self,
        tenant,
        resource_id: str,
        body: Any,
        expected=None,
        needs: Needs | None = None,
        leniencies: frozenset[Leniency] = NO_LENIENCY,
    ) -> Written:
        """Replace a resource with a PUT body (RFC 7644 §3.5.1)."""
        document = parse_resource(body, self.type, leniencies)
        return self.store.replace(tenant, resource_id, document, expected, needs=needs)

    def patch(
        self,
        tenant,
        resource_id: str,
        body: Any,
        expected=None,
        needs: Needs | None = None,
        leniencies: frozenset[Leniency] = NO_LENIENCY,
    ) -> Written:
        """Apply a PatchOp body to a resource (RFC 7644 §3.5.2)."""
        patcher = self.patcher(body, leniencies)
        return self.store.patch(tenant, resource_id, patcher, expected, needs=needs)

    def patcher(self, body: Any, leniencies: frozenset[Leniency] = NO_LENIENCY):
        """Return the function that applies the PatchOp `body` to a stored document."""
        return lambda document: apply_patch(
            self.type,
            document,
            body,
            # Attributes stored as rows, not in the document: PATCH hands their changes over.
            row_attributes=self.type.row_attributes,
            leniencies=leniencies,
        )

    def delete(self, tenant, resource_id: str, expected=None) -> None:
        """Delete a resource (RFC 7644 §3.6)."""
        self.store.delete(tenant, resource_id, expected)


USERS: Resource[Store] = Resource(USER_RESOURCE_TYPE, users)
GROUPS: Resource[MemberStore] = Resource(GROUP_RESOURCE_TYPE, groups, patch_no_content=True)
RESOURCES: tuple[Resource, ...] = (USERS, GROUPS)
