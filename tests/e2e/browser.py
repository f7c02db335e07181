"""What every browser scenario needs: Chromium, a page that reports its errors, signing in.

A scenario is ``async def scenario(browser, problems)``; :func:`run_scenario`
runs it in headless Chromium and fails the test on any console error or
uncaught exception, keeping a screenshot of every open page when it fails.
Every wait is on a condition in the page, never on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, DemoSite, record_artifact

PROFILE_URL = "/api/v1/applications/demo/profile/"  # the fake's profile_url for client "demo"
API_PATH = "/livelike/profile/"  # the site's API, where the fan zone gets its token
WAIT_MS = 15_000


@asynccontextmanager
async def _browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def run_scenario(scenario: Callable[..., Awaitable[None]], chromium: str, name: str) -> None:
    """Run ``scenario(browser, problems)``; on failure keep a screenshot of every open page."""

    async def main() -> None:
        from playwright.async_api import expect

        # expect() has its own timeout (5 s): a Retry-After alone may take that long.
        expect.set_options(timeout=WAIT_MS)
        async with _browser(chromium) as browser:
            problems: list[str] = []
            browser.on("disconnected", lambda _: problems.append("browser disconnected"))
            try:
                await scenario(browser, problems)
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                pages = [page for context in browser.contexts for page in context.pages]
                for n, page in enumerate(pages):
                    path = ARTIFACTS / f"e2e-{name}-failure-{n}.png"
                    await page.screenshot(path=path, full_page=True)
                    record_artifact(path)
                raise
            # Console errors and uncaught exceptions fail the test even when the page looked fine.
            assert problems == []

    asyncio.run(main())


async def new_page(context: Any, problems: list[str]) -> Any:
    """A page of ``context`` whose console errors and uncaught exceptions go to ``problems``."""
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: message.type == "error" and problems.append(f"console: {message.text}"),
    )
    return page


async def sign_in(page: Any, site: DemoSite, username: str, password: str) -> None:
    """Sign in through the login form; the site then opens the fan zone."""
    await page.goto(f"{site.url}/accounts/login/")
    await submit_sign_in(page, site, username, password)


async def submit_sign_in(page: Any, site: DemoSite, username: str, password: str) -> None:
    """Fill in and send the login form the page shows; the site then opens the fan zone."""
    await page.fill("#id_username", username)
    await page.fill("#id_password", password)
    await page.click("form.stack button[type=submit]")
    await page.wait_for_url(f"{site.url}/fan-zone/")


async def submit_sign_up(page: Any, site: DemoSite, username: str, password: str) -> None:
    """Fill in and send the sign-up form the page shows; the site then opens the fan zone."""
    await page.fill("#id_username", username)
    await page.fill("#id_password1", password)
    await page.fill("#id_password2", password)
    await page.click("form.stack button[type=submit]")
    await page.wait_for_url(f"{site.url}/fan-zone/")


async def sdk_profile(page: Any) -> tuple[str, str]:
    """Wait until the SDK has reported a profile; return (id, nickname) as the page shows them."""
    from playwright.async_api import expect

    await expect(page.locator("#sdk-panel")).to_have_attribute("data-state", "ready")
    return (
        await page.locator("#sdk-profile-id").inner_text(),
        await page.locator("#sdk-nickname").inner_text(),
    )


async def open_fan_zone(page: Any, site: DemoSite) -> tuple[str, str]:
    """Open the fan zone; return what the SDK reports."""
    await page.goto(f"{site.url}/fan-zone/")
    return await sdk_profile(page)


async def open_fan_zone_as_guest(page: Any, site: DemoSite) -> tuple[str, str]:
    """Open the fan zone signed out; return what the SDK reports for the guest profile.

    The page must be the fan zone (not the login page it would be without guest
    profiles), and the API's answer must say ``"guest": true``.
    """
    from playwright.async_api import expect

    await page.goto(f"{site.url}/fan-zone/")
    assert page.url == f"{site.url}/fan-zone/", "an anonymous visitor was sent elsewhere"
    seen = await sdk_profile(page)
    await expect(page.locator("#sdk-panel")).to_have_attribute("data-guest", "true")
    await expect(page.locator("#guest-notice")).to_contain_text("Guest profile: sign up to keep it")
    return seen


async def sign_in_and_read(
    page: Any, site: DemoSite, username: str, password: str
) -> tuple[str, str]:
    """Sign in; return what the SDK reports in the fan zone."""
    await sign_in(page, site, username, password)
    return await sdk_profile(page)


async def change_nickname(page: Any, nickname: str) -> None:
    """Send the fan zone's nickname form and wait for the SDK's fresh read to show it."""
    from playwright.async_api import expect

    await page.fill("#nickname-input", nickname)
    await page.click("#nickname-form button[type=submit]")
    await expect(page.locator("#sdk-nickname")).to_have_text(nickname)
