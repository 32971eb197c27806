"""The `scim_token` management command: create, list, revoke and bootstrap bearer tokens; a
secret is printed once and never again (django-rest-knox)."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from provisioning import tokens
from provisioning.models import DEFAULT_TENANT_SLUG, Token
from tests.conftest import SCIMClient, assert_scim_error

BOOTSTRAP_SECRET = "k8s-provided-secret-0123456789abcdef"


def run(*args) -> tuple[str, str]:
    """Run `scim_token` with `args`; return what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("scim_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def create(*args) -> str:
    """Create a token with `scim_token create` and return the secret it printed."""
    out, _ = run("create", *args)
    return out.strip()


def authenticates(secret: str) -> bool:
    response = SCIMClient(secret).get("/Users")
    if response.status_code == 401:
        assert_scim_error(response, 401)
        return False
    assert response.status_code == 200, response.content
    return True


def test_create_prints_the_secret_once_on_stdout(db):
    """`create` prints only the secret on stdout (so it can be piped) and a notice on stderr;
    the secret authenticates for the default tenant and is stored only as its digest."""
    out, err = run("create", "--name", "okta")

    secret = out.strip()
    assert out == f"{secret}\n"
    assert secret not in err
    token = Token.objects.get()
    assert (token.tenant.slug, token.name, token.expires_at) == (DEFAULT_TENANT_SLUG, "okta", None)
    assert token.digest == tokens.digest(secret)
    assert token.prefix in err
    assert authenticates(secret)


def test_create_for_a_tenant(make_tenant):
    """`create --tenant` issues the token for that tenant."""
    make_tenant("globex")

    create("--tenant", "globex")

    assert Token.objects.get().tenant.slug == "globex"


def test_create_for_an_unknown_tenant_fails(db):
    """`create` for a tenant that does not exist is a CommandError and issues nothing."""
    with pytest.raises(CommandError, match="nope"):
        run("create", "--tenant", "nope")
    assert not Token.objects.exists()


def test_create_with_expiry(db):
    """`--expires-in-days N` makes the token expire N days from now."""
    before = timezone.now()
    secret = create("--expires-in-days", "30")
    after = timezone.now()

    expires_at = Token.objects.get().expires_at
    assert before + dt.timedelta(days=30) <= expires_at <= after + dt.timedelta(days=30)
    assert authenticates(secret)


def test_list_never_prints_secrets(make_tenant):
    """`list` shows each token's prefix, tenant, name and state, never a secret."""
    make_tenant("globex")
    okta = create("--name", "okta")
    entra = create("--name", "entra", "--tenant", "globex")
    tokens.revoke(Token.objects.get(name="entra"))

    out, err = run("list")

    assert okta not in out + err and entra not in out + err
    lines = {line.split("name=")[1].split()[0]: line for line in out.splitlines()}
    assert lines.keys() == {"okta", "entra"}
    assert lines["okta"].startswith(
        f"{okta[: tokens.PREFIX_LENGTH]}…  tenant=default  name=okta  state=active  "
    )
    assert lines["entra"].startswith(
        f"{entra[: tokens.PREFIX_LENGTH]}…  tenant=globex  name=entra  state=revoked  "
    )


def test_list_filters_by_tenant(make_tenant):
    """`list --tenant` lists that tenant's tokens only."""
    make_tenant("globex")
    create("--name", "okta")
    create("--name", "entra", "--tenant", "globex")

    out, _ = run("list", "--tenant", "globex")

    assert "name=entra" in out and "name=okta" not in out


@pytest.mark.parametrize("suffix", ["", "…"], ids=["bare", "as-listed"])
def test_revoke_by_prefix(db, suffix):
    """`revoke <prefix>` (as `list` prints it) revokes that token: it then gets 401; another
    token keeps working."""
    secret = create()
    other = create()
    assert authenticates(secret)

    run("revoke", secret[: tokens.PREFIX_LENGTH] + suffix)

    assert not authenticates(secret)
    assert authenticates(other)


@pytest.mark.parametrize("prefix", ["scim_", "zzz-no-such-token"], ids=["ambiguous", "unknown"])
def test_revoke_needs_exactly_one_match(db, prefix):
    """`revoke` with a prefix matching several tokens or none is a CommandError and revokes
    nothing."""
    first, second = create(), create()

    with pytest.raises(CommandError):
        run("revoke", prefix)

    assert authenticates(first) and authenticates(second)


def test_bootstrap_makes_the_environment_secret_valid(db, monkeypatch):
    """`bootstrap` makes the exact value of SCIM_BOOTSTRAP_TOKEN a token of the default tenant,
    and does not print it."""
    monkeypatch.setenv("SCIM_BOOTSTRAP_TOKEN", BOOTSTRAP_SECRET)
    assert not authenticates(BOOTSTRAP_SECRET)

    out, err = run("bootstrap")

    assert BOOTSTRAP_SECRET not in out + err
    assert authenticates(BOOTSTRAP_SECRET)
    token = Token.objects.get()
    assert token.tenant.slug == DEFAULT_TENANT_SLUG
    assert not BOOTSTRAP_SECRET.startswith(token.prefix)


def test_bootstrap_is_idempotent_and_never_revives_a_revoked_token(db, monkeypatch):
    """Re-running `bootstrap` (every start) keeps one token for the secret; once revoked or
    expired, the secret is refused rather than brought back (fail closed)."""
    monkeypatch.setenv("SCIM_BOOTSTRAP_TOKEN", BOOTSTRAP_SECRET)
    run("bootstrap")
    run("bootstrap")
    assert Token.objects.count() == 1

    tokens.revoke(Token.objects.get())
    with pytest.raises(CommandError, match="revoked or has expired"):
        run("bootstrap")
    assert not authenticates(BOOTSTRAP_SECRET)

    Token.objects.update(revoked_at=None, expires_at=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(CommandError, match="revoked or has expired"):
        run("bootstrap")
    assert Token.objects.count() == 1 and not authenticates(BOOTSTRAP_SECRET)


def test_bootstrap_refuses_a_short_secret(db, monkeypatch):
    """A chosen secret is stored as an unsalted hash, so it must be long enough not to guess."""
    monkeypatch.setenv("SCIM_BOOTSTRAP_TOKEN", "short")
    with pytest.raises(CommandError, match="at least 32 characters"):
        run("bootstrap")
    assert not Token.objects.exists()


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_bootstrap_without_the_environment_variable_fails(db, monkeypatch, value):
    """`bootstrap` without SCIM_BOOTSTRAP_TOKEN is a CommandError and creates no token, so a
    deployment never lets requests in without a secret."""
    if value is None:
        monkeypatch.delenv("SCIM_BOOTSTRAP_TOKEN", raising=False)
    else:
        monkeypatch.setenv("SCIM_BOOTSTRAP_TOKEN", value)

    with pytest.raises(CommandError, match="SCIM_BOOTSTRAP_TOKEN"):
        run("bootstrap")
    assert not Token.objects.exists()


def test_a_short_secret_accepted_earlier_is_revoked(db, monkeypatch):
    """A short bootstrap secret that an earlier version stored stops authenticating."""
    tokens.Token.objects.create(
        tenant=tokens.default_tenant(), prefix="bootstrap", digest=tokens.digest("changeme")
    )
    assert authenticates("changeme")
    monkeypatch.setenv("SCIM_BOOTSTRAP_TOKEN", "changeme")
    with pytest.raises(CommandError, match="at least 32 characters"):
        run("bootstrap")
    assert not authenticates("changeme")


def test_bootstrap_issues_a_first_token_only_when_there_is_none(db, monkeypatch):
    """`bootstrap --issue-when-none` without SCIM_BOOTSTRAP_TOKEN (a container's first start):
    a token of the default tenant, printed once; with any token present, nothing."""
    monkeypatch.delenv("SCIM_BOOTSTRAP_TOKEN", raising=False)
    out, err = run("bootstrap", "--issue-when-none")
    secret = out.strip()
    token = tokens.authenticate(secret)
    assert (token.tenant.slug, token.name) == ("default", "bootstrap")
    assert "First start" in err and secret not in err
    out, err = run("bootstrap", "--issue-when-none")
    assert out == "" and "Tokens exist already" in err
    assert Token.objects.count() == 1
