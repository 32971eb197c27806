"""The database itself keeps tenants apart: a row that names a row of another tenant is refused
by PostgreSQL, whatever code writes it, and every unique key of a tenant's rows leads with the
tenant (migration 0013; README, "Data model")."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from provisioning.models import Group, Membership, User, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(make_tenant):
    """A user, two groups and a webhook endpoint in each of two tenants."""
    rows = {}
    for name in ("mine", "theirs"):
        tenant = make_tenant(name)
        rows[name] = {
            "tenant": tenant.pk,
            "user": User.objects.create(tenant=tenant, user_name=f"{name}-user").pk,
            "group": Group.objects.create(tenant=tenant, display_name=f"{name}-group").pk,
            "other_group": Group.objects.create(tenant=tenant, display_name=f"{name}-2").pk,
            "endpoint": WebhookEndpoint.objects.create(
                tenant=tenant, url="https://example.com/hook", secret="-"
            ).pk,
        }
    return rows


def run(sql: str, params: list) -> None:
    """Run one statement in a savepoint, so a refused one leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


MEMBERSHIP = (
    "INSERT INTO provisioning_membership (tenant_id, group_id, user_id, member_group_id, created)"
    " VALUES (%s, %s, %s, %s, now())"
)


@pytest.mark.parametrize(
    ("group", "user", "member_group"),
    [
        ("theirs", "mine", None),
        ("mine", "theirs", None),
        ("mine", None, "theirs"),
    ],
    ids=["group-of-another-tenant", "user-of-another-tenant", "nested-group-of-another-tenant"],
)
def test_a_membership_across_tenants_is_refused(two_tenants, group, user, member_group):
    """A membership's group and member are rows of the membership's tenant."""
    mine = two_tenants["mine"]
    params = [
        mine["tenant"],
        two_tenants[group]["group"],
        user and two_tenants[user]["user"],
        member_group and two_tenants[member_group]["other_group"],
    ]
    with pytest.raises(IntegrityError, match="tenant_fk"):
        run(MEMBERSHIP, params)
    assert not Membership.objects.exists()


def test_a_membership_within_a_tenant_is_accepted(two_tenants):
    mine = two_tenants["mine"]
    run(MEMBERSHIP, [mine["tenant"], mine["group"], mine["user"], None])
    run(MEMBERSHIP, [mine["tenant"], mine["group"], None, mine["other_group"]])
    assert Membership.objects.filter(tenant_id=mine["tenant"]).count() == 2


def test_model_validation_refuses_a_membership_across_tenants(two_tenants):
    """`full_clean` (the admin's check) says what the database would refuse."""
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    crossing = Membership(tenant_id=mine["tenant"], group_id=mine["group"], user_id=theirs["user"])
    with pytest.raises(ValidationError, match="is not of this tenant"):
        crossing.full_clean()
    Membership(tenant_id=mine["tenant"], group_id=mine["group"], user_id=mine["user"]).full_clean()


def test_the_models_and_the_migrations_agree():
    """The keys declared in models.py are the migrations' (`SameTenant` round-trips)."""
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_membership_cannot_move_to_another_tenant(two_tenants):
    """Changing a membership's tenant (or a user's) would leave its keys dangling: refused."""
    mine = two_tenants["mine"]
    run(MEMBERSHIP, [mine["tenant"], mine["group"], mine["user"], None])
    with pytest.raises(IntegrityError):
        run("UPDATE provisioning_membership SET tenant_id = %s", [two_tenants["theirs"]["tenant"]])
    with pytest.raises(IntegrityError):
        run(
            "UPDATE provisioning_user SET tenant_id = %s WHERE id = %s",
            [two_tenants["theirs"]["tenant"], mine["user"]],
        )


def test_a_value_row_of_a_user_of_another_tenant_is_refused(two_tenants):
    """The value rows of a user's multi-valued attributes are of the user's tenant."""
    sql = (
        "INSERT INTO provisioning_uservalue (tenant_id, user_id, attribute, position, element)"
        " VALUES (%s, %s, 'emails', 0, '{\"value\": \"a@example.com\"}')"
    )
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    with pytest.raises(IntegrityError, match="provisioning_uservalue_user_tenant_fk"):
        run(sql, [mine["tenant"], theirs["user"]])
    run(sql, [mine["tenant"], mine["user"]])


def test_a_delivery_to_an_endpoint_of_another_tenant_is_refused(two_tenants):
    """An outbox row goes to an endpoint of its own tenant."""
    sql = (
        "INSERT INTO provisioning_webhookdelivery (tenant_id, endpoint_id, event_id, event_type,"
        " resource_id, data, created, status, attempts, next_attempt_at, last_error)"
        " VALUES (%s, %s, %s, 'user.created', %s, '{}', now(), 'pending', 0, now(), '')"
    )
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    with pytest.raises(IntegrityError, match="provisioning_delivery_endpoint_tenant_fk"):
        run(sql, [mine["tenant"], theirs["endpoint"], uuid.uuid4(), mine["user"]])
    run(sql, [mine["tenant"], mine["endpoint"], uuid.uuid4(), mine["user"]])


@pytest.mark.parametrize(
    ("link", "auth_table", "resource"),
    [
        ("authuserlink", "auth_user", "user"),
        ("authgrouplink", "auth_group", "group"),
    ],
)
def test_an_auth_link_to_a_resource_of_another_tenant_is_refused(
    two_tenants, link, auth_table, resource
):
    """A linked Django user or group names a User or Group of the link's tenant, when the
    link is made and whenever it is pointed elsewhere."""
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    column = "auth_user_id" if resource == "user" else "auth_group_id"
    with connection.cursor() as cursor:
        if resource == "user":
            cursor.execute(
                "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name,"
                " email, is_staff, is_active, date_joined) VALUES"
                " ('linked', '!', false, '', '', '', false, true, now()) RETURNING id"
            )
        else:
            cursor.execute("INSERT INTO auth_group (name) VALUES ('linked') RETURNING id")
        auth_id = cursor.fetchone()[0]
    sql = f"INSERT INTO provisioning_{link} (tenant_id, resource_id, {column}) VALUES (%s, %s, %s)"
    with pytest.raises(IntegrityError, match=f"is not a {resource} of tenant"):
        run(sql, [mine["tenant"], theirs[resource], auth_id])
    run(sql, [mine["tenant"], mine[resource], auth_id])
    with pytest.raises(IntegrityError, match=f"is not a {resource} of tenant"):
        run(f"UPDATE provisioning_{link} SET resource_id = %s", [theirs[resource]])


# Unique keys that are not a tenant's: a token is found by its digest before its tenant is
# known, and a Django user or group is linked to one provisioned resource at most.
GLOBAL_UNIQUE_KEYS = {
    ("provisioning_token", "digest"),
    ("provisioning_authuserlink", "auth_user_id"),
    ("provisioning_authgrouplink", "auth_group_id"),
}


def test_every_unique_key_of_a_tenants_rows_leads_with_the_tenant():
    """Each unique index of a table with a tenant (primary keys aside) starts with tenant_id."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, a.attname
            FROM pg_index x
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
            WHERE x.indisunique AND NOT x.indisprimary AND t.relname LIKE 'provisioning_%%'
              AND EXISTS (SELECT 1 FROM pg_attribute c
                          WHERE c.attrelid = t.oid AND c.attname = 'tenant_id')
            """
        )
        keys = cursor.fetchall()
    assert any(index == "provisioning_membership_user_once" for _, index, _ in keys)
    offending = [
        (table, index, first)
        for table, index, first in keys
        if first != "tenant_id" and (table, first) not in GLOBAL_UNIQUE_KEYS
    ]
    assert offending == []


def test_every_foreign_key_between_a_tenants_rows_carries_the_tenant():
    """A foreign key from one table with a tenant to another includes tenant_id on both sides."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname,
                   ARRAY(SELECT attname FROM pg_attribute
                         WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)),
                   ARRAY(SELECT attname FROM pg_attribute
                         WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey))
            FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
            WHERE c.contype = 'f' AND r.relname LIKE 'provisioning_%%'
              AND r.relname <> 'provisioning_tenant'
              AND EXISTS (SELECT 1 FROM pg_attribute a
                          WHERE a.attrelid = c.conrelid AND a.attname = 'tenant_id')
              AND EXISTS (SELECT 1 FROM pg_attribute a
                          WHERE a.attrelid = c.confrelid AND a.attname = 'tenant_id')
            """
        )
        keys = cursor.fetchall()
    assert {name for name, _, _ in keys} >= {
        "provisioning_membership_group_tenant_fk",
        "provisioning_membership_user_tenant_fk",
        "provisioning_membership_member_tenant_fk",
        "provisioning_uservalue_user_tenant_fk",
        "provisioning_delivery_endpoint_tenant_fk",
    }
    assert [
        name
        for name, local, remote in keys
        if "tenant_id" not in local or "tenant_id" not in remote
    ] == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_applies_to_a_populated_database(make_tenant):
    """0013 applies to a database with memberships, value rows and deliveries in it, and
    refuses, changing nothing, one where a membership links two tenants."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    (this,) = (key for key in graph.nodes if key[0] == "provisioning" and "_tenant_keys" in key[1])
    before = [parent.key for parent in graph.node_map[this].parents if parent.key[0] == this[0]]
    after = [this]
    tenant, other = make_tenant("populated"), make_tenant("other")
    user = User.objects.create(tenant=tenant, user_name="u")
    group = Group.objects.create(tenant=tenant, display_name="g")
    foreign = User.objects.create(tenant=other, user_name="f")
    try:
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute(MEMBERSHIP, [tenant.pk, group.pk, user.pk, None])
            cursor.execute(MEMBERSHIP, [tenant.pk, group.pk, foreign.pk, None])
        executor = MigrationExecutor(connection)
        with pytest.raises(IntegrityError, match="provisioning_membership_user_tenant_fk"):
            executor.migrate(after)
        executor = MigrationExecutor(connection)
        assert this not in executor.loader.applied_migrations
        Membership.objects.filter(user_id=foreign.pk).delete()
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("provisioning"))
    with pytest.raises(IntegrityError):
        run(MEMBERSHIP, [tenant.pk, group.pk, foreign.pk, None])
    assert Membership.objects.get().user_id == user.pk
