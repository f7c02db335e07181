"""The API fuzzed from its own OpenAPI description (schemathesis, on hypothesis).

The description is the one DRF generates from the package (``ProfileSchema``), as a site
mounting the URLs at ``/livelike/`` would publish it; there is no schema endpoint to fetch it
from. Every request schemathesis derives from it, valid and invalid (its examples, coverage
and fuzzing phases, methods the API does not have included), goes through Django's whole
stack (WSGI, middleware, session, CSRF) as a user who logged in through the real login view,
to an API talking to the fake LiveLike over real sockets. For each answer:

- schemathesis's checks: no 5xx; status code, content type, headers and body as described;
  invalid input refused; 405 for a method the API does not have. Not its
  ``positive_data_acceptance``: a nickname the schema allows (a string of at most 50) is
  still refused when it shows nothing once stripped, which JSON Schema cannot say;
- a refusal (4xx) is a JSON object naming the problem: ``detail``, or the fields at fault
  (of the body sent, ``nickname`` or ``non_field_errors``), each with its messages;
- a refusal changed nothing: every column of the user's ``LiveLikeProfile`` row, read again
  through the ORM, and the nickname LiveLike holds;
- an accepted PATCH stored the nickname it answers, in the row and at LiveLike.

Deterministic (a fixed seed, no example database) and bounded (``MAX_EXAMPLES`` per
operation in the fuzzing phase; the other phases are finite). The examples depend on the
source all the same: hypothesis also draws constants it finds in the project's modules.

The schema is loaded when the module is collected, not from a fixture: schemathesis's
``from_fixture`` loader fails on pytest 9.2 (it sets the removed ``Item._nodeid``).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.test import Client
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.schemas.openapi import SchemaGenerator
from schemathesis.config import SchemathesisConfig

from livelike_profiles.models import LiveLikeProfile
from tests.factories import log_in, make_user, row_of

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 300
# Every column of the row: a refusal must leave each one as it was.
COLUMNS = [field.attname for field in LiveLikeProfile._meta.concrete_fields]


def openapi_document() -> dict[str, Any]:
    """The API's description as a site mounting it at ``/livelike/`` publishes it."""
    generator = SchemaGenerator(
        title="django-livelike-profiles",
        version="1",
        url="/livelike/",
        urlconf="livelike_profiles.urls",
    )
    return generator.get_schema(request=None, public=True)


def load_schema() -> Any:
    """The document, with what makes schemathesis deterministic and keeps it from writing."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 13,
            "cache": {"enabled": False},
            "generation": {"deterministic": True, "database": "none", "max-examples": MAX_EXAMPLES},
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(openapi_document(), config=config)


class Browser:
    """A logged-in user's session cookie and CSRF token, sent with every request."""

    def __init__(self, user: Any) -> None:
        self.user = user
        client = log_in(user, Client())
        # The token a page would have given the browser: SessionAuthentication checks it.
        page = HttpRequest()
        token = get_token(page)
        self.cookies = {
            "sessionid": client.cookies["sessionid"].value,
            "csrftoken": page.META["CSRF_COOKIE"],
        }
        self.headers = {"X-CSRFToken": token}
        self.answers: list[tuple[str, int]] = []  # (method, status) of every request


@pytest.fixture
def browser(livelike_fake, settings, request) -> Any:
    """A user logged in, whose profile the login created at the fake LiveLike.

    Checks afterwards that the run reached the API: some requests were accepted, and
    PATCH both changed the nickname and was refused.
    """
    # Schemathesis's WSGI transport sends its requests, and their cookies, to ``localhost``.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    browser = Browser(make_user())
    assert row_of(browser.user).is_active
    failed = request.session.testsfailed
    yield browser
    if request.session.testsfailed > failed:
        return  # stopped early: its own failure says why
    answers = browser.answers
    assert any(200 <= status < 300 for _, status in answers), answers
    if any(method == "PATCH" for method, _ in answers):  # some nicknames taken, some refused
        assert {("PATCH", 200), ("PATCH", 400)} <= set(answers), answers


# Hypothesis caches the constants it reads from the source under ``.hypothesis/`` of the
# working directory as soon as the tests are collected: keep it out of the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "django-livelike-profiles-hypothesis")
schema = load_schema()


@schema.parametrize()
# The fixtures are meant to last across examples: one login, one fake, one row that changes.
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_api_from_its_openapi_schema(case, browser, livelike_fake):
    cache.clear()  # the nickname throttle would turn most PATCHes away after the first few
    before = _columns(browser.user)
    remote_before = livelike_fake.profile(before["profile_id"]).nickname

    response = case.call_and_validate(
        app=WSGIHandler(), headers=browser.headers, cookies=browser.cookies
    )
    status = response.status_code
    browser.answers.append((case.method.upper(), status))
    after = _columns(browser.user)
    remote_after = livelike_fake.profile(before["profile_id"]).nickname

    assert status < 500, response.content[:500]
    assert status != 403, f"the login or the CSRF token did not work: {response.content!r}"
    if 400 <= status < 500:
        _assert_names_the_problem(case, response)
        assert after == before, f"a refused {case.method} ({status}) changed the row"
        assert remote_after == remote_before, f"a refused {case.method} changed LiveLike"
    elif case.method.upper() == "PATCH":
        nickname = response.json()["nickname"]
        assert after["nickname"] == remote_after == nickname


def _columns(user: Any) -> dict[str, Any]:
    """The row's columns, read now; the token as a digest, so no failure shows it."""
    row = row_of(user)
    columns = {name: getattr(row, name) for name in COLUMNS}
    columns["access_token"] = hashlib.sha256(str(columns["access_token"]).encode()).hexdigest()
    return columns


def _assert_names_the_problem(case: Any, response: Any) -> None:
    status = response.status_code
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (
        f"{status} without a JSON body: {content_type!r} {response.content[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict) and body, f"{status} names nothing: {body!r}"
    # The fields sent, as sent or as a form parser reads their names (stripped).
    sent = set(case.body) if isinstance(case.body, dict) else set()
    sent |= {str(name).strip() for name in sent}
    for name, messages in body.items():
        if name == "detail":
            assert isinstance(messages, str) and messages.strip(), f"{status}: {body!r}"
            continue
        assert name in {"nickname", "non_field_errors"} | sent, f"{status} names {name!r}"
        assert isinstance(messages, list) and messages, f"{status}: {body!r}"
        assert all(isinstance(text, str) and text.strip() for text in messages), body
