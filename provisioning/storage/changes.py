"""Change records: what each write of a User or Group changed, who made it, and through which
request, written in the write's own transaction (so a write that fails records nothing).

Every write of the stores calls `record` once, after its rows are written; it costs one INSERT.
"""

from collections.abc import Sequence

from .. import context
from ..models import ChangeRecord, Group, User
from ..scim.changes import MEMBERS, diff
from ..scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE

Operation = ChangeRecord.Operation

RESOURCE_TYPES = {User: USER_RESOURCE_TYPE, Group: GROUP_RESOURCE_TYPE}
NAME_ATTRIBUTES = {User: "userName", Group: "displayName"}


def record(
    obj: User | Group,
    operation: Operation,
    before: dict | None,
    *,
    added: Sequence = (),
    removed: Sequence = (),
) -> ChangeRecord:
    """Record that `operation` changed `obj` from the document `before` to its current one.

    `added` and `removed` are the ids of the members a group write added and removed. A PATCH
    of a group that only added members is recorded as `member_add`, one that only removed
    members as `member_remove`.
    """
    after = None if operation == Operation.DELETE else obj.data
    changes = diff(RESOURCE_TYPES[type(obj)], before, after)
    if added or removed:
        changes[MEMBERS] = {"added": [str(i) for i in added], "removed": [str(i) for i in removed]}
    if operation == Operation.PATCH and changes.keys() == {MEMBERS}:
        if not removed:
            operation = Operation.MEMBER_ADD
        elif not added:
            operation = Operation.MEMBER_REMOVE
    actor = context.current()
    document = before if after is None else after
    return ChangeRecord.objects.create(
        tenant_id=obj.tenant_id,
        token_name=actor.token_name,
        token_prefix=actor.token_prefix,
        admin_user=actor.admin_user,
        request_id=actor.request_id,
        client_ip=actor.client_ip,
        user_agent=actor.user_agent,
        operation=operation,
        resource_type=RESOURCE_TYPES[type(obj)].id,
        resource_id=obj.pk,
        external_id=document.get("externalId"),
        name=document.get(NAME_ATTRIBUTES[type(obj)]) or "",
        version=obj.version,
        changes=changes,
    )
