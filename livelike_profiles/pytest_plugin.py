"""The ``livelike_fake`` pytest fixture: a fake LiveLike per test, ``LIVELIKE`` pointing at it.

Installing the app registers this plugin (the ``pytest11`` entry point). pytest loads it in
every run, so it imports neither Django nor the fake until a test asks for the fixture, which
then needs pytest-django. See docs/how-to/testing-your-site.md for examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from livelike_profiles.fake import FakeLiveLike


@pytest.fixture
def livelike_fake_options() -> dict[str, Any]:
    """Keyword arguments for the ``FakeLiveLike`` that ``livelike_fake`` starts.

    None by default: client id ``"demo"``, admin token ``"demo-admin-token"``, the public
    ``DEMO_CLIENT_SECRET``, a free port. Override this fixture to change them.
    """
    return {}


@pytest.fixture
def livelike_fake_settings() -> dict[str, Any]:
    """``LIVELIKE`` keys that ``livelike_fake`` sets over the fake's own; none by default.

    Override this fixture (in a ``conftest.py`` or a test module) to add yours, e.g.
    ``{"ACCESS_TOKENS": "client-generated"}``.
    """
    return {}


@pytest.fixture
def livelike_fake(
    request: pytest.FixtureRequest,
    livelike_fake_options: dict[str, Any],
    livelike_fake_settings: dict[str, Any],
) -> Iterator[FakeLiveLike]:
    """A ``FakeLiveLike`` serving on a free port for this test, the site's settings pointing at it.

    ``settings.LIVELIKE`` becomes the site's ``LIVELIKE`` with ``fake.settings()`` over it
    (``CLIENT_ID``, ``API_URL``, ``API_TOKEN``, ``CLIENT_SECRET``: the fake's), then
    ``livelike_fake_settings``. It is set through pytest-django's ``settings`` fixture, so it
    is restored after the test; the fake is stopped then, and what it remembered goes with it.
    """
    from livelike_profiles.fake import FakeLiveLike

    try:
        # Asked for here, not as an argument: projects without pytest-django still load us.
        settings = request.getfixturevalue("settings")
    except pytest.FixtureLookupError:
        pytest.fail(
            "livelike_fake needs pytest-django (its settings fixture): pip install pytest-django",
            pytrace=False,
        )
    with FakeLiveLike(**livelike_fake_options) as fake:
        site = getattr(settings, "LIVELIKE", {})
        settings.LIVELIKE = {**site, **fake.settings(**livelike_fake_settings)}
        yield fake
