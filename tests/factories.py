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
