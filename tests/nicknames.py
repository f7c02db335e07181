"""NICKNAME callables used by the tests."""

NOT_CALLABLE = "a string"


def from_username(user) -> str:
    return f"fan {user.get_username()}"[:50]


def none_for_everyone(user) -> None:
    return None


def too_long_for_livelike(user) -> str:
    return "n" * 60  # the fake LiveLike refuses more than 50


def not_staff(user) -> bool:
    """PROVISION_IF: staff get no LiveLike profile."""
    return not user.is_staff


def broken_rule(user) -> bool:
    raise RuntimeError("the site's rule has a bug")
