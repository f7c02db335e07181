"""Small helpers that build users and log them in, for any user model."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "pw"


def username_for(n: int) -> str:
    """A valid value of the user model's USERNAME_FIELD (an e-mail where that is the field)."""
    if get_user_model().USERNAME_FIELD == "email":
        return f"user{n}@example.com"
    return f"user{n}"


def make_user(n: int = 0):
    """Create user number ``n`` with the password ``PASSWORD``."""
    model = get_user_model()
    return model._default_manager.create_user(
        **{model.USERNAME_FIELD: username_for(n)}, password=PASSWORD
    )


def make_users(count: int) -> list:
    return [make_user(n) for n in range(count)]


def log_in(user, client: Client | None = None) -> Client:
    """Log ``user`` in through Django's real login view; fails the test if login fails."""
    client = client or Client()
    response = client.post(
        "/accounts/login/", {"username": user.get_username(), "password": PASSWORD}
    )
    assert response.status_code == 302, f"login failed with {response.status_code}"
    return client


def make_due(user) -> None:
    """Let the backoff (or the lease) run out, as if time had passed."""
    from datetime import timedelta

    from django.utils import timezone

    from livelike_profiles.models import LiveLikeProfile

    past = timezone.now() - timedelta(seconds=1)
    LiveLikeProfile.objects.filter(user_id=user.pk).update(
        next_attempt_at=past, lease_expires_at=past
    )


def claim_held_elsewhere(user, lease_seconds: float = 60):
    """A row claimed by another process that is still talking to LiveLike."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from livelike_profiles.models import LiveLikeProfile
    from livelike_profiles.provisioning.custom_ids import new_custom_id

    return LiveLikeProfile.objects.create(
        user_id=user.pk,
        status=LiveLikeProfile.Status.PENDING,
        custom_id=new_custom_id(user),
        attempts=1,
        claim=uuid.uuid4(),
        lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds),
    )


def fresh(user):
    """The user re-read from the database, with nothing cached on it."""
    return get_user_model()._default_manager.get(pk=user.pk)


def row_of(user):
    """The user's ``LiveLikeProfile`` row, read from the database now."""
    from livelike_profiles.models import LiveLikeProfile

    return LiveLikeProfile.objects.get(user_id=user.pk)


def first_answer_lost(fake, livelike_settings, **livelike):
    """A stored-mode user whose first create reached LiveLike but whose answer never came.

    ``livelike`` are ``LIVELIKE`` keys set through the ``livelike_settings`` fixture; the row
    is left failed and due.
    """
    from livelike_profiles.models import LiveLikeProfile
    from livelike_profiles.provisioning import ensure_profile

    livelike_settings(TIMEOUT=0.3, **livelike)
    fake.lose_next_create_answers(1, delay=5.0)
    user = make_user()
    assert ensure_profile(user).status == LiveLikeProfile.Status.FAILED
    assert fake.create_count == 1
    # The short timeout was only to lose that answer: a loaded machine can take longer
    # than 0.3 s to answer the attempts the test makes next.
    livelike_settings(TIMEOUT=2.0, **livelike)
    make_due(user)
    return user
