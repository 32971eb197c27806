"""The IdPs' lookups and substring searches are index scans (EXPLAIN, RFC 7644 §3.4.2.2).

With sequential scans disabled, the planner still finds a plan only through an index whose
expression matches the one the filter compiles to: that is what this proves. At 100,000 users
the planner picks these indexes on cost alone; bench/ measures that.
"""

import re

import pytest
from django.db import connection

from provisioning import tokens
from provisioning.models import User
from provisioning.scim.dialect import ALLOWED, Dialect
from provisioning.scim.filter import parse_filter
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import USER_RESOURCE_TYPE
from provisioning.storage import users
from provisioning.storage.query import filter_q


@pytest.fixture
def populated(tenant):
    """500 users written by the storage layer, then ANALYZEd."""
    for i in range(500):
        document = parse_resource(
            {
                "schemas": [USER_RESOURCE_TYPE.schema.id],
                "userName": f"user{i}@example.com",
                "externalId": f"ext-{i}",
                "displayName": f"User {i}",
                "name": {"familyName": f"Family{i}"},
                "emails": [{"value": f"user{i}@example.com", "type": "work"}],
            },
            USER_RESOURCE_TYPE,
        )
        users.create(tenant, document)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE provisioning_user, provisioning_uservalue")
        cursor.execute("SET LOCAL enable_seqscan = off")
    return tenant


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [
        ('userName eq "USER7@example.com"', "provisioning_user_username_ci_unique"),
        ('externalId eq "ext-7"', "prov_user_external_id"),
        ('emails[type eq "work"].value eq "user7@example.com"', "prov_uservalue_value_ci"),
        ('displayName eq "user 7"', "prov_user_display_name_ci"),
    ],
)
def test_lookup_uses_index(populated, filter_text, index):
    """The lookups IdPs make before every create are index scans (read as Entra writes its
    work-email lookup)."""
    node = parse_filter(filter_text, leniencies=ALLOWED[Dialect.ENTRA])
    queryset = User.objects.filter(tenant=populated).filter(filter_q(node, users.source()))
    plan = queryset.explain()
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert queryset.count() == 1


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [
        ('displayName co "ser 123"', "prov_user_display_name_trgm"),
        ('name.familyName sw "family123"', "prov_user_family_name_trgm"),
        ('userName ew "123@example.com"', "prov_user_user_name_trgm"),
    ],
)
def test_substring_filters_can_use_trigram_indexes(populated, filter_text, index):
    """co/sw/ew compile to LIKE on lower(column), which the trigram index answers.

    The tenant condition is left out here: with 500 rows the planner rightly scans the
    tenant's rows instead, as a GIN scan has a fixed cost; at 100,000 it picks the trigram
    index (bench/ records that plan).
    """
    queryset = User.objects.filter(filter_q(parse_filter(filter_text), users.source()))
    plan = queryset.explain()
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert queryset.count() == 1


def test_token_lookup_uses_digest_index(populated):
    """Authenticating a request looks its token up by the unique digest index."""
    _, secret = tokens.issue(populated)
    plan = tokens.Token.objects.filter(digest=tokens.digest(secret)).explain()
    assert "Index Scan" in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("forward", [True, False], ids=["next", "previous"])
def test_cursor_pages_start_an_index_range_at_their_position(populated, forward):
    """A cursor page is an index range scan from its position, so its cost does not grow
    with how far into the results it is (RFC 9865)."""
    from provisioning.storage.listing import keyset_condition

    middle = User.objects.filter(tenant=populated).order_by("created", "id")[250]
    queryset = (
        User.objects.filter(tenant=populated)
        .filter(keyset_condition(middle.created, middle.pk, forward))
        .order_by(*(("created", "id") if forward else ("-created", "-id")))[:101]
    )
    plan = queryset.explain()
    assert "prov_user_tenant_created" in plan, plan
    assert ("created >= " if forward else "created <= ") in plan.split("Index Cond:")[
        1
    ].splitlines()[0]


def test_users_of_a_group_are_found_through_the_membership_index(populated):
    """`groups.value eq` (who is in this group, directly or not: RFC 7643 §4.1.2) reads the
    group's and its nested groups' membership rows by an index on their group (the unique
    index of (tenant, group, user) or the (group, id) one, whichever the planner costs lower),
    never all memberships, and the users found by a unique key, (id) or (tenant, id)."""
    from provisioning.models import Group, Membership
    from provisioning.scim.list_request import ListRequest
    from provisioning.storage.listing import _statements
    from provisioning.storage.statements import Compiled

    people = list(User.objects.filter(tenant=populated).order_by("created", "id"))
    outer, inner, *others = Group.objects.bulk_create(
        Group(tenant=populated, display_name=f"G{i}") for i in range(202)
    )
    Membership.objects.bulk_create(
        [
            Membership(tenant=populated, group=outer, user=people[0]),
            Membership(tenant=populated, group=outer, member_group=inner),
            Membership(tenant=populated, group=inner, user=people[1]),
            Membership(tenant=populated, group=inner, user=people[2]),
            *(
                Membership(tenant=populated, group=group, user=user)
                for i, group in enumerate(others)
                for user in people[i * 10 : i * 10 + 50]
            ),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE provisioning_membership, provisioning_group")
    request = ListRequest(filter=parse_filter(f'groups.value eq "{outer.pk}"'))
    statements, strings = _statements(User, users.source(), request)
    compiled = Compiled(statements.ordered[:100])
    values = [populated.pk, *strings]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {compiled.sql}", compiled.bind(values))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    members = plan.split("SubPlan")[1].split("Index Cond:")[1].splitlines()[0]
    assert "group_id = below" in members, plan
    assert re.search(r"Index Scan using provisioning_user_(pkey|tenant_key) on ", plan), plan
    assert "id = ANY (" in plan.split("on provisioning_user ")[1], plan
    assert {row[0] for row in compiled.rows(values)} == {user.pk for user in people[:3]}


def test_admin_user_search_uses_a_trigram_index_for_each_part(populated):
    """The admin's user search (userName, names, externalId, any email; provisioning.admin)
    is one trigram index scan per user column and an index scan of the emails, none a scan
    of a table. (With 500 users the planner reads the emails through the (user, attribute)
    index; at 100,000 it picks prov_uservalue_value_trgm: bench/admin_pages.py prints it.)"""
    from provisioning.admin import SEARCHED_USER_COLUMNS, user_search

    queryset = User.objects.filter(tenant=populated).filter(user_search("ER123@EXAMPLE"))
    plan = queryset.explain()
    for column in SEARCHED_USER_COLUMNS:
        assert f"prov_user_{column}_trgm" in plan, plan
    assert "Index Scan on prov_uservalue" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert [user.user_name for user in queryset] == ["user123@example.com"]
