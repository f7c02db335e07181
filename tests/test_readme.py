"""The README's own example of testing with the fake service, kept true by running it."""

import pytest

from livelike_profiles.fake import FakeLiveLike


@pytest.fixture
def livelike(settings):
    with FakeLiveLike(client_id="demo", admin_token="admin-secret") as fake:
        settings.LIVELIKE = fake.settings()  # CLIENT_ID, API_URL, API_TOKEN, CLIENT_SECRET
        yield fake


@pytest.mark.django_db(transaction=True)
def test_first_login_creates_one_profile(client, django_user_model, livelike):
    user = django_user_model.objects.create_user("ann", password="pw")
    client.login(username="ann", password="pw")
    assert livelike.create_count == 1
    assert user.livelike_profile.access_token == livelike.profiles[0].access_token
