"""End to end, with tokens the site mints itself (``ACCESS_TOKENS = "client-generated"``).

The demo runs as ``make demo`` runs it by default: the site signs each
profile's access token with the client secret, and the fake LiveLike creates
the profile at the first use of a token for an unknown custom id. The official
SDK in Chromium works with those tokens: one profile per user on every device,
no token kept by the page or the browser, and a token that expires replaced
before it does, without reloading the page. Every wait is on a condition in
the page, never on a timer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from livelike_profiles.fake import FakeLiveLike
from tests.e2e.browser import (
    API_PATH,
    PROFILE_URL,
    change_nickname,
    new_page,
    open_fan_zone,
    run_scenario,
    sdk_profile,
    sign_in,
    sign_in_and_read,
)
from tests.e2e.conftest import DemoSite, demo_fake, serve_demo

pytestmark = pytest.mark.e2e

#: Seconds a token lives in the expiry test: short enough to see two renewals in a few
#: seconds, long enough that a renewal a second before expiry is never late on a busy machine.
SHORT_TTL = 4


@pytest.fixture(scope="module")
def expiring(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoSite, FakeLiveLike]]:
    """The demo minting tokens that expire after ``SHORT_TTL`` seconds, and its own fake."""
    with (
        demo_fake() as fake,
        serve_demo(
            fake, tmp_path_factory.mktemp("expiring_demo"), "client-generated", token_ttl=SHORT_TTL
        ) as site,
    ):
        yield site, fake


class ApiAnswers:
    """Every answer of the site's API the browser received, with each request's send time.

    Read from Playwright's network events: this is where the minted tokens the
    browser was handed are collected, to look for them everywhere else.
    """

    def __init__(self) -> None:
        self.sent: list[float] = []  # GET requests' send times (time.time())
        self.answers: list[dict[str, Any]] = []
        self._reading: list[asyncio.Task[None]] = []

    def watch(self, context: Any) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)

    def _ours(self, url: str) -> bool:
        return urlsplit(url).path == API_PATH

    def _on_request(self, request: Any) -> None:
        if self._ours(request.url) and request.method == "GET":
            self.sent.append(time.time())

    def _on_response(self, response: Any) -> None:
        if self._ours(response.url) and response.status == 200:
            self._reading.append(asyncio.ensure_future(self._read(response)))

    async def _read(self, response: Any) -> None:
        self.answers.append({**await response.json(), "method": response.request.method})

    async def settled(self) -> list[dict[str, Any]]:
        """The answers, once every body has been read (a failed read fails the test)."""
        await asyncio.gather(*self._reading)
        return self.answers

    async def tokens(self) -> list[str]:
        tokens = [answer["access_token"] for answer in await self.settled()]
        assert tokens and all(token.count(".") == 2 for token in tokens), "not minted JWTs"
        return tokens


class SdkTokens:
    """The bearer token of every request the SDK made to read its profile, in order."""

    def __init__(self, fake: FakeLiveLike) -> None:
        self.used: list[str] = []
        self._profile_url = f"{fake.url.rstrip('/')}{PROFILE_URL.removeprefix('/api/v1')}"

    def watch(self, context: Any) -> None:
        context.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        if request.url == self._profile_url and request.method == "GET":
            self.used.append(request.headers["authorization"].removeprefix("Bearer "))


def _one_profile(fake: FakeLiveLike, custom_id: str, profile_id: str | None) -> None:
    """The fake holds exactly one profile for ``custom_id``, made by a minted token's first use."""
    made = [(p.id, p.created_by) for p in fake.profiles if p.custom_id == custom_id]
    assert made == [(profile_id, "token")]
    # Nobody asked LiveLike to create it: neither our server nor the SDK.
    assert fake.count_calls("POST", f"/profile-by-custom-id/demo/{custom_id}/") == 0
    assert fake.count_calls("POST", PROFILE_URL) == 0


def test_one_user_on_two_devices_gets_one_profile_from_minted_tokens(
    minting: tuple[DemoSite, FakeLiveLike], chromium: str
) -> None:
    demo, fake = minting

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        laptop = await new_page(await browser.new_context(), problems)
        phone = await new_page(await browser.new_context(), problems)
        # Both devices sign alice in at once: the first uses of her tokens race at LiveLike.
        seen = await asyncio.gather(
            sign_in_and_read(laptop, demo, "alice", "alice-demo-pw"),
            sign_in_and_read(phone, demo, "alice", "alice-demo-pw"),
        )
        row = demo.profile_row("alice")
        assert row is not None and row.status == "active" and row.profile_id
        assert [profile_id for profile_id, _ in seen] == [row.profile_id] * 2
        _one_profile(fake, row.custom_id, row.profile_id)
        for page in (laptop, phone):
            await expect(page.locator("#site-profile-id")).to_have_text(row.profile_id)
            await expect(page.locator("#sdk-match")).to_be_visible()
            await expect(page.locator("#sdk-token")).to_contain_text("minted by the site")

        # The SDK reads its profile with the token it was handed, and sees a change made on
        # the laptop: on the laptop at once, on the phone when it opens the fan zone again.
        await change_nickname(laptop, "Alice on two screens")
        await expect(laptop.locator("#site-nickname")).to_have_text("Alice on two screens")
        assert fake.profile(row.profile_id).nickname == "Alice on two screens"
        assert demo.profile_row("alice").nickname == "Alice on two screens"
        assert await open_fan_zone(phone, demo) == (row.profile_id, "Alice on two screens")
        _one_profile(fake, row.custom_id, row.profile_id)

    run_scenario(scenario, chromium, "minted-two-devices")


def test_livelike_down_at_the_first_use_of_a_token_then_the_fan_zone_catches_up(
    minting: tuple[DemoSite, FakeLiveLike], chromium: str
) -> None:
    """Signing up calls nobody; LiveLike failing the token's first uses, the page tries again."""
    demo, fake = minting

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        page = await new_page(await browser.new_context(), problems)
        await page.goto(f"{demo.url}/accounts/signup/")
        await page.fill("#id_username", "erin")
        await page.fill("#id_password1", "erin-demo-pw-2024")
        await page.fill("#id_password2", "erin-demo-pw-2024")
        calls_before = len(fake.calls)
        # The site's first answer learns nothing (its call fails), the SDK's start fails too.
        fake.fail_next_creates(2, status=503)
        await page.click("form.stack button[type=submit]")
        await page.wait_for_url(f"{demo.url}/fan-zone/")
        await expect(page.locator("#sdk-panel")).to_have_attribute("data-state", "waiting")
        await expect(page.locator("#sdk-error")).to_contain_text("LiveLike answered 503")
        row = demo.profile_row("erin")
        assert (row.status, row.profile_id) == ("active", None)  # usable, id not known yet
        await expect(page.locator("#site-profile-id")).to_have_text("not known yet")

        # The page tries again without a reload: the site's answer learns the id, the SDK
        # reads the same profile, and LiveLike made exactly one for erin.
        profile_id, _ = await sdk_profile(page)
        row = demo.profile_row("erin")
        assert row.profile_id == profile_id
        await expect(page.locator("#site-profile-id")).to_have_text(profile_id)
        await expect(page.locator("#sdk-match")).to_be_visible()
        await expect(page.locator("#sdk-error")).to_be_hidden()
        _one_profile(fake, row.custom_id, profile_id)
        calls = fake.calls[calls_before:]
        statuses = [c.status for c in calls if (c.method, c.path) == ("GET", PROFILE_URL)]
        assert statuses[:2] == [503, 503] and set(statuses[2:]) == {200}
        # The 503s the page waited through are the browser's and the SDK's own console
        # errors: expected.
        problems[:] = [p for p in problems if "503" not in p and "(injected)" not in p]

    run_scenario(scenario, chromium, "minted-livelike-down")


# What the page's script runs to put a marker into every store the test reads back, so
# that finding no token there means the dump saw that store, not that it missed it.
_SEED_STORES = """async (marker) => {
  localStorage.setItem("e2e-marker", marker);
  sessionStorage.setItem("e2e-marker", marker);
  document.cookie = `e2e-marker=${marker}; path=/`;
  await new Promise((resolve, reject) => {
    const open = indexedDB.open("e2e-marker", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("markers");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("markers", "readwrite");
      tx.objectStore("markers").put({ marker }, "marker");
      tx.oncomplete = () => { open.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
  await (await caches.open("e2e-marker")).put("/e2e-marker", new Response(marker));
}"""

# sessionStorage and Cache Storage, which Playwright's storage_state() does not cover.
_DUMP_PAGE_STORES = """async () => {
  const cached = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      cached.push([name, request.url, await (await cache.match(request)).text()]);
    }
  }
  return JSON.stringify({
    sessionStorage: Object.entries(sessionStorage),
    cacheStorage: cached,
    formFields: [...document.querySelectorAll("input, textarea, select")].map((e) => e.value),
  });
}"""


async def _browser_keeps_none_of(
    context: Any, page: Any, tokens: list[str], sources: list[str], console: list[str]
) -> None:
    """None of ``tokens`` (nor its signature alone) is in the page or the browser's storage.

    Looks in the HTML the server sent (``sources``), the DOM as it is now, form
    fields' values, the console, cookies, localStorage and IndexedDB (every origin
    of the context, as Playwright's storage state has them), sessionStorage and
    Cache Storage.
    """
    marker = f"e2e-marker-{time.time_ns()}"
    await page.evaluate(_SEED_STORES, marker)
    state = await context.storage_state(indexed_db=True)
    places = {
        "page source": "\n".join(sources),
        "DOM": await page.content(),
        "console": "\n".join(console),
        "cookies": json.dumps(await context.cookies()),
        "localStorage and IndexedDB": json.dumps(state["origins"]),
        "sessionStorage, Cache Storage, form fields": await page.evaluate(_DUMP_PAGE_STORES),
    }
    dump = places["localStorage and IndexedDB"]
    assert dump.count(marker) >= 2, f"the dump missed localStorage or IndexedDB: {dump[:500]}"
    assert marker in places["cookies"]
    assert places["sessionStorage, Cache Storage, form fields"].count(marker) == 2
    assert sources and "sdk-panel" in places["page source"]
    for token in tokens:
        signature = token.rsplit(".", 1)[1]
        found = [where for where, text in places.items() if token in text or signature in text]
        assert found == [], f"a minted token is kept in: {', '.join(found)}"


def test_no_minted_token_in_the_page_or_the_browsers_storage(
    minting: tuple[DemoSite, FakeLiveLike], chromium: str
) -> None:
    demo, _ = minting

    async def scenario(browser: Any, problems: list[str]) -> None:
        context = await browser.new_context()
        answers = ApiAnswers()
        answers.watch(context)
        sources: list[str] = []
        console: list[str] = []

        async def keep_source(response: Any) -> None:
            if response.request.resource_type == "document" and response.status == 200:
                sources.append(await response.text())

        page = await new_page(context, problems)
        page.on("response", keep_source)
        page.on("console", lambda message: console.append(message.text))
        await sign_in(page, demo, "bob", "bob-demo-pw")
        profile_id, _ = await sdk_profile(page)
        await change_nickname(page, "Bob keeps no token")  # a PATCH answer carries one too
        assert profile_id == demo.profile_row("bob").profile_id

        tokens = await answers.tokens()
        assert [a["method"] for a in answers.answers] == ["GET", "PATCH"]
        assert all(a["expires_at"] and a["expires_at"].endswith("Z") for a in answers.answers)
        await _browser_keeps_none_of(context, page, tokens, sources, console)

    run_scenario(scenario, chromium, "minted-no-token-kept")


def test_an_expiring_token_is_replaced_before_it_expires_without_a_reload(
    expiring: tuple[DemoSite, FakeLiveLike], chromium: str
) -> None:
    demo, fake = expiring

    async def scenario(browser: Any, problems: list[str]) -> None:
        from playwright.async_api import expect

        context = await browser.new_context()
        answers, sdk = ApiAnswers(), SdkTokens(fake)
        answers.watch(context)
        sdk.watch(context)
        loads: list[str] = []
        page = await new_page(context, problems)
        page.on("load", lambda loaded: loads.append(loaded.url))
        await sign_in(page, demo, "alice", "alice-demo-pw")
        profile_id, _ = await sdk_profile(page)
        row = demo.profile_row("alice")
        assert profile_id == row.profile_id
        await page.evaluate("window.e2eSamePage = true")  # gone if the page is reloaded
        loads_before = len(loads)

        panel = page.locator("#sdk-panel")
        await expect(panel).to_have_attribute("data-refreshes", "1")
        await expect(panel).to_have_attribute("data-refreshes", "2")
        await expect(panel).to_have_attribute("data-state", "ready")
        await expect(page.locator("#sdk-token")).to_contain_text("refreshed 2 times")
        first = await answers.settled()
        first_expiry = datetime.fromisoformat(first[0]["expires_at"]).timestamp()
        # The second token was asked for before the first one expired, and the third after
        # it: the SDK has been working past the first token's life on the tokens after it.
        assert answers.sent[1] < first_expiry < answers.sent[2]

        # The SDK, re-initialised with each new token, still reads the same profile...
        assert await page.locator("#sdk-profile-id").inner_text() == profile_id
        await expect(page.locator("#sdk-match")).to_be_visible()
        # ...and reads a change with the current token (the first one has expired by now).
        assert time.time() > first_expiry
        await change_nickname(page, "Alice, renewed")
        assert fake.profile(profile_id).nickname == "Alice, renewed"

        # Each (re)initialisation read the profile with the token just handed out, in order;
        # LiveLike refused none of them; and the page was never reloaded.
        tokens = [a["access_token"] for a in await answers.settled() if a["method"] == "GET"]
        assert len(set(tokens)) == len(tokens) >= 3
        assert sdk.used[:3] == tokens[:3]
        assert set(sdk.used) <= set(tokens)
        assert [c for c in fake.calls if c.status >= 400] == []
        assert await page.evaluate("window.e2eSamePage") is True
        assert loads[loads_before:] == []
        _one_profile(fake, row.custom_id, profile_id)

    run_scenario(scenario, chromium, "minted-expiring")
