"""The README's production settings pass Django's deployment checklist
(`manage.py check --deploy`), warnings included: TLS behind a proxy, secure cookies, HSTS."""

import os
import secrets
import subprocess
import sys

from tests.conftest import ROOT

# The README's "Production settings" block, with a fresh secret key.
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "scim.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://scim.example.com",
    "BEHIND_PROXY": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(**environment) -> subprocess.CompletedProcess:
    env = {**os.environ, "SECRET_KEY": secrets.token_urlsafe(50), **environment}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_readme_lists_the_production_settings():
    """The test checks what the README tells operators to set."""
    readme = (ROOT / "README.md").read_text()
    for name, value in PRODUCTION.items():
        assert f"{name}={value}" in readme, name


def test_defaults_are_reported_by_check_deploy():
    """Without them, the checklist names what is missing (it is not vacuous)."""
    result = check_deploy(DEBUG="false")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr
