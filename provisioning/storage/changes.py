"""Change records: what each write of a User or Group changed, who made it, and through which
request, written in the write's own transaction (so a write that fails records nothing); and
what follows a change: its webhook events in the outbox, in the same transaction, and the
signals that tell the host application once that transaction has committed.

Every write of the stores calls `record` once. It costs at most one SQL statement: the INSERT
of the change record, with the INSERT ... SELECT that writes the change's events into the
outbox (one row per event and endpoint that wants it, none when the tenant has no endpoint)
as a data-modifying CTE of the same statement; a store may send its own write in that
statement too, which then costs no statement more than the write alone. With
`SCIM_SYNC_AUTH_USERS` or `SCIM_SYNC_AUTH_GROUPS` on, the linked Django user or group is
brought in step too (`provisioning.authsync`), in the same transaction.
"""

import functools
import logging
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from .. import authsync, context, signals
from ..events import event_types
from ..models import ChangeRecord, Group, Tenant, User
from ..scim.changes import MEMBERS, diff
from ..scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE
from .statements import Together, json_text, unsaved

Operation = ChangeRecord.Operation

RESOURCE_TYPES = {User: USER_RESOURCE_TYPE, Group: GROUP_RESOURCE_TYPE}
# The attribute that names a resource in its change records and events (`names_resource`).
NAME_ATTRIBUTES = {model: rt.name_attribute.name for model, rt in RESOURCE_TYPES.items()}
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

# The ORM has neither INSERT ... SELECT nor writable CTEs, and a write should pay one round
# trip for all this. A change is three parts of one statement (`Together`), with the write
# itself when the store sends that along:
# - `record`: the records' values, each with its key from the table's sequence and the types
#   of its events (`provisioning.events`). What all the records share is one parameter each;
#   what differs comes as one JSON array of objects, one per record. With the write, `FROM
#   resource` makes the record depend on the written row. It calls nextval(), so PostgreSQL
#   runs it once and keeps its rows (a CTE with a volatile function is never folded into the
#   parts that read it).
# - `change`: the INSERT of the records, whose keys `record` gave in their order.
# - `outbox`: the events of each record, one row per event and endpoint of the tenant that
#   wants it (`user.*` matches every user event), in record and event order, their bodies built
#   from the records (built in Python, they were half the cost of a Bulk's records). An event's
#   `changes` are the new value of each changed attribute, member changes as the ids added and
#   removed; a deleted resource's event has none.
RECORD_FIELDS = [f for f in ChangeRecord._meta.concrete_fields if not f.primary_key]
# The fields of a record but its version and changes, which differ between records anyway:
# who made it and what it is about, often the same for all the records of a statement.
OTHER_NAMES = [f.attname for f in RECORD_FIELDS if f.attname not in ("version", "changes")]
# A column of `record` that is not the table's: the types of the record's events.
TYPES = "types"
CHANGE = f"""
    INSERT INTO {ChangeRecord._meta.db_table}
        ({ChangeRecord._meta.pk.column}, {", ".join(f.column for f in RECORD_FIELDS)})
    SELECT id, {", ".join(f.attname for f in RECORD_FIELDS)} FROM record
"""
OUTBOX = f"""
    INSERT INTO provisioning_webhookdelivery
        (tenant_id, endpoint_id, event_id, event_type, resource_id, data, created, status,
         attempts, next_attempt_at, last_error)
    SELECT endpoint.tenant_id, endpoint.id, gen_random_uuid(), event.type, record.resource_id,
           jsonb_build_object(
               'resourceType', record.resource_type, 'id', record.resource_id,
               'externalId', record.external_id, %s::text, record.name,
               'version', record.version,
               'changes', CASE WHEN record.operation = '{Operation.DELETE.value}' THEN '{{}}'
                   ELSE (
                       SELECT coalesce(jsonb_object_agg(
                           change.key,
                           CASE change.key WHEN '{MEMBERS}' THEN change.value
                           ELSE change.value->'after' END
                       ), '{{}}')
                       FROM jsonb_each(record.changes) AS change
                   ) END
           ),
           %s, 'pending', 0, %s, ''
    FROM record, unnest(record.{TYPES}) WITH ORDINALITY AS event(type, k),
         provisioning_webhookendpoint AS endpoint
    WHERE endpoint.tenant_id = record.tenant_id
      AND EXISTS (
          SELECT 1 FROM unnest(endpoint.events) AS wanted
          WHERE event.type LIKE replace(wanted, '*', '%%')
      )
    ORDER BY record.n, event.k, endpoint.id
"""


def record(
    obj: User | Group,
    operation: Operation,
    before: dict | None,
    *,
    added: Sequence = (),
    removed: Sequence = (),
    write: Together | None = None,
) -> ChangeRecord | None:
    """Record that `operation` changed `obj` from the document `before` to its current one,
    and queue its webhook events.

    `added` and `removed` are the ids of the members a group write added and removed. A PATCH
    of a group that only added members is recorded as `member_add`, one that only removed
    members as `member_remove`.

    `write` is the write itself, not yet sent, whose part `resource` returns the written row:
    the record joins it in one statement, and exists only if that row was written. None is
    returned when it was not (a guarded UPDATE that found another write had come first).
    """
    records = _Records(context.current(), timezone.now())
    records.add(Entry(obj, operation, before, added, removed))
    saved = records.send(write or Together(), after_write=write is not None)
    if not saved.ids:
        return None
    (change,) = saved.changes()
    authsync.sync(obj, change, added, removed)
    transaction.on_commit(functools.partial(send_signals, type(obj), change))
    return change


class Entry(NamedTuple):
    """One change for `record_many`: what `record` takes."""

    obj: User | Group
    operation: Operation
    before: dict | None
    added: Sequence = ()
    removed: Sequence = ()


def record_many(entries: Sequence[Entry]) -> None:
    """Record several changes of objects of one model with one statement (a Bulk request's
    writes made together): each is recorded, queued and signalled exactly as `record` does
    it.

    The records become model instances only for what receives them (the linked Django
    logins, signal receivers): a Bulk of a thousand creates is a thousand records, which as model
    instances cost tens of milliseconds more.
    """
    if not entries:
        return
    records = _Records(context.current(), timezone.now())
    for entry in entries:
        records.add(entry)
    saved = records.send(Together(), after_write=False)
    sender = type(entries[0].obj)
    if authsync.syncs(sender):
        for entry, change in zip(entries, saved.changes(), strict=True):
            authsync.sync(entry.obj, change, entry.added, entry.removed)
    # One commit hook for them all.
    transaction.on_commit(functools.partial(_send_all_signals, sender, saved))


class _Record(NamedTuple):
    """A change record to write: the values of its fields but version and changes, the
    types of its events, its version and its changes."""

    values: dict
    types: list[str]
    version: int
    changes: dict


class _Saved:
    """Written change records: their keys, and the records made into saved instances once,
    when first asked."""

    def __init__(self, records: list[_Record], ids: list[int], tenants: dict[int, Tenant]) -> None:
        self.records, self.ids, self.tenants = records, ids, tenants
        self.alias = connection.alias
        self.made: list[ChangeRecord] | None = None

    def changes(self) -> list[ChangeRecord]:
        if self.made is None:
            self.made = []
            for (values, _, version, changes), pk in zip(self.records, self.ids, strict=True):
                if MEMBERS in changes:
                    members = {key: [str(i) for i in ids] for key, ids in changes[MEMBERS].items()}
                    changes = {**changes, MEMBERS: members}
                change = unsaved(ChangeRecord, id=pk, version=version, changes=changes, **values)
                change._state.adding = False
                change._state.db = self.alias
                if (tenant := self.tenants.get(change.tenant_id)) is not None:
                    ChangeRecord.tenant.field.set_cached_value(change, tenant)
                self.made.append(change)
        return self.made


class _Records:
    """The change records of one statement, made by `actor` at `created`."""

    def __init__(self, actor: context.Actor, created) -> None:
        self.made_by = {
            "created": created,
            "token_name": actor.token_name,
            "token_prefix": actor.token_prefix,
            "admin_user": actor.admin_user,
            "request_id": actor.request_id,
            "client_ip": actor.client_ip,
            "user_agent": actor.user_agent,
        }
        self.records: list[_Record] = []
        # The tenants of the objects, by id, where the object holds it: the records' signals
        # send it, and asked of a record alone it is a query each.
        self.tenants: dict[int, Tenant] = {}
        self.name_attribute = ""

    def add(self, entry: Entry) -> None:
        obj, operation, before, added, removed = entry
        resource_type = RESOURCE_TYPES[type(obj)]
        after = None if operation == Operation.DELETE else obj.data
        changes = diff(resource_type, before, after)
        if (added or removed) and operation == Operation.PATCH and not changes:
            # Only members changed.
            if not removed:
                operation = Operation.MEMBER_ADD
            elif not added:
                operation = Operation.MEMBER_REMOVE
        if added or removed:
            # The ids as they are (UUIDs or text): written as text by orjson, and made text
            # for the records made instances (`_Saved`): `str` of a thousand UUIDs cost more
            # than the rest of a record of a thousand members added.
            changes[MEMBERS] = {"added": added, "removed": removed}
        document = before if after is None else after
        tenant = type(obj).tenant.field.get_cached_value(obj, None)
        if tenant is not None:
            self.tenants[obj.tenant_id] = tenant
        self.name_attribute = NAME_ATTRIBUTES[type(obj)]
        values = {
            **self.made_by,
            "tenant_id": obj.tenant_id,
            "operation": operation,
            "resource_type": resource_type.id,
            "resource_id": obj.pk,
            "external_id": document.get("externalId"),
            "name": document.get(self.name_attribute) or "",
        }
        types = event_types(resource_type.id, operation, changes)
        self.records.append(_Record(values, types, obj.version, changes))

    def send(self, statement: Together, *, after_write: bool) -> _Saved:
        """Add the records and their events to `statement`, which holds the write (its part
        `resource`) when `after_write`, and run it."""
        varying = self._varying()
        first = self.records[0]
        whole = {**first.values, "version": first.version, "changes": first.changes}
        whole[TYPES] = first.types
        params = [
            json_text(whole[name]) if name == "changes" else whole[name]
            for name in _RECORD_COLUMNS
            if name not in varying
        ]
        if varying:
            params.append(json_text(self._rows(varying)))
        statement.add("record", _record_sql(varying, after_write), params)
        statement.add("change", CHANGE)
        created = self.made_by["created"]
        statement.add("outbox", OUTBOX, [self.name_attribute, created, created])
        ids = [pk for (pk,) in statement.rows("SELECT id FROM record ORDER BY n")]
        return _Saved(self.records, ids, self.tenants)

    def _rows(self, varying: frozenset[str]) -> list[dict]:
        """Return the values of each record in the columns `varying`, by name."""
        names = [name for name in OTHER_NAMES if name in varying]
        rows = []
        for record in self.records:
            row = {name: record.values[name] for name in names}
            row["version"], row["changes"] = record.version, record.changes
            if TYPES in varying:
                row[TYPES] = record.types
            rows.append(row)
        return rows

    def _varying(self) -> frozenset[str]:
        """Return the columns of `record` whose values differ between the records: none for
        one record; else their versions and changes, and the others that differ."""
        if len(self.records) == 1:
            return frozenset()
        varying = {"version", "changes"}
        first, *others = self.records
        for record in others:
            varying.update(
                name for name in OTHER_NAMES if record.values[name] != first.values[name]
            )
            if record.types != first.types:
                varying.add(TYPES)
        return frozenset(varying)


def _send_all_signals(sender: type[User | Group], saved: _Saved) -> None:
    """Send the signals of several committed changes of `sender`'s type, in their order."""
    if not any(signal.has_listeners(sender) for signal in set(SIGNALS.values())):
        return
    for change in saved.changes():
        send_signals(sender, change)


# The columns of `record`, in order: the table's and the types of the events.
_RECORD_COLUMNS = [f.attname for f in RECORD_FIELDS] + [TYPES]


@functools.cache
def _record_sql(varying: frozenset[str], after_write: bool) -> str:
    """Return the part `record` of a change's statement. The columns in `varying` come from
    one JSON array of objects, one per record, the last parameter; each other column has one
    value for all the records, a parameter of its own, in the order of `_RECORD_COLUMNS`."""
    types = {f.attname: f.db_type(connection) for f in RECORD_FIELDS} | {TYPES: "text[]"}
    columns = ", ".join(
        f"given.{name}" if name in varying else f"%s::{types[name]} AS {name}"
        for name in _RECORD_COLUMNS
    )
    sequence = f"{ChangeRecord._meta.db_table}_{ChangeRecord._meta.pk.column}_seq"
    if varying:
        names = [name for name in _RECORD_COLUMNS if name in varying]
        definitions = ", ".join(f"{name} {types[name]}" for name in names)
        source = (
            f"FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS ({definitions}))"
            f" WITH ORDINALITY AS given({', '.join(names)}, n)"
        )
        order = "given.n"
    else:
        source, order = "FROM resource" if after_write else "", "1"
    return f"SELECT nextval('{sequence}') AS id, {order} AS n, {columns} {source}"


def delete_left_behind(sender, instance: Tenant, using: str, **kwargs) -> None:
    """Delete, once a tenant's row is deleted, the records of it that its cascade did not:
    those of a write that was waiting for a row the cascade deleted, and committed its record
    after the cascade deleted the tenant's records. The records have no foreign key to be
    refused by (`ChangeRecord.tenant`); this statement runs after every row of the tenant is
    gone, so no later write can record a change of it. Connected in `ProvisioningConfig`."""
    ChangeRecord.objects.using(using).filter(tenant_id=instance.pk).delete()


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
