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
import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from django.db import connection, models, transaction
from django.utils import timezone

from .. import authsync, context, signals
from ..events import event_types
from ..models import ChangeRecord, Group, User
from ..scim.changes import MEMBERS, diff, new_values
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
# trip for all this. The record's columns come from the model; the outbox part fans the
# change's events out to the tenant's endpoints that want them (`user.*` matches every user
# event), in event order. Both are parts of one statement (`Together`), with the write itself
# when the store sends that along: then `{source}` makes the record depend on it.
RECORD_FIELDS = [f for f in ChangeRecord._meta.concrete_fields if not f.primary_key]
# Those that may be equal in several records of `record_many` (`changes` never is).
RECORD_NAMES = [f.attname for f in RECORD_FIELDS if f.attname != "changes"]
# The values go as they are, the JSON as text (`_columns`): a column whose type the INSERT's
# SELECT cannot give its value by assignment is cast.
CASTS = {models.JSONField: "::jsonb", models.GenericIPAddressField: "::inet"}
CHANGE = f"""
    INSERT INTO provisioning_changerecord ({", ".join(f.column for f in RECORD_FIELDS)})
    SELECT {", ".join("%s" + CASTS.get(type(f), "") for f in RECORD_FIELDS)} {{source}}
    RETURNING id
"""
OUTBOX = """
    INSERT INTO provisioning_webhookdelivery
        (tenant_id, endpoint_id, event_id, event_type, resource_id, data, created, status,
         attempts, next_attempt_at, last_error)
    SELECT endpoint.tenant_id, endpoint.id, (event.value->>'id')::uuid,
           event.value->>'type', (event.value->>'resource')::uuid, event.value->'data', %s,
           'pending', 0, %s, ''
    FROM provisioning_webhookendpoint AS endpoint,
         jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS event(value, n)
    WHERE endpoint.tenant_id = %s
      AND EXISTS (SELECT FROM change)
      AND EXISTS (
          SELECT 1 FROM unnest(endpoint.events) AS wanted
          WHERE event.value->>'type' LIKE replace(wanted, '*', '%%')
      )
    ORDER BY event.n, endpoint.id
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
    records = _Records(context.current(), timezone.now(), 1)
    values, events = records.add(Entry(obj, operation, before, added, removed))
    change = unsaved(ChangeRecord, id=None, **values)
    statement = write or Together()
    source = "FROM resource" if write else ""
    statement.add("change", CHANGE.format(source=source), _columns(change))
    outbox = [change.created, change.created, json_text(events), obj.tenant_id]
    statement.add("outbox", OUTBOX, outbox)
    rows = statement.rows("SELECT id FROM change")
    if not rows:
        return None
    (change.pk,) = rows[0]
    _recorded(obj, change, added, removed)
    return change


class Entry(NamedTuple):
    """One change for `record_many`: what `record` takes, and the version the change led to
    when it is not the object's current one (several changes of one group written at once)."""

    obj: User | Group
    operation: Operation
    before: dict | None
    added: Sequence = ()
    removed: Sequence = ()
    version: int | None = None


def record_many(entries: Sequence[Entry]) -> None:
    """Record several changes with one statement (a Bulk request's writes made together):
    each is recorded, queued and signalled exactly as `record` does it.

    The records go to the statement as the values of their columns, and become model
    instances only for what receives them (the linked Django logins, signal receivers): a
    Bulk of a thousand member adds is a thousand records, and an instance each cost about a
    tenth of such a Bulk's CPU.
    """
    if not entries:
        return
    now = timezone.now()
    made = _Records(context.current(), now, len(entries))
    records, events = [], []
    for entry in entries:
        values, its_events = made.add(entry)
        records.append(values)
        events += its_events
    # What all the records share goes once, as a parameter, rather than once per record: the
    # records of a run of member adds differ in `version` and `changes` only, and PostgreSQL
    # read the rest a thousand times over in about half the statement's time.
    first, varying = records[0], {"changes"}
    for name in RECORD_NAMES:
        column = [r[name] for r in records]
        if column.count(column[0]) != len(column):
            varying.add(name)
    shared = [_column(f, first[f.attname]) for f in RECORD_FIELDS if f.attname not in varying]
    rows = [{name: r[name] for name in varying} for r in records]
    with connection.cursor() as cursor:
        cursor.execute(
            _records_and_outbox_sql(frozenset(varying)),
            [*shared, json_text(rows), now, now, json_text(events), entries[0].obj.tenant_id],
        )
        # RETURNING gives the rows in the order of the array they were inserted from.
        ids = [pk for (pk,) in cursor.fetchall()]
    sender = type(entries[0].obj)
    saved = _Saved(records, ids, connection.alias)
    if authsync.syncs(sender):
        for entry, change in zip(entries, saved.changes(), strict=True):
            authsync.sync(entry.obj, change, entry.added, entry.removed)
    # One commit hook for them all.
    transaction.on_commit(functools.partial(_send_all_signals, sender, saved))


class _Saved:
    """The records `record_many` wrote, made into saved instances once, when first asked."""

    def __init__(self, records: list[dict], ids: list[int], alias: str) -> None:
        self.records, self.ids, self.alias = records, ids, alias
        self.made: list[ChangeRecord] | None = None

    def changes(self) -> list[ChangeRecord]:
        if self.made is None:
            self.made = []
            for values, pk in zip(self.records, self.ids, strict=True):
                change = unsaved(ChangeRecord, id=pk, **values)
                _written(change, self.alias)
                self.made.append(change)
        return self.made


class _Records:
    """Builds the values of change records (by field, the key aside) and their events, made
    by `actor` at `created`, as OUTBOX reads the events: each with a new id, its type, the
    resource it is about and its `data`. `expected` is how many records are to come.

    What the records of one object from one document share (a run of member adds: all but
    their version and members) is worked out once: per record, it was most of the cost of
    the records of a Bulk of member adds."""

    def __init__(self, actor: context.Actor, created, expected: int) -> None:
        self.made_by = {
            "created": created,
            "token_name": actor.token_name,
            "token_prefix": actor.token_prefix,
            "admin_user": actor.admin_user,
            "request_id": actor.request_id,
            "client_ip": actor.client_ip,
            "user_agent": actor.user_agent,
        }
        self.ids = _random_ids(expected)
        self.shared: dict[tuple, tuple[dict, dict, dict, list[str], str]] = {}

    def add(self, entry: Entry) -> tuple[dict, list[dict]]:
        """Return the values of `entry`'s record, and its events."""
        obj, operation, before, added, removed, version = entry
        key = (id(obj), id(before), operation, bool(added), bool(removed))
        shared = self.shared.get(key)
        if shared is None:
            shared = self.shared[key] = self._shared(entry)
        values, changes, data, types, resource = shared
        if added or removed:
            members = {"added": [str(i) for i in added], "removed": [str(i) for i in removed]}
            changes = {**changes, MEMBERS: members}
        values = {
            **values,
            "version": obj.version if version is None else version,
            "changes": changes,
        }
        data = {
            **data,
            "version": values["version"],
            "changes": {} if operation == Operation.DELETE else new_values(changes),
        }
        ids = self.ids
        events = [
            {"id": next(ids), "type": event_type, "resource": resource, "data": data}
            for event_type in types
        ]
        return values, events

    def _shared(self, entry: Entry) -> tuple[dict, dict, dict, list[str], str]:
        """Return what the records of `entry`'s object from its document share: their
        fields but version and changes, the attribute changes, their events' data but
        version and changes, the types of their events, and the resource's id as text."""
        obj, operation, before, added, removed, _ = entry
        resource_type = RESOURCE_TYPES[type(obj)]
        after = None if operation == Operation.DELETE else obj.data
        changes = diff(resource_type, before, after)
        if (added or removed) and operation == Operation.PATCH and not changes:
            # Only members changed.
            if not removed:
                operation = Operation.MEMBER_ADD
            elif not added:
                operation = Operation.MEMBER_REMOVE
        document = before if after is None else after
        name_attribute = NAME_ATTRIBUTES[type(obj)]
        values = {
            **self.made_by,
            "tenant_id": obj.tenant_id,
            "operation": operation,
            "resource_type": resource_type.id,
            "resource_id": obj.pk,
            "external_id": document.get("externalId"),
            "name": document.get(name_attribute) or "",
        }
        data = {
            "resourceType": resource_type.id,
            "id": str(obj.pk),
            "externalId": values["external_id"],
            name_attribute: values["name"],
        }
        members = {MEMBERS: {"added": added, "removed": removed}} if added or removed else {}
        types = event_types(resource_type.id, operation, {**changes, **members})
        return values, changes, data, types, data["id"]


def _recorded(obj: User | Group, change: ChangeRecord, added, removed) -> None:
    """Finish a written change: the linked Django login, and the signals once committed."""
    _written(change, connection.alias)
    authsync.sync(obj, change, added, removed)
    transaction.on_commit(functools.partial(send_signals, type(obj), change))


def _written(change: ChangeRecord, alias: str) -> None:
    """Mark the record as a saved row of the database `alias`."""
    change._state.adding = False
    change._state.db = alias


def _send_all_signals(sender: type[User | Group], saved: _Saved) -> None:
    """Send the signals of several committed changes of `sender`'s type, in their order."""
    if not any(signal.has_listeners(sender) for signal in set(SIGNALS.values())):
        return
    for change in saved.changes():
        send_signals(sender, change)


def _columns(change: ChangeRecord) -> list:
    """Return the record's column values, in the order of RECORD_FIELDS: its attributes, the
    JSON as text (Django's JSON preparation cost a tenth of a PATCH's CPU)."""
    return [_column(field, getattr(change, field.attname)) for field in RECORD_FIELDS]


def _column(field: models.Field, value):
    """Return the value of a record's field as a parameter of CHANGE: JSON as text."""
    return json_text(value) if isinstance(field, models.JSONField) else value


# The bits of a random UUID that say it is one (RFC 9562 §5.4): version 4, variant 10.
_UUID_KEPT = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _random_ids(batch: int) -> Iterator[str]:
    """Yield new random UUIDs (version 4, what `uuid.uuid4` makes) as text, reading the
    system's randomness once per `batch` of them: `str(uuid.uuid4())` per event was a third
    of the cost of building the events of a Bulk's member adds."""
    while True:
        random = os.urandom(16 * batch)
        for start in range(0, len(random), 16):
            digits = "%032x" % (int.from_bytes(random[start : start + 16]) & _UUID_KEPT | _UUID_SET)
            yield f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


@functools.cache
def _records_and_outbox_sql(varying: frozenset[str]) -> str:
    """Return CHANGE for many records, with OUTBOX for the events of them all. The fields in
    `varying` (attribute names) come from one JSON array of objects, one per record; each
    other field has one value for all the records, a parameter of its own, in the order of
    RECORD_FIELDS, before the array."""
    columns = ", ".join(f.column for f in RECORD_FIELDS)
    values = ", ".join(
        f"record.{f.attname}" if f.attname in varying else "%s" + CASTS.get(type(f), "")
        for f in RECORD_FIELDS
    )
    types = ", ".join(
        f"{f.attname} {f.db_type(connection)}" for f in RECORD_FIELDS if f.attname in varying
    )
    return f"""
    WITH change AS (
        INSERT INTO provisioning_changerecord ({columns})
        SELECT {values} FROM jsonb_to_recordset(%s::jsonb) AS record({types})
        RETURNING id
    ), outbox AS ({OUTBOX}    )
    SELECT id FROM change
    """


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
