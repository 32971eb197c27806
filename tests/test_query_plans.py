"""The IdPs' lookups and substring searches are index scans (EXPLAIN, RFC 7644 §3.4.2.2).

With sequential scans disabled, the planner still finds a plan only through an index whose
expression matches the one the filter compiles to: that is what this proves. At 100,000 users
the planner picks these indexes on cost alone; bench/ measures that.
"""

import pytest
from django.db import connection

from provisioning import tokens
from provisioning.models import User, UserValue
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import USER_RESOURCE_TYPE
from provisioning.storage import users
from provisioning.storage.query import filter_q


@pytest.fixture
def populated(tenant):
    """2,000 users written in bulk, as the storage layer writes them, then ANALYZEd."""
    rows = []
    for i in range(2000):
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
        rows.append(User(tenant=tenant, data=document, **users.columns_for(document)))
    User.objects.bulk_create(rows)
    UserValue.objects.bulk_create([value for user in rows for value in users.value_rows(user)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE provisioning_user, provisioning_uservalue")
        cursor.execute("SET LOCAL enable_seqscan = off")
    return tenant


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [
        ('userName eq "USER7@example.com"', "provisioning_user_username_ci_unique"),
        ('externalId eq "ext-7"', "prov_user_tenant_extid"),
        ('emails[type eq "work"].value eq "user7@example.com"', "prov_uservalue_value_ci"),
        ('displayName eq "user 7"', "prov_user_displayname_ci"),
    ],
)
def test_lookup_uses_index(populated, filter_text, index):
    """The lookups IdPs make before every create are index scans."""
    queryset = User.objects.filter(tenant=populated).filter(filter_q(filter_text, users.source()))
    plan = queryset.explain()
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert queryset.count() == 1


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [
        ('displayName co "ser 1234"', "prov_user_display_name_trgm"),
        ('name.familyName sw "family1234"', "prov_user_family_name_trgm"),
        ('userName ew "1234@example.com"', "prov_user_user_name_trgm"),
    ],
)
def test_substring_filters_can_use_trigram_indexes(populated, filter_text, index):
    """co/sw/ew compile to LIKE on lower(column), which the trigram index answers.

    The tenant condition is left out here: with 2,000 rows the planner rightly scans the
    tenant's rows instead, as a GIN scan has a fixed cost; at 100,000 it picks the trigram
    index (bench/ records that plan).
    """
    queryset = User.objects.filter(filter_q(filter_text, users.source()))
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

    middle = User.objects.filter(tenant=populated).order_by("created", "id")[1000]
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


def test_admin_user_search_uses_a_trigram_index_for_each_part(populated):
    """The admin's user search (userName, names, externalId, any email; provisioning.admin)
    is one trigram index scan per user column and an index scan of the emails, none a scan
    of a table. (With 2,000 users the planner reads the emails through the (user, attribute)
    index; at 100,000 it picks prov_uservalue_value_trgm: bench/admin_pages.py prints it.)"""
    from provisioning.admin import SEARCHED_USER_COLUMNS, user_search

    queryset = User.objects.filter(tenant=populated).filter(user_search("ER1234@EXAMPLE"))
    plan = queryset.explain()
    for column in SEARCHED_USER_COLUMNS:
        assert f"prov_user_{column}_trgm" in plan, plan
    assert "Index Scan on prov_uservalue" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert [user.user_name for user in queryset] == ["user1234@example.com"]
