"""The schema table owns storage: the columns that mirror attributes and their indexes.

`Attribute.column` and `Attribute.indexes` (provisioning/scim/schema.py) are the only place a
mirrored attribute is declared; the model's fields and indexes, the writes and the filter and
sort compilers follow. The enterprise extension's `employeeNumber` is mirrored that way: a
line of the schema table and migration 0013.
"""

import importlib
import io

import pytest
from django.core.management import call_command
from django.db import connection

from provisioning.models import Group, User
from provisioning.scim.filter import AttrPath, parse_filter
from provisioning.scim.list_request import ListRequest
from provisioning.scim.resource import parse_resource
from provisioning.scim.schema import (
    ENTERPRISE_USER_SCHEMA_URN,
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    Attribute,
    Index,
    ResourceType,
    Schema,
    SchemaExtension,
    Type,
    Uniqueness,
)
from provisioning.storage import mirrors, users
from provisioning.storage.listing import _statements
from provisioning.storage.query import filter_q
from provisioning.storage.statements import Compiled
from tests.conftest import ENTERPRISE_SCHEMA, patch_body

MODELS = [(USER_RESOURCE_TYPE, User), (GROUP_RESOURCE_TYPE, Group)]


def _index_definitions(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def _expected_definition(attr: Attribute, column: str, index: Index) -> str:
    """Return the part of `pg_indexes.indexdef` an index the schema table declares must have."""
    if index is Index.SUBSTRING:
        return f"USING gin (lower({column}) gin_trgm_ops)"
    if index is Index.SORTED:
        key = f"lower({column})" if mirrors.lowered(attr) else column
        return f"USING btree (tenant_id, {key}, created, id)"
    if mirrors.lowered(attr):
        return f"USING btree (tenant_id, lower({column}))"
    return f"USING btree (tenant_id, {column})"


@pytest.mark.django_db
@pytest.mark.parametrize(("resource_type", "model"), MODELS, ids=["User", "Group"])
def test_every_mirrored_attribute_has_its_column_and_indexes(resource_type, model):
    """Each attribute that declares a column has a field of its model and a column of the
    migrated table, and each index it declares exists with that definition; an attribute
    unique case-insensitively per tenant is served by its unique constraint's index (`id`,
    by the primary key). So a column or index the
    schema table declares but no migration made fails here."""
    table = model._meta.db_table
    fields = {field.column: field for field in model._meta.concrete_fields}
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
    definitions = _index_definitions(table)
    assert resource_type.mirrors, "the schema table declares no column"
    for mirror in resource_type.mirrors:
        path = mirrors.attribute_path(mirror)
        assert mirror.column in fields, f"{model.__name__} has no field for {path}"
        assert mirror.column in columns, f"{table} has no column for {path}: a migration?"
        for index in mirror.attribute.indexes:
            wanted = _expected_definition(mirror.attribute, mirror.column, index)
            assert any(wanted in d for d in definitions.values()), (path, wanted, definitions)
        if mirror.attribute.uniqueness is Uniqueness.SERVER and mirrors.lowered(mirror.attribute):
            wanted = f"USING btree (tenant_id, lower({mirror.column}))"
            assert any("UNIQUE" in d and d.endswith(wanted) for d in definitions.values()), (
                path,
                definitions,
            )


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration():
    """A column or index declared in the schema table changes the models; the migration that
    makes it must be there too."""
    out = io.StringIO()
    call_command("makemigrations", "provisioning", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


ACME_SCHEMA = "urn:example:params:scim:schemas:extension:acme:2.0:User"


def _resource_type_with(*attributes: Attribute) -> ResourceType:
    return ResourceType(
        "Thing",
        "/Things",
        "A resource type with a new mirrored attribute",
        Schema("urn:example:Thing", "Thing", "", (Attribute("title", column="title"),)),
        (SchemaExtension(Schema(ACME_SCHEMA, "Acme", "", attributes)),),
    )


def test_a_declared_column_becomes_a_field_with_its_indexes():
    """What a new attribute declares is what the model gets: a nullable text field named
    by the column, a lookup index on lower(column) (it is not caseExact) and a trigram one."""
    badge = Attribute(
        "badge", column="badge", indexes=(Index.LOOKUP, Index.SUBSTRING), max_length=64
    )
    serial = Attribute(
        "serial", case_exact=True, column="serial", indexes=(Index.LOOKUP,), max_length=32
    )
    resource_type = _resource_type_with(badge, serial)
    model = mirrors.abstract_model(resource_type)
    fields = {f.name: f for f in model._meta.fields}
    assert set(fields) == {"title", "badge", "serial"}
    assert fields["badge"].get_internal_type() == "TextField" and fields["badge"].null
    assert fields["badge"].help_text == f"{ACME_SCHEMA}:badge"
    made = {index.name: index for index in mirrors.indexes(resource_type, "prov_thing")}
    assert set(made) == {
        "prov_thing_external_id",  # externalId, common to every resource type
        "prov_thing_external_id_trgm",
        "prov_thing_badge_ci",
        "prov_thing_badge_trgm",
        "prov_thing_serial",
    }
    assert made["prov_thing_serial"].fields == ["tenant", "serial"]
    assert "Lower(F(badge))" in str(made["prov_thing_badge_ci"].expressions)


def test_an_index_without_a_column_is_refused():
    with pytest.raises(ValueError, match="no column"):
        Attribute("badge", indexes=(Index.LOOKUP,))


def test_a_column_of_a_type_without_a_column_type_is_refused():
    """A column declared on a complex attribute, say, names no field type: refused at import."""
    manager = Attribute("manager", Type.COMPLEX, column="manager")
    with pytest.raises(TypeError, match="No column type"):
        mirrors.abstract_model(_resource_type_with(manager))


def test_the_writes_fill_each_column_from_the_document():
    """Core, sub-attribute, extension and common attributes are read from where the document
    keeps them; a multi-valued attribute's column holds its main value."""
    document = parse_resource(
        {
            "schemas": [USER_RESOURCE_TYPE.schema.id, ENTERPRISE_USER_SCHEMA_URN],
            "userName": "bjensen",
            "externalId": "ext-1",
            "name": {"givenName": "Barbara"},
            "emails": [
                {"value": "home@example.com", "type": "home"},
                {"value": "work@example.com", "type": "work"},
            ],
            ENTERPRISE_USER_SCHEMA_URN: {"employeeNumber": "701984"},
        },
        USER_RESOURCE_TYPE,
    )
    assert users.columns_for(document) == {
        "external_id": "ext-1",
        "user_name": "bjensen",
        "family_name": None,
        "given_name": "Barbara",
        "display_name": None,
        "active": None,
        "email": "work@example.com",
        "employee_number": "701984",
    }


# --- employeeNumber, end to end ------------------------------------------------------------

EMPLOYEE_NUMBER = f"{ENTERPRISE_SCHEMA}:employeeNumber"


@pytest.fixture
def numbered(tenant):
    """500 users with employee numbers E0000 to E0499 (every tenth without one), ANALYZEd."""
    for i in range(500):
        body = {
            "schemas": [USER_RESOURCE_TYPE.schema.id, ENTERPRISE_SCHEMA],
            "userName": f"user{i}",
        }
        if i % 10:
            body[ENTERPRISE_SCHEMA] = {"employeeNumber": f"E{i:04}"}
        users.create(tenant, parse_resource(body, USER_RESOURCE_TYPE))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE provisioning_user")
        cursor.execute("SET LOCAL enable_seqscan = off")
    return tenant


@pytest.mark.parametrize(
    "filter_text", [f'{EMPLOYEE_NUMBER} eq "e0007"', 'employeeNumber eq "E0007"']
)
def test_employee_number_lookup_is_a_scan_of_its_index(numbered, filter_text):
    """The lookup an IdP makes by employeeNumber, qualified or not, case-insensitively (it is
    not caseExact), reads the column's index, not the documents."""
    queryset = User.objects.filter(tenant=numbered).filter(
        filter_q(parse_filter(filter_text), users.source())
    )
    plan = queryset.explain()
    assert "prov_user_employee_number_sort" in plan, plan
    assert "Seq Scan" not in plan and "data" not in plan, plan
    assert [user.user_name for user in queryset] == ["user7"]


def test_employee_number_substring_filter_can_use_its_trigram_index(numbered):
    """As for the other trigram indexes (tests/test_query_plans.py), without the tenant
    condition, which at 500 rows the planner rightly prefers."""
    queryset = User.objects.filter(
        filter_q(parse_filter('employeeNumber ew "0498"'), users.source())
    )
    plan = queryset.explain()
    assert "prov_user_employee_number_trgm" in plan, plan
    assert [user.user_name for user in queryset] == ["user498"]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_sorting_by_employee_number_reads_its_index_in_order(numbered, descending):
    """A page sorted by employeeNumber is read from the (tenant, lower(employee_number),
    created, id) index in order, not sorted from the documents: ascending with unassigned
    values last, descending with them first (RFC 7644 §3.4.2.3), as the index keeps them."""
    request = ListRequest(sort_by=AttrPath("employeeNumber"), descending=descending, count=20)
    statements, strings = _statements(User, users.source(), request)
    compiled = Compiled(statements.ordered[:20])
    values = [numbered.pk, *strings]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {compiled.sql}", compiled.bind(values))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "prov_user_employee_number_sort" in plan, plan
    assert "data" not in plan, plan
    names = [row.user_name for row in statements.first_page(values)]
    if descending:
        assert names == [f"user{i}" for i in range(0, 200, 10)]  # the 50 without one come first
    else:
        assert names == [f"user{i}" for i in range(1, 23) if i % 10]


def test_employee_number_over_http(scim, make_user):
    """The column follows every write: filters and sortBy answer from it after a create, a
    PATCH that changes or removes the value, and a PUT."""
    ids = {
        name: make_user(name, schemas=[USER_RESOURCE_TYPE.schema.id, ENTERPRISE_SCHEMA], **attrs)[
            "id"
        ]
        for name, attrs in {
            "ann": {ENTERPRISE_SCHEMA: {"employeeNumber": "B-2"}},
            "bob": {ENTERPRISE_SCHEMA: {"employeeNumber": "a-1"}},
            "cid": {},
        }.items()
    }

    def found(**params) -> list[str]:
        response = scim.get("/Users", params)
        assert response.status_code == 200, response.content
        return [user["userName"] for user in response.json()["Resources"]]

    assert found(filter='employeeNumber eq "b-2"') == ["ann"]
    assert found(filter="employeeNumber pr", sortBy="employeeNumber") == ["bob", "ann"]
    assert found(sortBy=EMPLOYEE_NUMBER, sortOrder="descending") == ["cid", "ann", "bob"]

    response = scim.patch(
        f"/Users/{ids['cid']}",
        patch_body({"op": "add", "path": EMPLOYEE_NUMBER, "value": "A-0"}),
    )
    assert response.status_code == 200, response.content
    response = scim.patch(
        f"/Users/{ids['ann']}", patch_body({"op": "remove", "path": EMPLOYEE_NUMBER})
    )
    assert response.status_code == 200, response.content
    assert found(filter='employeeNumber sw "a-"', sortBy="employeeNumber") == ["cid", "bob"]
    assert found(filter='employeeNumber eq "B-2"') == []

    response = scim.put(
        f"/Users/{ids['bob']}",
        {"schemas": [USER_RESOURCE_TYPE.schema.id], "userName": "bob"},
    )
    assert response.status_code == 200, response.content
    assert found(filter="employeeNumber pr") == ["cid"]
    assert dict(User.objects.values_list("user_name", "employee_number")) == {
        "ann": None,
        "bob": None,
        "cid": "A-0",
    }


def test_an_employee_number_too_long_for_the_index_is_refused(scim):
    """Values kept in a btree index have a bound (`max_length`)."""
    response = scim.post(
        "/Users",
        {
            "schemas": [USER_RESOURCE_TYPE.schema.id, ENTERPRISE_SCHEMA],
            "userName": "long",
            ENTERPRISE_SCHEMA: {"employeeNumber": "7" * 513},
        },
    )
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"


def test_the_migration_fills_the_column_of_users_stored_before_it(tenant):
    """Migration 0013 copies each stored user's employeeNumber into the new column."""
    migration = importlib.import_module("provisioning.migrations.0013_employee_number")
    for name, extension in [("ann", {"employeeNumber": "701984"}), ("bob", {"division": "X"})]:
        body = {"schemas": [USER_RESOURCE_TYPE.schema.id], "userName": name}
        body[ENTERPRISE_SCHEMA] = extension
        users.create(tenant, parse_resource(body, USER_RESOURCE_TYPE))
    # Stored before the schema bounded it: too long for the column's btree index.
    long = users.create(
        tenant,
        parse_resource(
            {"schemas": [USER_RESOURCE_TYPE.schema.id], "userName": "cy"}, USER_RESOURCE_TYPE
        ),
    ).obj
    User.objects.filter(pk=long.pk).update(
        data={**long.data, ENTERPRISE_SCHEMA: {"employeeNumber": "7" * 3000}}
    )
    User.objects.update(employee_number=None)  # as before the column existed
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL_EMPLOYEE_NUMBER)
    assert dict(User.objects.values_list("user_name", "employee_number")) == {
        "ann": "701984",
        "bob": None,
        "cy": None,
    }


def test_a_btree_indexed_attribute_needs_a_bound():
    """The schema table refuses an attribute kept in a btree index without `max_length`: its
    long values would fail in PostgreSQL rather than be refused with a 400."""
    with pytest.raises(ValueError, match="no max_length"):
        Attribute("badge", Type.STRING, column="badge", indexes=(Index.LOOKUP,))
    Attribute("badge", Type.STRING, column="badge", indexes=(Index.LOOKUP,), max_length=64)
    Attribute("badge", Type.STRING, column="badge", indexes=(Index.SUBSTRING,))
