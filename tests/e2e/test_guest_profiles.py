"""End to end: a guest in the demo's fan zone, with the official LiveLike SDK, who then joins.

The demo turns ``LIVELIKE["GUEST_PROFILES"]`` on: an anonymous visitor of the
fan zone gets a LiveLike profile kept in their session, the SDK works with it,
and its nickname can be changed. Signing up keeps it (same profile, same
nickname, nothing new created at LiveLike); logging in to an account that has a
profile gives that account's profile instead. Each scenario runs in both token
modes, on the demo servers the other modules use (``minting`` and ``demo``),
with users of its own. Every wait is on a condition in the page, never on a timer.
"""

from __future__ import annotations

from typing import Any

import pytest

from livelike_profiles.fake import FakeLiveLike
from tests.e2e.browser import (
    PROFILE_URL,
    change_nickname,
    new_page,
    open_fan_zone_as_guest,
    run_scenario,
    sdk_profile,
    submit_sign_in,
    submit_sign_up,
)
from tests.e2e.conftest import DemoSite, ProfileRow

pytestmark = pytest.mark.e2e

MINTED = "client-generated"


@pytest.fixture(params=[MINTED, "stored"])
def guest_demo(request: pytest.FixtureRequest) -> tuple[DemoSite, FakeLiveLike, str]:
    """The demo in each token mode (guest profiles on, as always), its fake, and the mode."""
    if request.param == MINTED:
        site, fake = request.getfixturevalue("minting")
    else:
        site, fake = request.getfixturevalue("demo"), request.getfixturevalue("fake_service")
    return site, fake, request.param


def _made_for(fake: FakeLiveLike, custom_id: str) -> list[tuple[str, str]]:
    """The fake's profiles for ``custom_id``, each with who made it."""
    return [(p.id, p.created_by) for p in fake.profiles if p.custom_id == custom_id]


def _created_by(mode: str) -> str:
    """Who makes a guest's profile at LiveLike: a minted token's first use, else our create call."""
    return "token" if mode == MINTED else "custom-id"


def test_a_guest_signs_up_and_keeps_the_profile_and_its_nickname(
    guest_demo: tuple[DemoSite, FakeLiveLike, str], chromium: str
) -> None:
    demo, fake, mode = guest_demo
    username, password = f"gina-{mode}", "gina-demo-pw-2024"

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        page = await new_page(await browser.new_context(), problems)
        guest_id, _ = await open_fan_zone_as_guest(page, demo)
        custom_id = fake.profile(guest_id).custom_id
        assert _made_for(fake, custom_id) == [(guest_id, _created_by(mode))]

        # The guest changes the nickname (a PATCH with the CSRF token); the SDK reads it back.
        await change_nickname(page, "Gina from the stands")
        assert fake.profile(guest_id).nickname == "Gina from the stands"
        await expect(page.locator("#site-profile-id")).to_have_text(guest_id)
        await expect(page.locator("#sdk-match")).to_be_visible()

        # Signing up, from the link the guest is shown, keeps that profile.
        profiles_before_sign_up = len(fake.profiles)
        await page.click("#guest-notice a[href$='/accounts/signup/']")
        await page.wait_for_url(f"{demo.url}/accounts/signup/")
        await submit_sign_up(page, demo, username, password)
        assert await sdk_profile(page) == (guest_id, "Gina from the stands")
        await expect(page.locator("#sdk-panel")).to_have_attribute("data-guest", "false")
        await expect(page.locator("#guest-notice")).to_have_count(0)
        await expect(page.locator("#site-profile-id")).to_have_text(guest_id)
        await expect(page.locator("#sdk-match")).to_be_visible()
        assert demo.profile_row(username) == ProfileRow(
            guest_id, "Gina from the stands", custom_id, "active"
        )

        # LiveLike made one profile, the guest's, and nothing for the new account.
        assert len(fake.profiles) == profiles_before_sign_up
        assert _made_for(fake, custom_id) == [(guest_id, _created_by(mode))]
        creates = fake.count_calls("POST", f"/profile-by-custom-id/demo/{custom_id}/")
        assert creates == (0 if mode == MINTED else 1)
        assert fake.count_calls("POST", PROFILE_URL) == 0  # the SDK never made one

    run_scenario(scenario, chromium, f"guest-signs-up-{mode}")


def test_a_guest_who_logs_in_to_an_account_with_a_profile_gets_that_accounts_profile(
    guest_demo: tuple[DemoSite, FakeLiveLike, str], chromium: str
) -> None:
    demo, fake, mode = guest_demo
    username, password = f"hugo-{mode}", "hugo-demo-pw-2024"

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        # The account, made and used on another device first: it has its profile.
        owner = await new_page(await browser.new_context(), problems)
        await owner.goto(f"{demo.url}/accounts/signup/")
        await submit_sign_up(owner, demo, username, password)
        account = await sdk_profile(owner)
        row = demo.profile_row(username)
        assert row is not None and (row.profile_id, row.status) == (account[0], "active")

        # A visitor takes part as a guest, then logs in to that account from the guest's link.
        page = await new_page(await browser.new_context(), problems)
        guest_id, _ = await open_fan_zone_as_guest(page, demo)
        guest_custom_id = fake.profile(guest_id).custom_id
        assert guest_id != account[0]
        await page.click("#guest-notice a[href$='/accounts/login/']")
        await page.wait_for_url(f"{demo.url}/accounts/login/")
        await submit_sign_in(page, demo, username, password)
        assert await sdk_profile(page) == account
        await expect(page.locator("#sdk-panel")).to_have_attribute("data-guest", "false")
        await expect(page.locator("#sdk-match")).to_be_visible()

        # The account's row is as it was; the guest's profile is left at LiveLike, nobody's.
        assert demo.profile_row(username) == row
        assert _made_for(fake, row.custom_id) == [(account[0], _created_by(mode))]
        assert _made_for(fake, guest_custom_id) == [(guest_id, _created_by(mode))]

    run_scenario(scenario, chromium, f"guest-logs-in-{mode}")
