"""The `scim_audit` management command: `prune` removes change records past the retention
period; `export` writes records as JSON Lines, oldest first."""

import datetime as dt
import io
import json
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from provisioning.models import ChangeRecord


def run(*args) -> tuple[str, str]:
    """Run `scim_audit` with `args`; return what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("scim_audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def make_record(db):
    """Return a factory of change records made at a given time."""

    def make(tenant, created: dt.datetime, name: str = "bjensen") -> ChangeRecord:
        return ChangeRecord.objects.create(
            tenant=tenant,
            created=created,
            token_name="okta",
            token_prefix="scim_abcdefg",
            request_id="req-1",
            client_ip="127.0.0.1",
            user_agent="Okta",
            operation="create",
            resource_type="User",
            resource_id=uuid.UUID(int=1),
            external_id="00u1",
            name=name,
            version=1,
            changes={"userName": {"before": None, "after": name}},
        )

    return make


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, day, 12, 0, tzinfo=dt.UTC)


def test_prune_removes_records_older_than_the_retention(make_record, tenant, make_tenant, settings):
    """Records older than SCIM_AUDIT_RETENTION_DAYS are deleted, in every tenant; newer ones
    stay."""
    settings.SCIM = {**settings.SCIM, "AUDIT_RETENTION_DAYS": 30}
    other = make_tenant("other")
    now = timezone.now()
    kept = [make_record(tenant, now - dt.timedelta(days=29)), make_record(other, now)]
    make_record(tenant, now - dt.timedelta(days=31))
    make_record(other, now - dt.timedelta(days=400))

    _, err = run("prune")

    assert err == "2 change record(s) older than 30 days deleted.\n"
    assert set(ChangeRecord.objects.all()) == set(kept)


def test_export_writes_json_lines_oldest_first_across_tenants(make_record, tenant, make_tenant):
    """Without --tenant, every tenant's records come in one stream ordered by time; each line
    is one whole record."""
    other = make_tenant("other")
    make_record(other, at(3), "c")
    first = make_record(tenant, at(1), "a")
    make_record(other, at(2), "b")
    make_record(tenant, at(4), "d")

    out, _ = run("export")

    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["tenant"], line["name"]) for line in lines] == [
        ("acme", "a"),
        ("other", "b"),
        ("other", "c"),
        ("acme", "d"),
    ]
    assert lines[0] == {
        "id": first.pk,
        "created": "2026-01-01T12:00:00Z",
        "tenant": "acme",
        "token_name": "okta",
        "token_prefix": "scim_abcdefg",
        "admin_user": "",
        "request_id": "req-1",
        "client_ip": "127.0.0.1",
        "user_agent": "Okta",
        "operation": "create",
        "resource_type": "User",
        "resource_id": "00000000-0000-0000-0000-000000000001",
        "external_id": "00u1",
        "name": "a",
        "version": 1,
        "changes": {"userName": {"before": None, "after": "a"}},
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tenant", "acme"], ["a", "d"]),
        (["--since", "2026-01-02T12:00:00Z"], ["b", "c", "d"]),
        (["--until", "2026-01-03T12:00:00+00:00"], ["a", "b"]),
        (["--tenant", "other", "--since", "2026-01-03", "--until", "2026-01-04"], ["c"]),
    ],
    ids=["tenant", "since", "until", "all-three"],
)
def test_export_filters(make_record, tenant, make_tenant, args, expected):
    """--tenant keeps one tenant's records; --since is inclusive, --until exclusive; a date
    without an offset is UTC."""
    other = make_tenant("other")
    make_record(tenant, at(1), "a")
    make_record(other, at(2), "b")
    make_record(other, at(3), "c")
    make_record(tenant, at(4), "d")

    out, _ = run("export", *args)

    assert [json.loads(line)["name"] for line in out.splitlines()] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope"], "No tenant 'nope'."),
        (["--since", "yesterday"], "'yesterday' is not an ISO 8601 date or date-time."),
    ],
    ids=["unknown-tenant", "bad-date"],
)
def test_export_refuses_bad_arguments(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("export", *args)
