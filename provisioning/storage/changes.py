"""Change records: what each write of a User or Group changed, who made it, and through which
request, written in the write's own transaction (so a write that fails records nothing); and
the signals that tell the host application once that transaction has committed.

Every write of the stores calls `record` once, after its rows are written; it costs one INSERT.
"""

import functools
import logging
from collections.abc import Sequence

from django.db import transaction

from .. import context, signals
from ..events import event_types
from ..models import ChangeRecord, Group, User
from ..scim.changes import MEMBERS, diff
from ..scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE

Operation = ChangeRecord.Operation

RESOURCE_TYPES = {User: USER_RESOURCE_TYPE, Group: GROUP_RESOURCE_TYPE}
NAME_ATTRIBUTES = {User: "userName", Group: "displayName"}
SIGNALS = {
    "user.created": signals.user_created,
    "user.updated": signals.user_updated,
    "user.deactivated": signals.user_deactivated,
    "user.reactivated": signals.user_reactivated,
    "user.deleted": signals.user_deleted,
    "group.created": signals.group_created,
    "group.updated": signals.group_updated,
    "group.deleted": signals.group_deleted,
    # One signal for both: a receiver gets the ids that joined and left together.
    "group.members_added": signals.group_members_changed,
    "group.members_removed": signals.group_members_changed,
}

logger = logging.getLogger(__name__)


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
    change = ChangeRecord.objects.create(
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
    transaction.on_commit(functools.partial(send_signals, type(obj), change))
    return change


def send_signals(sender: type[User | Group], change: ChangeRecord) -> None:
    """Send the signals of a committed change; a receiver that fails is logged, and the
    others still get the signal."""
    sent = set()
    for event_type in event_types(change.resource_type, change.operation, change.changes):
        signal = SIGNALS[event_type]
        if signal in sent or not signal.has_listeners(sender):
            continue
        sent.add(signal)
        arguments = {
            "tenant": change.tenant,
            "resource_id": change.resource_id,
            "record": change,
            "changed": list(change.changes),
        }
        if signal is signals.group_members_changed:
            members = change.changes[MEMBERS]
            arguments.update(added=members["added"], removed=members["removed"])
        for receiver, error in signal.send_robust(sender, **arguments):
            if isinstance(error, Exception):
                logger.error("Receiver %r of %s failed", receiver, event_type, exc_info=error)
