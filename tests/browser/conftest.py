"""The admin in a real browser: headless Chromium from Debian's `chromium` package, driven by
Playwright, against the real server (`live_server_url`, granian on the test database).

One browser for the package; each test gets a fresh context (cookies, clipboard) and page. A test
that fails saves a screenshot of its page under .local/screenshots/ and prints the path.
Every page's console errors and uncaught exceptions are collected in `page.errors`.
"""

import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from provisioning import tokens

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"
# The narrowest desktop the admin must serve without cutting a column off.
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "a-long-admin-passphrase"

pytestmark = pytest.mark.live


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell that it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser(live_server_url):
    """One headless Chromium for these tests, started after the test database and the server
    (the ORM must not run beside Playwright's event loop while the database is set up), and
    stopped when they are done, which ends that loop before the rest of the suite runs."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def allow_orm_beside_playwright(monkeypatch):
    """Let the test's ORM calls run: Playwright's sync API keeps an asyncio loop in this
    thread, which the ORM never uses but Django's async guard sees. Only this process is
    affected: the live server was started before, without it."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(request, browser, live_server_url, transactional_db, allow_orm_beside_playwright):
    """A page of a new browser context on the live server, that may use the clipboard."""
    context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on(
        "console",
        lambda message: (
            page.errors.append(f"{message.type}: {message.text} ({page.url})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: page.errors.append(f"exception: {error} ({page.url})"))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / (re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png")
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failed test's page: {shot}", file=sys.stderr)
    context.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed once, as the server's hashers expect it (PBKDF2 is slow on purpose)."""
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)


@pytest.fixture
def make_login(transactional_db, password_hash):
    """Return a factory of admin logins: a superuser, or a staff user with the given
    permissions operating the given connections."""
    from django.contrib.auth.models import Permission, User

    def make(username: str, *, superuser: bool = False, perms=(), connections=()) -> User:
        login = User.objects.create(
            username=username,
            password=password_hash,
            is_staff=True,
            is_superuser=superuser,
        )
        if superuser:
            return login
        login.user_permissions.set(
            Permission.objects.filter(content_type__app_label="provisioning", codename__in=perms)
        )
        for tenant in connections:
            tenant.operators.add(login)
        return login

    return make


def sign_in(page, username: str) -> None:
    """Sign in to the admin through its login form."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def issue_token(tenant) -> str:
    """Return the secret of a new token of `tenant`."""
    return tokens.issue(tenant, name="setup")[1]


def overflowing_tables(page) -> list[str]:
    """Return the tables on the page wider than the box that shows them (a column cut off or
    scrolled out of sight), or than the window."""
    return page.evaluate(
        """() => {
            const found = [];
            if (document.documentElement.scrollWidth > window.innerWidth) {
                found.push("page: " + document.documentElement.scrollWidth);
            }
            for (const table of document.querySelectorAll("table")) {
                const box = table.parentElement;
                if (table.scrollWidth > box.clientWidth + 1) {
                    found.push((table.id || box.className || "table") + ": "
                               + table.scrollWidth + " > " + box.clientWidth);
                }
            }
            return found;
        }"""
    )
