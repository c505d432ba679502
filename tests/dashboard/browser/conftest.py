"""Browser tests: Playwright for Python driving the system's Chromium against pytest-django's live server.

Chromium is Debian's (`apt-get install -y chromium`, which .ci/run does when /usr/bin/chromium is
missing); Playwright's own browser download is never used. One browser per session, a fresh
context (cookies, storage) per page fixture. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from fluxbill.core.roles import FINANCE, SUPPORT
from tests.factories import UserFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PASSWORD = "pass-word-123"  # the factories' password
VIEWPORT = {"width": 1280, "height": 900}
# Short waits: every page is local and server-rendered, so a missing element is a failure, not a delay.
TIMEOUT_MS = 8_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Lets the page fixture see at teardown whether the test failed, to keep a screenshot of it.
    setattr(item, f"rep_{report.when}", report)
    return report


# Package scope, not session: while Playwright's sync API is alive it marks an asyncio loop as running
# in this thread (and needs DJANGO_ALLOW_ASYNC_UNSAFE for the ORM), which must not outlast these tests.
# pytest-django keeps the browser tests together, so the browser still starts once per run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API keeps an asyncio loop running in this thread, which Django's
    # async-safety check takes for async code; the ORM calls here are plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        yield playwright
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    # Screenshots of failures from an earlier run would pass for this run's.
    for stale in SCREENSHOTS.glob("FAILED-*.png"):
        stale.unlink()
    yield browser
    browser.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """screenshot(page, "invoices") → test-artifacts/screenshots/invoices.png (the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture(autouse=True)
def _empty_cache():
    """The live server shares this process's cache: one test's cached chart or rate count must not leak."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def new_page(browser: Browser, live_server, request) -> Iterator[Callable[[], Page]]:
    """new_page() → a page in a fresh browser context against the live server.

    Each page records uncaught JavaScript errors (`page.js_errors`, checked at teardown) and accepts
    confirmation dialogs, keeping their text in `page.dialogs` so tests can assert the question asked.
    A failing test leaves a screenshot of every page it opened.
    """
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def make() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.js_errors = []
        page.dialogs = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        # Chromium reports what the Content-Security-Policy blocked as console errors: each is a failure too.
        page.on(
            "console",
            lambda message: page.js_errors.append(f"CSP: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None,
        )

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", on_dialog)
        contexts.append(context)
        pages.append(page)
        return page

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(pages):
            try:
                page.screenshot(path=str(SCREENSHOTS / f"FAILED-{_slug(request.node.name)}-{index}.png"), full_page=True)
            except Exception:  # noqa: BLE001  a crashed page must not hide the test's own failure
                pass
    errors = [error for page in pages for error in page.js_errors]
    for context in contexts:
        context.close()
    if errors and not failed:
        pytest.fail(f"JavaScript errors in the page: {errors}")


@pytest.fixture
def page(new_page) -> Page:
    """An anonymous page (not logged in)."""
    return new_page()


def make_staff(username: str, role: str | None):
    user = UserFactory(username=username, is_staff=True)
    if role:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def log_in(page: Page, username: str, password: str = PASSWORD) -> Page:
    """Through the login form, as a person would."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    return page


@pytest.fixture
def login_as(new_page, transactional_db) -> Callable[[str, str | None], Page]:
    """login_as("fiona", "Finance") → a page in its own context, logged in as a new user with that role."""

    def login(username: str, role: str | None) -> Page:
        make_staff(username, role)
        return log_in(new_page(), username)

    return login


@pytest.fixture
def finance_page(login_as) -> Page:
    return login_as("fiona", FINANCE)


@pytest.fixture
def support_page(login_as) -> Page:
    return login_as("sam", SUPPORT)


@pytest.fixture
def absolute(live_server) -> Callable[[str], str]:
    """absolute("/api/v1/events") → the live server's URL for it, for requests made outside the browser."""
    return lambda path: urljoin(live_server.url, path)
