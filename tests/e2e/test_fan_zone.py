"""End to end: the demo's fan zone in headless Chromium, with the official LiveLike SDK.

The promise under test: a user keeps one LiveLike profile however often and
wherever they log in, and the profile the SDK works with is the one stored for
them. Here the demo stores the tokens LiveLike issues (``DEMO_ACCESS_TOKENS=stored``);
test_client_generated_tokens.py runs it with tokens the site mints. Every wait
is on a condition in the page, never on a timer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from livelike_profiles.fake import FakeLiveLike
from tests.e2e.browser import (
    PROFILE_URL,
    new_page,
    open_fan_zone,
    run_scenario,
    sdk_profile,
    sign_in,
    sign_in_and_read,
)
from tests.e2e.conftest import ARTIFACTS, DemoSite, record_artifact

pytestmark = pytest.mark.e2e


def test_one_profile_for_alice_on_every_device(
    demo: DemoSite, fake_service: FakeLiveLike, chromium: str
) -> None:
    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        laptop = await browser.new_context()
        page = await new_page(laptop, problems)
        await sign_in(page, demo, "alice", "alice-demo-pw")
        profile_id, nickname = await sdk_profile(page)

        # What the SDK reports is the row stored for alice, and the fake's own record.
        row = demo.profile_row("alice")
        assert row is not None and row.status == "active"
        assert (profile_id, nickname) == (row.profile_id, row.nickname)
        remote = fake_service.profile(profile_id)
        assert remote.custom_id == row.custom_id
        await expect(page.locator("#sdk-match")).to_be_visible()

        # The token reached the SDK, yet is nowhere in the page nor in the browser's storage.
        assert remote.access_token not in await page.content()
        storage = await page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert remote.access_token not in storage

        # A new nickname goes through our PATCH; the page then shows the SDK's own fresh read.
        sdk_reads = fake_service.count_calls("GET", PROFILE_URL)
        await page.fill("#nickname-input", "Alice in the stands")
        await page.click("#nickname-form button[type=submit]")
        await expect(page.locator("#sdk-nickname")).to_have_text("Alice in the stands")
        await expect(page.locator("#site-nickname")).to_have_text("Alice in the stands")
        assert fake_service.count_calls("GET", PROFILE_URL) == sdk_reads + 1
        assert fake_service.profile(profile_id).nickname == "Alice in the stands"
        assert demo.profile_row("alice").nickname == "Alice in the stands"

        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = record_artifact(ARTIFACTS / "e2e-fan-zone.png")
        await page.screenshot(path=screenshot, full_page=True)
        print(f"fan zone screenshot: {screenshot}")

        # A second device signs in while a second tab of the first one opens the fan zone.
        phone = await new_page(await browser.new_context(), problems)
        second_tab = await new_page(laptop, problems)
        seen = await asyncio.gather(
            sign_in_and_read(phone, demo, "alice", "alice-demo-pw"),
            open_fan_zone(second_tab, demo),
        )
        assert seen == [(profile_id, "Alice in the stands")] * 2

        # The fake recorded exactly one profile created for alice, and none by the SDK itself.
        _assert_created_once(fake_service, row.custom_id, profile_id)

    run_scenario(scenario, chromium, "alice")


def _assert_created_once(fake: FakeLiveLike, custom_id: str, profile_id: str) -> None:
    """One create for this user, by our server (custom id), and none by the SDK itself."""
    assert [p.id for p in fake.profiles if p.custom_id == custom_id] == [profile_id]
    assert fake.count_calls("POST", f"/profile-by-custom-id/demo/{custom_id}/") == 1
    assert fake.count_calls("POST", PROFILE_URL) == 0


def test_first_sign_in_on_three_devices_at_once_creates_one_profile(
    demo: DemoSite, fake_service: FakeLiveLike, chromium: str
) -> None:
    async def scenario(browser: Any, problems: list[str]) -> None:
        pages = [await new_page(await browser.new_context(), problems) for _ in range(3)]
        # Slow LiveLike down so the other sign-ins arrive while the first create is in flight.
        fake_service.latency = 0.3
        try:
            seen = await asyncio.gather(
                *(sign_in_and_read(page, demo, "bob", "bob-demo-pw") for page in pages)
            )
        finally:
            fake_service.latency = 0
        row = demo.profile_row("bob")
        assert row is not None
        assert {profile_id for profile_id, _ in seen} == {row.profile_id}
        _assert_created_once(fake_service, row.custom_id, row.profile_id)

    run_scenario(scenario, chromium, "bob")


def test_sign_up_while_livelike_refuses_then_the_fan_zone_catches_up(
    demo: DemoSite, fake_service: FakeLiveLike, chromium: str
) -> None:
    """Signing up never fails for LiveLike; the page waits (Retry-After) and then connects.

    LiveLike answers the sign-up's create with a 429 asking for 4 seconds: the
    row's next attempt is then due no sooner, so the page's first request
    surely finds it waiting, however slow the machine is to load the page (a
    503 would be retried after the demo's one-second backoff, which a loaded
    machine can outlast, and the page would never show its waiting state).
    """

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        page = await new_page(await browser.new_context(), problems)
        await page.goto(f"{demo.url}/accounts/signup/")
        await page.fill("#id_username", "dana")
        await page.fill("#id_password1", "dana-demo-pw-2024")
        await page.fill("#id_password2", "dana-demo-pw-2024")
        fake_service.fail_next_creates(1, status=429, retry_after=4)
        await page.click("form.stack button[type=submit]")
        await page.wait_for_url(f"{demo.url}/fan-zone/")
        await expect(page.locator("#sdk-panel")).to_have_attribute("data-state", "waiting")
        assert demo.profile_row("dana").status == "failed"

        # The retry happens when the API's Retry-After says, without reloading the page.
        profile_id, _ = await sdk_profile(page)
        row = demo.profile_row("dana")
        assert (row.status, row.profile_id) == ("active", profile_id)
        assert fake_service.count_calls("POST", f"/profile-by-custom-id/demo/{row.custom_id}/") == 2
        assert [p.id for p in fake_service.profiles if p.custom_id == row.custom_id] == [profile_id]
        # The 503s the page waited through (the API's answer while the profile is
        # not ready) are the browser's own console errors: expected.
        problems[:] = [p for p in problems if "503" not in p]

    run_scenario(scenario, chromium, "dana")


def test_fan_zone_without_the_sdk_says_why(
    demo: DemoSite, fake_service: FakeLiveLike, chromium: str
) -> None:
    """If the SDK's script cannot load, the panel says so and the rest of the page works."""

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        context = await browser.new_context()
        await context.route("**/vendor/livelike-javascript.umd.js", lambda route: route.abort())
        page = await new_page(context, problems)
        await sign_in(page, demo, "admin", "admin-demo-pw")
        await expect(page.locator("#sdk-panel")).to_have_attribute("data-state", "missing")
        await expect(page.locator("#sdk-error")).to_contain_text("did not load")
        row = demo.profile_row("admin")
        assert row is not None
        await expect(page.locator("#site-profile-id")).to_have_text(row.profile_id)
        # The aborted script is reported by the browser itself; that one is expected.
        problems[:] = [p for p in problems if "ERR_FAILED" not in p]

    run_scenario(scenario, chromium, "no-sdk")
