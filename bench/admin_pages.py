"""Time the admin's heavy pages at 100,000 users and a group of 100,000 members (issue 10).

    LOG_LEVEL=WARNING scripts/manage.sh shell -c "from bench import admin_pages; admin_pages.main()"

It seeds, directly in SQL and once, a connection `admin-bench` on the database of
`make run` (or DATABASE_URL): 100,000 users with two emails each, a group holding all of them
and a group of 10; then it renders each page through Django's test client (the whole admin
stack, no HTTP) 15 times and prints the median, and the plan of a search by email. The
figures are wall-clock times on whatever else the machine is doing.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from provisioning.admin import user_search
from provisioning.models import Group, Tenant, User

USERS = 100_000
ROUNDS = 15

SEED = """
INSERT INTO provisioning_user
    (id, tenant_id, external_id, data, version, created, last_modified, user_name,
     display_name, given_name, family_name, email, active)
SELECT gen_random_uuid(), %(tenant)s, 'ext-' || i,
       jsonb_build_object('userName', 'user' || i || '@example.com', 'externalId', 'ext-' || i,
                          'name', jsonb_build_object('givenName', 'Given' || i,
                                                     'familyName', 'Family' || i),
                          'emails', jsonb_build_array(
                              jsonb_build_object('value', 'user' || i || '@example.com',
                                                 'type', 'work', 'primary', true),
                              jsonb_build_object('value', 'home' || i || '@example.org',
                                                 'type', 'home')),
                          'active', true),
       1, now(), now(), 'user' || i || '@example.com', NULL, 'Given' || i, 'Family' || i,
       'user' || i || '@example.com', true
FROM generate_series(1, %(users)s) AS i;

INSERT INTO provisioning_uservalue (tenant_id, user_id, attribute, position, element)
SELECT u.tenant_id, u.id, 'emails', e.n - 1, e.value
FROM provisioning_user u, jsonb_array_elements(u.data->'emails') WITH ORDINALITY AS e(value, n)
WHERE u.tenant_id = %(tenant)s;

INSERT INTO provisioning_group (id, tenant_id, external_id, data, version, created,
                                last_modified, display_name)
VALUES (gen_random_uuid(), %(tenant)s, NULL, '{"displayName": "everyone"}', 1, now(), now(),
        'everyone'),
       (gen_random_uuid(), %(tenant)s, NULL, '{"displayName": "ten"}', 1, now(), now(), 'ten');

INSERT INTO provisioning_membership (tenant_id, group_id, user_id, created)
SELECT %(tenant)s, g.id, u.id, now()
FROM provisioning_group g, provisioning_user u
WHERE g.tenant_id = %(tenant)s AND g.display_name = 'everyone' AND u.tenant_id = %(tenant)s;

INSERT INTO provisioning_membership (tenant_id, group_id, user_id, created)
SELECT %(tenant)s, g.id, u.id, now()
FROM provisioning_group g,
     (SELECT id FROM provisioning_user WHERE tenant_id = %(tenant)s LIMIT 10) u
WHERE g.tenant_id = %(tenant)s AND g.display_name = 'ten';

"""
ANALYZE = (
    "ANALYZE provisioning_user, provisioning_uservalue, provisioning_group, provisioning_membership"
)


def seed() -> Tenant:
    tenant, created = Tenant.objects.get_or_create(slug="admin-bench", defaults={"name": "Bench"})
    if created or not User.objects.filter(tenant=tenant).exists():
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in filter(str.strip, SEED.split(";")):
                cursor.execute(statement, {"tenant": tenant.pk, "users": USERS})
        with connection.cursor() as cursor:
            cursor.execute(ANALYZE)
        print(f"seeded {USERS} users in {time.perf_counter() - started:.0f} s")
    return tenant


class SQLTimer:
    """Add up the time of the SQL statements run through Django's connection."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


def medians(client: Client, url: str) -> tuple[float, float, int]:
    """Return the median wall time and SQL time of rendering `url`, in ms, and its statements."""
    times, sql_times = [], []
    for _ in range(ROUNDS):
        timer = SQLTimer()
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        sql_times.append(timer.seconds * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), statistics.median(sql_times), timer.statements


def main() -> None:
    tenant = seed()
    login, _ = get_user_model().objects.get_or_create(
        username="admin-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    # Not setup_test_environment(): its template instrumentation would be most of the time.
    client = Client(SERVER_NAME="localhost")
    client.force_login(login)
    big = Group.objects.get(tenant=tenant, display_name="everyone")
    small = Group.objects.get(tenant=tenant, display_name="ten")
    some_user = User.objects.filter(tenant=tenant).order_by("user_name").first()
    pages = {
        "group page, 100,000 members": f"/admin/provisioning/group/{big.pk}/change/",
        "group page, 10 members": f"/admin/provisioning/group/{small.pk}/change/",
        "users list": f"/admin/provisioning/user/?tenant={tenant.pk}",
        "users search, secondary email": "/admin/provisioning/user/?q=home4242@example",
        "users search, family name": "/admin/provisioning/user/?q=family4242",
        "users filtered by the 100,000 group": f"/admin/provisioning/user/?group={big.pk}",
        "user page": f"/admin/provisioning/user/{some_user.pk}/change/",
        "groups list": "/admin/provisioning/group/",
    }
    print(f"{'page':40} {'total ms':>9} {'SQL ms':>8} statements (medians of {ROUNDS})")
    for name, url in pages.items():
        total, sql, statements = medians(client, url)
        print(f"{name:40} {total:9.1f} {sql:8.1f} {statements:4}")
    print(User.objects.filter(user_search("home4242@example")).explain())
