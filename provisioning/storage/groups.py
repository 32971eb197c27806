"""Groups in PostgreSQL, with membership as rows (RFC 7643 §4.2).

A group's document holds its displayName and externalId; its members are `Membership` rows,
never a list inside the document. Adding or removing k members costs O(k) queries' worth of
rows whatever the group's size; adding a member already there, or removing one already gone,
changes nothing. Every write to a group locks its row first, so concurrent PATCHes to one
group are applied one after the other and none is lost.
"""

from __future__ import annotations

import functools
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, OuterRef, Q, Subquery
from django.utils import timezone

from ..models import Group, Membership, Tenant, User
from ..scim.errors import InvalidFilter, InvalidValue, NoTarget, NotFound, SCIMError
from ..scim.filter import Compare, Filter, Present
from ..scim.list_request import ListRequest
from ..scim.resource import parse_id
from ..scim.schema import (
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    Attribute,
    Rows,
    shown_attributes,
    shown_column,
)
from . import mirrors
from .changes import Operation, record
from .common import (
    Needs,
    Patcher,
    Written,
    check_version,
    get_one,
    mark_changed,
    parse_pk,
    retry_on_deadlock,
    touch,
    touch_ids,
    unique,
    written,
)
from .listing import TENANT, Page, list_page
from .query import EVERYTHING, NOTHING, Source, element_q
from .statements import Slot, insert, instance, settle_pending, update, uuid_array

DISPLAY_NAME_CONSTRAINT = "provisioning_group_displayname_ci_unique"
# A group's members, kept as `Membership` rows (RFC 7643 §4.2), and the sub-attributes those
# rows store (the others are worked out when the group is read).
(MEMBERS,) = GROUP_RESOURCE_TYPE.kept_in(Rows.MEMBERS)
_STORED = " and ".join(f"'{sub.name}'" for sub in MEMBERS.sub_attributes if not sub.derived)
# The attributes of a group that its users' `groups` and the `members` of the groups holding it
# show (its `displayName`): a change of one moves their versions.
SHOWN = shown_attributes(GROUP_RESOURCE_TYPE)
# The columns those references read what they show from (`shows` in the schema table): a
# member's `display`, a user's and a group's; a user's `groups[].display`, the group's.
(_GROUPS,) = USER_RESOURCE_TYPE.kept_in(Rows.MEMBERSHIPS)
USER_DISPLAY = shown_column(MEMBERS, "display", USER_RESOURCE_TYPE)
MEMBER_GROUP_DISPLAY = shown_column(MEMBERS, "display", GROUP_RESOURCE_TYPE)
GROUP_DISPLAY = shown_column(_GROUPS, "display", GROUP_RESOURCE_TYPE)
# Nesting deeper than this is refused, which bounds every walk up or down the nesting.
MAX_NESTING = 32
# The first key of the advisory lock that makes a tenant's nesting changes one at a time.
NESTING_LOCK = 7644


@dataclass(frozen=True)
class Member:
    """A related resource as a reference lists it: a group's member, or a user's group."""

    id: uuid.UUID
    type: str  # "User" or "Group" for members; "direct" or "indirect" for a user's groups
    display: str | None
    endpoint: str  # where the referenced resource lives, e.g. "/Users"


# What a member's reference is built from: `_member` takes these in this order.
MEMBER_COLUMNS = (
    "user_id",
    f"user__{USER_DISPLAY}",
    "member_group_id",
    f"member_group__{MEMBER_GROUP_DISPLAY}",
)


def _member(user_id, user_display, group_id, group_display) -> Member:
    """Return a member; its display name is its displayName (RFC 7643 §8.4), when it has one."""
    if user_id is not None:
        return Member(user_id, "User", user_display, "/Users")
    return Member(group_id, "Group", group_display, "/Groups")


def related(tenant: Tenant, groups: list[Group], needs) -> dict[uuid.UUID, dict]:
    """Return the `members` of these groups with one query, unless the response leaves them out."""
    if not groups or not needs(MEMBERS.name):
        return {}
    return {pk: {MEMBERS.name: members} for pk, members in members_by_group(groups).items()}


def source() -> Source:
    """Return where filters and sorts find group attributes."""
    return Source(
        GROUP_RESOURCE_TYPE,
        values=lambda key: Membership.objects.filter(
            tenant_id=OuterRef("tenant_id"), group=OuterRef("pk")
        ),
        element_leaf=_member_leaf,
    )


def _member_leaf(sub: Attribute, node: Present | Compare) -> Q:
    """Compile a comparison on a member's `value` or `type` into a condition on its row.

    `display` and `$ref` are derived when a group is read, not stored with the membership, so
    a filter on them is refused rather than answered with nothing.
    """
    name = sub.name
    if sub.derived:
        raise InvalidFilter(f"Members can be filtered by {_STORED} only, not '{name}'.")
    if isinstance(node, Present):
        return EVERYTHING  # every member has an id and a type
    if node.op not in ("eq", "ne") or not isinstance(node.value, str):
        raise InvalidFilter(f"Members can be filtered by {_STORED} with eq and ne only.")
    if name == "value":
        # A member's value is its id, caseExact (RFC 7643 §3.1).
        member_id = parse_id(node.value)
        matched = (
            NOTHING if member_id is None else Q(user_id=member_id) | Q(member_group_id=member_id)
        )
    else:
        kinds = {"user": Q(user__isnull=False), "group": Q(member_group__isnull=False)}
        matched = kinds.get(node.value.lower(), NOTHING)
    return matched if node.op == "eq" else ~matched


class UsersBelow(Subquery):
    """The ids of the users in the groups a query selects, directly or through groups nested
    in them at any depth: the users whose `groups` show those groups (RFC 7643 §4.1.2).

    One statement: a recursive walk down the nesting (bounded by MAX_NESTING), then the
    users' membership rows of each group reached, each an index scan of `Membership` by
    (tenant, group), the keys that lead with the tenant (a subquery per group, so the planner
    never trades it for a scan of every membership on a guess of the walk's size). The
    subquery selects the groups' (tenant_id, id).
    """

    template = (
        "(WITH RECURSIVE below(tenant_id, id, depth) AS ("
        "SELECT seed.tenant_id, seed.id, 0 FROM (%(subquery)s) AS seed(tenant_id, id)"
        " UNION"
        " SELECT below.tenant_id, m.member_group_id, below.depth + 1 FROM below"
        " JOIN {membership} m ON m.tenant_id = below.tenant_id AND m.group_id = below.id"
        f" WHERE m.member_group_id IS NOT NULL AND below.depth < {MAX_NESTING}"
        ") SELECT unnest(ARRAY(SELECT m.user_id FROM {membership} m"
        " WHERE m.tenant_id = below.tenant_id AND m.group_id = below.id"
        " AND m.user_id IS NOT NULL)) FROM below)"
    ).replace("{membership}", Membership._meta.db_table)
    # Groups that no row can be (an id that is no id): the condition matches no user, which
    # the WHERE clause works out (NOT of it matches all), rather than a NULL array.
    empty_result_set_value = NotImplemented


def members_of(condition: Q) -> Q:
    """Return the condition on users "in a group matching `condition`, directly or not".

    The groups are those of the tenant of the statement's `TENANT` slot (every listing
    statement has it), so the walk is computed once per statement, never per user row.
    """
    seed = Group.objects.filter(tenant_id=Slot(TENANT)).filter(condition).values("tenant_id", "pk")
    return _one_of(UsersBelow(seed))


def users_below(group_ids: Iterable[uuid.UUID]) -> Q:
    """Return the condition on users in these groups or in groups nested in them."""
    groups = Group.objects.filter(pk__in=list(group_ids)).values("tenant_id", "pk")
    return _one_of(UsersBelow(groups))


def _one_of(users: UsersBelow) -> Q:
    """Return `id = ANY(ARRAY(users))`: the walk runs once, first, and the users it finds are
    read by primary key, whatever the planner guesses of their number (a recursive walk's
    size cannot be estimated, and a guess too large made it read every user of the tenant).
    The ids are never NULL, so `not` of it is two-valued."""
    return Q(
        Func(
            F("pk"),
            users,
            template="%(expressions)s)",
            arg_joiner=" = ANY(ARRAY",
            output_field=BooleanField(),
        )
    )


def get(tenant: Tenant, group_id: str, *, for_update: bool = False) -> Group:
    """Return the group `group_id` of `tenant`."""
    return get_one(Group, tenant, group_id, for_update=for_update)


def read(tenant: Tenant, group_id: str, needs: Needs | None) -> tuple[Group, None]:
    """Return the group `group_id` of `tenant`, its members left to `related` (None): a GET
    that shows them streams them instead (`read_with_members`)."""
    return get(tenant, group_id), None


@retry_on_deadlock
@transaction.atomic
def create(
    tenant: Tenant, document: dict, needs: Needs | None = None, pk: uuid.UUID | None = None
) -> Written:
    """Store a new group and its members; a displayName already taken is a 409.

    The `members` the answer shows (`needs`) are read before the transaction ends. Its id is
    new, or `pk` when the caller chose it (a Bulk request's circle of references).
    """
    document = dict(document)
    members = document.pop(MEMBERS.name, [])
    now = timezone.now()
    group = Group(
        tenant=tenant, data=document, created=now, last_modified=now, **_columns(document)
    )
    if pk is not None:
        group.pk = pk
    with _unique_display_name(document):
        insert([group])
    record(group, Operation.CREATE, None, added=_add(group, members))
    return written(tenant, group, related, needs)


@retry_on_deadlock
@transaction.atomic
def replace(
    tenant: Tenant, group_id: str, document: dict, expected_version=None, needs: Needs | None = None
) -> Written:
    """Replace the group (RFC 7644 §3.5.1): its attributes and its whole member list.

    The `members` the answer shows (`needs`) are read before the transaction ends.
    """
    group = get(tenant, group_id, for_update=True)
    check_version(group, expected_version)
    document = dict(document)
    added, removed = _set_members(group, document.pop(MEMBERS.name, []))
    return written(
        tenant, _write(group, document, Operation.REPLACE, added, removed), related, needs
    )


@retry_on_deadlock
@transaction.atomic
def patch(
    tenant: Tenant,
    group_id: str,
    operations: Patcher,
    expected_version=None,
    needs: Needs | None = None,
) -> Written:
    """Apply PATCH operations to the group under its row lock (RFC 7644 §3.5.2).

    Member changes touch only the rows they name, so their cost does not grow with the group.
    The `members` the answer shows (`needs`; none for a 204) are read before the transaction
    ends.
    """
    group = get(tenant, group_id, for_update=True)
    check_version(group, expected_version)
    result = operations(group.data)
    added, removed = [], []
    for change in result.member_changes:
        change_added, change_removed = _apply_member_change(group, change)
        added += change_added
        removed += change_removed
    return written(
        tenant, _write(group, result.document, Operation.PATCH, added, removed), related, needs
    )


def _write(group: Group, document: dict, operation: Operation, added: list, removed: list) -> Group:
    """Store the group's new document; move its version if it or its members changed.

    `added` and `removed` are the ids of the members the write added and removed.
    """
    renamed = any(shown.value(document) != shown.value(group.data) for shown in SHOWN)
    if document == group.data and not added and not removed:
        return group
    before, group.data = group.data, document
    for column, value in _columns(document).items():
        setattr(group, column, value)
    mark_changed(group)
    with _unique_display_name(document):
        update(group)
    if renamed:
        # The `groups` of the users in it, directly or not, and the member lists of the
        # groups holding it, show what changed.
        _lock_nesting(group.tenant_id)
        touch(User, users_below([group.pk]))
        touch(Group, Q(memberships__member_group=group))
    record(group, operation, before, added=added, removed=removed)
    return group


@retry_on_deadlock
@transaction.atomic
def delete(tenant: Tenant, group_id: str, expected_version=None) -> None:
    """Delete the group for good (RFC 7644 §3.6); its memberships go with it."""
    group = get(tenant, group_id, for_update=True)
    check_version(group, expected_version)
    _lock_nesting(group.tenant_id)
    touch(Group, Q(memberships__member_group=group))
    touch(User, users_below([group.pk]))  # their `groups` lose it, and those above it
    record(group, Operation.DELETE, group.data)
    group.delete()


# A group's members may be many: they are read apart, for the page's groups that show them
# (`related`), never with an index page's groups.
PAGE_RELATED = None


def search(tenant: Tenant, request: ListRequest, needs: Needs | None = None) -> Page:
    """Return the page of the tenant's groups that a list or search request asks for, with
    the related attribute its statement reads (PAGE_RELATED) when the answer shows it."""
    return list_page(Group, tenant, source(), request, PAGE_RELATED, needs)


# --- members -------------------------------------------------------------------------------


class MemberRows:
    """The members of a group as `read_with_members` read them: iterate once, in chunks from
    a server-side cursor, or close unread; closing ends the transaction they are read in."""

    def __init__(self, cursor, rows: list[tuple], chunk_size: int, block) -> None:
        self.cursor, self.rows, self.chunk_size, self.block = cursor, rows, chunk_size, block

    def __iter__(self) -> Iterator[Member]:
        try:
            rows = self.rows
            while rows:
                for row in rows:
                    yield _member(*row[-len(MEMBER_COLUMNS) :])
                rows = self.cursor.fetchmany(self.chunk_size)
        finally:
            self.close()

    def close(self) -> None:
        if self.cursor is None:
            return
        self.cursor.close()
        self.cursor = None
        if self.block is not None:
            self.block.__exit__(None, None, None)


def read_with_members(
    tenant: Tenant, group_id: str, chunk_size: int = 2000
) -> tuple[Group, MemberRows]:
    """Return the group `group_id` of `tenant` and its members in a stable order.

    Both come from one statement, so from one snapshot: the members are those of the
    version read, however the group changes meanwhile, and the answer's body matches its
    ETag (RFC 7644 §3.14). The rows come through a server-side cursor, a group of any size
    is never held in memory whole.

    The cursor is read inside a transaction, which `MemberRows.close` ends (a streamed
    response closes it when sent): outside one, Django declares it WITH HOLD so that it
    outlives its transaction, which PgBouncer in transaction mode does not allow (the next
    FETCH may reach another server connection), and PostgreSQL then copies the whole result
    at the commit.
    """
    pk = parse_pk(group_id, "Group")
    # The request's token is checked before the transaction that outlives this call begins:
    # a token found changed must not leave it open (`statements.ahead`).
    settle_pending()
    # Inside a transaction already (a test's), the cursor needs no block of its own.
    block = None if connection.in_atomic_block else transaction.atomic()
    if block is not None:
        block.__enter__()
    try:
        cursor = connection.chunked_cursor()
        cursor.execute(_with_members_sql(), [tenant.pk, pk, tenant.pk, pk])
        rows = cursor.fetchmany(chunk_size)
    except BaseException:
        if block is not None:
            block.__exit__(*sys.exc_info())
        raise
    members = MemberRows(cursor, rows[1:], chunk_size, block)
    if not rows or rows[0][0] != 0:
        members.close()
        raise NotFound(f"Group '{group_id}' not found.")
    width = len(Group._meta.concrete_fields)
    return instance(Group, rows[0][2 : 2 + width]), members


@functools.cache
def _with_members_sql() -> str:
    """Return the statement of `read_with_members`: the group's row first (part 0), then one
    row per member in the order of the (group, id) index (part 1)."""
    quote = connection.ops.quote_name
    membership, group, user = (quote(model._meta.db_table) for model in (Membership, Group, User))
    fields = Group._meta.concrete_fields
    group_columns = ", ".join(f"g.{quote(f.column)}" for f in fields)
    no_group = ", ".join("NULL" for _ in fields)
    return f"""
        SELECT 0, NULL::bigint, {group_columns},
               NULL::uuid, NULL::text, NULL::uuid, NULL::text
        FROM {group} g WHERE g.tenant_id = %s AND g.id = %s
        UNION ALL
        SELECT 1, m.id, {no_group},
               m.user_id, u.{quote(USER_DISPLAY)}, m.member_group_id, mg.{quote(MEMBER_GROUP_DISPLAY)}
        FROM {membership} m
        LEFT JOIN {user} u ON u.id = m.user_id
        LEFT JOIN {group} mg ON mg.id = m.member_group_id
        WHERE m.tenant_id = %s AND m.group_id = %s
        ORDER BY 1, 2
    """


def members_page(group: Group, after: int | None, limit: int) -> list[tuple[int, Member]]:
    """Return up to `limit` members of the group that come after the membership `after`, each
    with its membership's id, the next page's `after`. Keyset paging on the (group, id) index:
    every page costs the same, whatever the group's size. A user is shown by its userName,
    which every user has, rather than by its optional displayName."""
    rows = Membership.objects.filter(group=group).order_by("id")
    if after is not None:
        rows = rows.filter(id__gt=after)
    columns = (
        "user_id",
        "user__user_name",
        "member_group_id",
        f"member_group__{MEMBER_GROUP_DISPLAY}",
    )
    return [(pk, _member(*row)) for pk, *row in rows.values_list("id", *columns)[:limit]]


def members_by_group(groups: Iterable[Group]) -> dict[uuid.UUID, list[Member]]:
    """Return the members of several groups with one query (for list pages)."""
    members: dict[uuid.UUID, list[Member]] = {group.pk: [] for group in groups}
    rows = (
        Membership.objects.filter(group__in=list(members))
        .order_by("group_id", "id")
        .values_list("group_id", *MEMBER_COLUMNS)
    )
    for group_id, *member in rows:
        members[group_id].append(_member(*member))
    return members


def groups_of_users(tenant: Tenant, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Member]]:
    """Return each user's groups, direct and indirect (RFC 7643 §4.1.2 `groups`), with one
    statement whatever the number of users and the depth of nesting."""
    user_ids = list(user_ids)
    result: dict[uuid.UUID, list[Member]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return result
    sql = f"WITH RECURSIVE {user_groups('%s::uuid[]')} SELECT user_id, groups FROM user_groups"
    with connection.cursor() as cursor:
        cursor.execute(sql, [uuid_array(user_ids), tenant.pk, tenant.pk])
        for user_id, found in cursor.fetchall():
            result[user_id] = read_user_groups(found)
    return result


def user_groups(ids: str) -> str:
    """Return the CTEs that find the groups of the users whose ids are in the array `ids` (an
    SQL expression): `user_groups(user_id, groups)`, a row for each of those users that is in
    a group, its groups a JSON array of [id, direct, displayName], direct ones first, then
    indirect ones, each in the order of their ids. Two `%s` after those of `ids` take the
    tenant's id.

    A recursive walk up from the users' memberships, bounded by MAX_NESTING (cycles are
    refused on write, so it ends anyway); a group reached both ways is listed as direct. A
    statement that reads users puts these CTEs before its own (`WITH RECURSIVE`), so that a
    user and its groups are one round trip (`provisioning.storage.listing`, `users.get`).
    """
    membership, group = Membership._meta.db_table, Group._meta.db_table
    return f"""
        up(user_id, group_id, depth) AS (
            SELECT m.user_id, m.group_id, 0 FROM {membership} m
            WHERE m.user_id = ANY({ids}) AND m.tenant_id = %s
            UNION
            SELECT up.user_id, m.group_id, up.depth + 1 FROM up
            JOIN {membership} m ON m.member_group_id = up.group_id AND m.tenant_id = %s
            WHERE up.depth < {MAX_NESTING}
        ),
        user_groups(user_id, groups) AS (
            SELECT found.user_id, json_agg(
                json_build_array(found.group_id, found.direct, g.{GROUP_DISPLAY})
                ORDER BY NOT found.direct, found.group_id::text
            )
            FROM (
                SELECT user_id, group_id, bool_or(depth = 0) AS direct FROM up
                GROUP BY user_id, group_id
            ) AS found
            JOIN {group} g ON g.id = found.group_id
            GROUP BY found.user_id
        )
    """


def read_user_groups(found: list | None) -> list[Member]:
    """Return the groups of one user from the JSON array `user_groups` gives it."""
    if not found:
        return []
    return [
        Member(uuid.UUID(group_id), "direct" if direct else "indirect", display, "/Groups")
        for group_id, direct, display in found
    ]


def _apply_member_change(group: Group, change) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Apply one change of `members`; return the ids of the members it added and removed."""
    if change.op == "add":
        return _add(group, change.values), []
    if change.op == "replace" and change.value_filter is None:
        return _set_members(group, change.values)
    rows = _rows(group)
    if change.op == "replace":
        # RFC 7644 §3.5.2.3: the members the filter selects give way to the new values; a
        # filter that selects none is a noTarget.
        removed = _delete_members(group, rows.filter(_members_filter(group, change.value_filter)))
        if not removed:
            raise NoTarget("The members filter matched no member.")
        return _add(group, change.values), removed
    if change.values:
        ids = {_member_id(value) for value in change.values} - {None}
        rows = rows.filter(Q(user_id__in=ids) | Q(member_group_id__in=ids))
    elif change.value_filter is not None:
        rows = rows.filter(_members_filter(group, change.value_filter))
    return [], _delete_members(group, rows)


def _rows(group: Group):
    """Return the group's membership rows, selected by (tenant, group): the keys of members
    lead with the tenant, so a lookup of given members is an index scan of those keys."""
    return Membership.objects.filter(tenant_id=group.tenant_id, group=group)


def _members_filter(group: Group, value_filter: Filter) -> Q:
    return element_q(value_filter, MEMBERS, source())


def _delete_members(group: Group, rows) -> list[uuid.UUID]:
    """Delete these membership rows of `group`; move the versions of the users they held.
    Return the ids of the members removed."""
    # The group is locked, so the rows read are the rows deleted.
    found = list(rows.values_list("user_id", "member_group_id"))
    rows.delete()
    groups = {group_id for _, group_id in found if group_id}
    if groups:
        _lock_nesting(group.tenant_id)  # an un-nesting: see `_NESTING_LOCK`
    _touch_joined(group, {user_id for user_id, _ in found if user_id}, groups)
    return [user_id or group_id for user_id, group_id in found]


def _touch_joined(group: Group, users: set[uuid.UUID], groups: set[uuid.UUID]) -> None:
    """Move the versions of the users whose `groups` a change of membership of `group`
    changed: the users that joined or left, and every user below a group that joined or
    left, whose indirect groups changed (RFC 7643 §4.1.2, RFC 7644 §3.14). One statement; a
    change of user members only never walks the nesting, so its cost does not grow with the
    group."""
    if groups:
        touch(User, Q(pk__in=users) | users_below(groups))
    elif users:
        touch_ids(User, group.tenant_id, users)


def _add(group: Group, values: list[dict]) -> list[uuid.UUID]:
    """Add members; those already there are left as they are. Return the ids of the new ones."""
    return _add_each(group, [_wanted(values)])[0]


def _add_each(
    group: Group,
    batches: list[dict[uuid.UUID, str | None]],
    resolved: tuple[set, set] | None = None,
) -> list[list[uuid.UUID]]:
    """Add several lists of members one after the other, with one statement per step for them
    all; return, for each list, the ids of the members it added (those not there before it).
    Each list is given as `_wanted` reads it (its ids, each parsed once, in the order sent);
    `resolved` is what `_found` returned for them, when the caller has it already."""
    if not any(batches):
        return [[] for _ in batches]
    if resolved is None:
        wanted: dict[uuid.UUID, str | None] = {}
        for batch in batches:
            wanted.update(batch)
        resolved = _found(group, wanted)
    users, groups = resolved
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(user_id, member_group_id) FROM {Membership._meta.db_table}"
            " WHERE tenant_id = %s AND group_id = %s"
            " AND (user_id = ANY(%s::uuid[]) OR member_group_id = ANY(%s::uuid[]))",
            [group.tenant_id, group.pk, uuid_array(users), uuid_array(groups)],
        )
        existing = {row[0] for row in cursor.fetchall()}
    new_groups = groups - existing
    if new_groups:
        _check_nesting(group, new_groups)
    user_ids, group_ids, added_each, seen = [], [], [], set(existing)
    for batch in batches:
        added = []
        for member_id in batch:  # in the order sent, which is the listed order
            if member_id in seen:
                continue
            seen.add(member_id)
            added.append(member_id)
            is_user = member_id in users
            user_ids.append(member_id if is_user else None)
            group_ids.append(None if is_user else member_id)
        added_each.append(added)
    if user_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                _ADD_MEMBERS,
                [
                    timezone.now(),
                    group.pk,
                    group.tenant_id,
                    uuid_array(user_ids),
                    uuid_array(group_ids),
                ],
            )
    _touch_joined(group, users - existing, new_groups)
    return added_each


# New membership rows, from one array of user ids and one of group ids (NULL where the
# member is of the other kind), in the order given; one statement however many. A row
# already there (a concurrent PATCH added it) is left as it is.
_ADD_MEMBERS = f"""
    INSERT INTO {Membership._meta.db_table} (created, group_id, tenant_id, user_id, member_group_id)
    SELECT %s, %s, %s, member.user_id, member.group_id
    FROM unnest(%s::uuid[], %s::uuid[]) WITH ORDINALITY AS member(user_id, group_id, n)
    ORDER BY member.n
    ON CONFLICT DO NOTHING
"""


@retry_on_deadlock
@transaction.atomic
def add_members_each(
    tenant: Tenant, group_id: str, operations: list[Patcher], errors_allowed: int | None = None
) -> tuple[list[SCIMError | None], int] | None:
    """Apply several PATCHes of one group that only add members (a Bulk request's run of
    them) as one write, each as it would be applied alone.

    Return the outcome of each PATCH, in order (its error, or None when it was applied), and
    the version the group is at after them all. A PATCH that fails (a member that is no user
    or group of the tenant, a body `apply_patch` refuses) fails alone: the others are
    applied. After `errors_allowed` errors (a Bulk's failOnErrors) the rest are neither
    applied nor given an outcome: the list is shorter.

    The members are those the PATCHes one after the other would leave (RFC 7644 §3.7: an
    optimised sequence "MUST ensure that ... the same stateful result is achieved"), written
    as one write of the group: its version moves once, the version every PATCH of the run
    answers (`provisioning.bulk`), and the write is recorded once, as the one PATCH adding
    all their members would be (`member_add`, the ids in the order they were added). A
    record per PATCH named a version between, never written nor answered, and cost the Bulk
    of 1,000 member adds a fifth more than that one PATCH.

    Return None, having written nothing, when one of them does more than add members, or
    nests a group where it may not go (whether it may can depend on the others): the caller
    then applies them one by one.
    """
    group = get(tenant, group_id, for_update=True)
    outcomes: list[SCIMError | None] = []
    batches: list[tuple[int, dict]] = []  # (index, ids wanted)
    for index, operations_of_one in enumerate(operations):
        try:
            result = operations_of_one(group.data)
            if result.document is not group.data and result.document != group.data:
                return None
            values: list[dict] = []
            for change in result.member_changes:
                if change.op != "add" or change.value_filter is not None:
                    return None
                values += change.values
            batches.append((index, _wanted(values)))
            outcomes.append(None)
        except SCIMError as error:
            outcomes.append(error)
    users, groups = _lookup(group, {i for _, wanted in batches for i in wanted})
    for index, wanted in batches:
        try:
            _check_found(group, wanted, users, groups)
        except SCIMError as error:
            outcomes[index] = error
    if errors_allowed is not None:
        failed = [i for i, outcome in enumerate(outcomes) if outcome is not None]
        if len(failed) >= errors_allowed:
            del outcomes[failed[errors_allowed - 1] + 1 :]
    applied = [
        wanted for index, wanted in batches if index < len(outcomes) and outcomes[index] is None
    ]
    if len(applied) < len(batches):  # only the members of those applied
        ids = {member_id for wanted in applied for member_id in wanted}
        users, groups = users & ids, groups & ids
    try:
        added_each = _add_each(group, applied, (users, groups))
    except InvalidValue:  # the nesting
        return None
    added = [member_id for ids in added_each for member_id in ids]
    if added:
        mark_changed(group)
        update(group)
        record(group, Operation.PATCH, group.data, added=added)
    return outcomes, group.version


def _set_members(group: Group, values: list[dict]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Make the group's members exactly `values` (PUT, or Okta's "Push Now" replace); return
    the ids of the members added and removed."""
    wanted = _wanted(values)
    # Found and locked once, for the deletion and the adds both.
    users, groups = _found(group, wanted, exclusive=True) if wanted else (set(), set())
    stale = _rows(group).exclude(user_id__in=users).exclude(member_group_id__in=groups)
    removed = _delete_members(group, stale)
    return _add_each(group, [wanted], (users, groups))[0], removed


def _member_id(value: dict) -> uuid.UUID | None:
    """Return the id a member's `value` names, compared case-exactly (RFC 7643 §3.1)."""
    return parse_id(value.get("value"))


def _found(
    group: Group, wanted: dict[uuid.UUID, str | None], *, exclusive: bool = False
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Split members, as `_wanted` reads them, into user ids and group ids, locked; every one
    must exist in the group's tenant.

    The statement that locks the users also takes the tenant's nesting lock when the group is
    nested (`_NESTING_LOCK`): exclusively when `exclusive` or when a group is named, shared
    else."""
    users, groups = _lookup(group, wanted, exclusive=exclusive)
    _check_found(group, wanted, users, groups)
    return users, groups


def _wanted(values: list[dict]) -> dict[uuid.UUID, str | None]:
    """Return the ids `values` name, each with the type it is given (lowercase), if any, in
    the order sent; each id is parsed here only."""
    wanted: dict[uuid.UUID, str | None] = {}
    for value in values:
        member_id = parse_id(value.get("value"))
        if member_id is None:
            raise InvalidValue(f"Member '{value.get('value')}' does not exist in this tenant.")
        wanted[member_id] = (value.get("type") or "").lower() or None
    return wanted


def _lookup(
    group: Group, ids: Iterable[uuid.UUID], *, exclusive: bool = False
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Return which of `ids` are the tenant's users and which its groups, locked."""
    array = uuid_array(ids)
    users = _locked_ids(User, group.tenant_id, array, nested=(group.pk, exclusive))
    return users, _locked_ids(Group, group.tenant_id, array)


def _check_found(group: Group, wanted: dict, users: set, groups: set) -> None:
    """Refuse members that are not the tenant's users or groups of their given type, and the
    group itself."""
    for member_id, kind in wanted.items():
        found = "user" if member_id in users else "group" if member_id in groups else None
        if found is None or (kind is not None and kind != found):
            raise InvalidValue(
                f"Member '{member_id}'{f' of type {kind.title()}' if kind else ''} does not exist in this tenant."
            )
    if group.pk in wanted and group.pk in groups:
        raise InvalidValue("A group cannot be a member of itself.")


def _locked_ids(
    model: type[User | Group],
    tenant_id: int,
    ids: str,
    nested: tuple[uuid.UUID, bool] | None = None,
) -> set[uuid.UUID]:
    """Return those of `ids` (an array's text, `uuid_array`) that are the tenant's rows of
    `model`, locked until the write commits, so that a member deleted meanwhile either waits
    for it or is seen as gone here (else the membership's key to it fails). The ids go as one
    array: a thousand members are one parameter, not a thousand.

    `nested` is (the group the members join, whether the nesting lock is wanted exclusive):
    the statement then takes that lock (`_NESTING_LOCK`) before it locks the first row."""
    lock = ""
    params = {"tenant": tenant_id, "ids": ids}
    if nested is not None:
        lock = f", ({_NESTING_LOCK})"
        params.update(lock=NESTING_LOCK, group=nested[0], exclusive=nested[1])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id{lock} FROM {model._meta.db_table}"
            " WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::uuid[]) FOR NO KEY UPDATE",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


# The nesting lock of a member add, as a subquery of the statement that locks the users it
# adds (so it costs no statement of its own, and is taken before any of their rows). A user
# shows the names of the groups above its groups (RFC 7643 §4.1.2): a rename or delete of a
# group, or an un-nesting, moves the versions of the users below it that it sees, so a user
# joining a group below it must not commit in between (else the user's new version vouches
# for a body that shows the old name, and keeps vouching after the rename commits). Those
# writes take the lock exclusive (`_lock_nesting`); an add takes it shared when the group
# it adds to is nested, so adds wait for them, and they for adds, but adds never wait for
# each other. Exclusive at once when a group is among the members (`_check_nesting` wants it
# so) or the caller says so (a PUT may un-nest after its adds): a transaction that held it
# shared and then wanted it exclusive could deadlock with another doing the same.
_NESTING_LOCK = f"""
    SELECT count(CASE WHEN named.groups OR %(exclusive)s
                      THEN pg_advisory_xact_lock(%(lock)s, %(tenant)s)
                      ELSE pg_advisory_xact_lock_shared(%(lock)s, %(tenant)s) END)
    FROM (SELECT EXISTS (
        SELECT FROM {Group._meta.db_table}
        WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::uuid[])
    ) AS groups) AS named
    WHERE named.groups OR EXISTS (
        SELECT FROM {Membership._meta.db_table}
        WHERE tenant_id = %(tenant)s AND member_group_id = %(group)s
    )
"""


def _lock_nesting(tenant_id: int) -> None:
    """Take the tenant's nesting lock exclusive, to the end of the transaction: nesting
    changes, and the renames, deletes and un-nestings that move the versions of the users
    below a group, run one at a time, and not beside an add to a nested group (see
    `_NESTING_LOCK`). It must come before the statement that finds those users."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NESTING_LOCK, tenant_id])


def _check_nesting(group: Group, new_groups: set[uuid.UUID]) -> None:
    """Refuse nesting that makes a group a member of itself, directly or not, or that nests
    groups deeper than MAX_NESTING (which keeps every walk up or down the nesting bounded).

    Nesting changes of a tenant are made one at a time (an advisory lock held to the end of
    the transaction): two adds checked side by side could each close half of a cycle.
    """
    _lock_nesting(group.tenant_id)
    above, height = _walk(group.tenant, {group.pk}, up=True)
    if above & new_groups:
        raise InvalidValue("Adding that group would make a group a member of itself.")
    _, depth = _walk(group.tenant, new_groups, up=False)
    if height + 1 + depth > MAX_NESTING:
        raise InvalidValue(f"Groups may be nested at most {MAX_NESTING} levels deep.")


def _walk(tenant: Tenant, start: set[uuid.UUID], *, up: bool) -> tuple[set[uuid.UUID], int]:
    """Return the groups above (or below) `start`, and the longest chain of levels to them.

    Groups reached again on a longer path are walked again, so the count is the longest path
    (which removing members can never lengthen), not the shortest.
    """
    mine, theirs = ("member_group_id", "group_id") if up else ("group_id", "member_group_id")
    reached: set[uuid.UUID] = set()
    frontier, levels = set(start), 0
    while frontier and levels <= MAX_NESTING:
        frontier = set(
            Membership.objects.filter(tenant=tenant, **{f"{mine}__in": frontier})
            .exclude(**{f"{theirs}__isnull": True})
            .values_list(theirs, flat=True)
        )
        reached |= frontier
        levels += bool(frontier)
    return reached, levels


# The rows this store keeps its resources in (a root search lists several types).
MODEL = Group

MIRRORS = mirrors.written(GROUP_RESOURCE_TYPE)


def _columns(document: dict) -> dict:
    return mirrors.columns(MIRRORS, document)


def _unique_display_name(document: dict):
    return unique(
        DISPLAY_NAME_CONSTRAINT, f"displayName '{document.get('displayName')}' is already in use."
    )
