"""docker/compose.yaml and the images, checked without a Docker engine (there is none where
the tests run): the services, what each waits for, volumes, health checks, the settings the
containers get, and the files the Dockerfiles copy. The entrypoint's commands themselves run
in tests/live/test_entrypoint.py."""

import configparser
import re
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import ROOT

DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_the_deployment_has_its_six_services(services):
    assert set(services) == {"db", "pgbouncer", "migrate", "app", "edge", "worker"}


def test_postgresql_15_keeps_its_data_in_a_named_volume(compose, services):
    db = services["db"]
    assert db["image"] == "postgres:15"
    # No per-connection SET by Django; statistics soon after a large import.
    assert db["command"] == ["postgres", "-c", "timezone=UTC", "-c", "autovacuum_naptime=10s"]
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pgdata" in compose["volumes"]
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_pgbouncer_pools_per_transaction_in_front_of_the_database(services):
    pgbouncer = services["pgbouncer"]
    assert pgbouncer["depends_on"] == {"db": {"condition": "service_healthy"}}
    dockerfile = (DOCKER / pgbouncer["build"]["context"] / "Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends pgbouncer" in dockerfile
    assert "COPY pgbouncer.ini /etc/pgbouncer/pgbouncer.ini" in dockerfile
    config = configparser.ConfigParser()
    config.read(DOCKER / "pgbouncer" / "pgbouncer.ini")
    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert config["pgbouncer"]["listen_port"] == "6432"
    assert config["databases"]["scim"] == "host=db port=5432 dbname=scim"


def _url(service: dict):
    return urlsplit(service["environment"]["DATABASE_URL"])


def test_the_api_and_the_worker_go_through_pgbouncer_without_prepared_statements(services):
    for name in ("app", "worker"):
        service = services[name]
        assert (_url(service).hostname, _url(service).port) == ("pgbouncer", 6432), name
        assert service["environment"]["DATABASE_PREPARED_STATEMENTS"] == "false", name
        assert service["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "pgbouncer": {"condition": "service_healthy"},
        }, name


def test_migrations_run_once_in_a_one_shot_service_before_the_others(services):
    """Only `migrate` migrates; it runs once (no restart), straight to PostgreSQL, and the API
    and worker start only when it has finished well: replicas never race to migrate."""
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert (_url(migrate).hostname, _url(migrate).port) == ("db", 5432)
    assert [name for name, s in services.items() if "migrate" in s.get("command", [])] == [
        "migrate"
    ]
    assert services["app"]["command"] == ["serve"]
    assert services["worker"]["command"][0] == "worker"


def test_the_api_is_served_through_the_edge_and_checked_by_its_readiness_probe(services):
    """The edge proxy alone is published; the app, reached through it, trusts its X-Forwarded-*
    headers, and both refuse bodies over the same limit."""
    app, edge = services["app"], services["edge"]
    assert "ports" not in app
    assert edge["ports"] == ["${PORT:-8000}:8000"]
    assert edge["environment"]["EDGE_UPSTREAM"] == "app:8000"
    assert edge["depends_on"] == {"app": {"condition": "service_healthy", "restart": True}}
    assert app["environment"]["BEHIND_PROXY"] == "true"
    for limit in ("SCIM_MAX_PAYLOAD_BYTES", "SCIM_BULK_MAX_PAYLOAD_BYTES"):
        assert edge["environment"][limit] == app["environment"][limit], limit
    probe = " ".join(app["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health/ready" in probe
    # More than GRACEFUL_TIMEOUT (10 s): requests in flight finish before SIGKILL.
    assert int(app["stop_grace_period"].rstrip("s")) > 10


def test_every_awaited_service_has_a_health_check(services):
    for name, service in services.items():
        for other, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[other], (name, other)


def test_the_application_services_share_one_image_and_its_secret_key_volume(compose, services):
    for name in ("migrate", "app", "worker"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert service["image"] == "scimserver:latest"
        assert "appdata:/var/lib/scimserver" in service["volumes"]
        assert service["environment"]["SECRET_KEY_FILE"].startswith("/var/lib/scimserver/")
    assert "appdata" in compose["volumes"]


def test_every_setting_the_containers_get_is_documented(services):
    readme = (ROOT / "README.md").read_text()
    names = {
        key
        for service in ("migrate", "app", "edge", "worker")
        for key in services[service]["environment"]
    }
    assert {name for name in names if f"| `{name}` |" not in readme} == set()


def test_the_dockerfiles_copy_files_that_exist_and_the_entrypoint_knows_each_command(services):
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["scimserver-entrypoint"]' in dockerfile
    entrypoint = (DOCKER / "entrypoint.sh").read_text()
    commands = set(re.findall(r"^(\w+)\)$", entrypoint, re.MULTILINE))
    assert commands == {"migrate", "serve", "worker"}
    assert {services[name]["command"][0] for name in ("migrate", "app", "worker")} <= commands
    edge = (DOCKER / "edge" / "Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends nginx libnginx-mod-http-lua" in edge
    for line in re.findall(r"^COPY (.+)$", edge, re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert (DOCKER / "edge" / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".local"} <= set(ignored)
