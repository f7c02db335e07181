"""What the API accepts and answers (DRF serializers)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from ..conf import conf

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Nicknames are shown to other people, so each must display as what it is:
# nothing invisible, blank-looking or drawn over its neighbours.
_REFUSED_CATEGORIES = frozenset(
    # controls, surrogates, private use, unassigned, line and paragraph separators
    {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"}
)
# Letters and symbols that draw nothing (Hangul fillers, the braille blank, Khmer's
# inherent vowels): the usual way to make a name that looks empty.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
# The only format characters allowed: the zero-width joiner and non-joiner shape
# emoji sequences, Indic conjuncts and Persian words, between two visible characters.
_JOINERS = frozenset("\u200c\u200d")
# Tag characters after the black flag spell a subdivision flag (England, Scotland...).
_FLAG = "\U0001f3f4"
_TAGS = range(0xE0020, 0xE0080)
_CANCEL_TAG = "\U000e007f"
# Where new emoji are assigned: unassigned there (Python's Unicode data lags the
# phones') is a pictograph, not a control character that is not known yet.
_PICTOGRAPHS = range(0x1F000, 0x1FB00)
# Non-spacing marks stacked on one character: real scripts use up to three or
# four (Tibetan stacks, Hebrew points); "zalgo" text uses dozens.
MAX_MARKS_PER_CHARACTER = 4
_INVISIBLE = _("Invisible or control characters are not allowed.")


def _visible(char: str) -> bool:
    """Whether ``char`` draws something of its own (a pictograph always does)."""
    if ord(char) in _PICTOGRAPHS:
        return True
    return unicodedata.category(char)[0] not in "CMZ" and char not in _BLANK


def _tag(char: str) -> bool:
    """Whether ``char`` (``""`` past either end) is a tag character."""
    return bool(char) and ord(char) in _TAGS


def _refused(char: str, category: str) -> bool:
    """Whether ``char`` is never allowed, wherever it stands."""
    if char in _BLANK:
        return True
    return category in _REFUSED_CATEGORIES and ord(char) not in _PICTOGRAPHS


def _in_a_flag(value: str, index: int) -> bool:
    """Whether ``value[index]`` is one of a subdivision flag's tags.

    They follow the black flag (or another tag) and end with the cancel tag.
    """
    char, previous = value[index], value[index - 1 : index]
    following = value[index + 1 : index + 2]
    after_the_flag = previous == _FLAG or _tag(previous)
    return _tag(char) and after_the_flag and (char == _CANCEL_TAG or _tag(following))


@dataclass
class _NicknameReader:
    """Reads a nickname one character at a time, remembering what the last ones leave behind.

    ``problem_at`` says why the character at an index may not stand there, or
    ``None``; it must be called for each index in order, from the first.
    """

    value: str
    marks: int = 0  # non-spacing marks on the current character
    anchored: bool = False  # the previous character is visible, or a mark on a visible one

    def problem_at(self, index: int) -> StrOrPromise | None:
        """Why ``value[index]`` would not display as itself here, or ``None``."""
        char = self.value[index]
        category = unicodedata.category(char)
        if _refused(char, category):
            return _INVISIBLE
        if category[0] == "M":
            return self._mark(index, category)
        if category == "Cf":
            return self._format_character(index)
        self.marks, self.anchored = 0, _visible(char)
        return None

    def _mark(self, index: int, category: str) -> StrOrPromise | None:
        # A mark leaves ``anchored`` as it was: a joiner may follow a visible letter's marks.
        if not index:
            return _("A combining mark must follow a character.")
        if category != "Mc":  # spacing marks take room of their own: they never pile up
            self.marks += 1
            if self.marks > MAX_MARKS_PER_CHARACTER:
                return _("Too many combining marks on one character.")
        return None

    def _format_character(self, index: int) -> StrOrPromise | None:
        # Invisible by nature: allowed only to join two visible characters, or in a flag.
        if not (self._joins(index) or _in_a_flag(self.value, index)):
            return _INVISIBLE
        self.anchored = False
        return None

    def _joins(self, index: int) -> bool:
        following = self.value[index + 1 : index + 2]
        return (
            self.value[index] in _JOINERS
            and self.anchored
            and bool(following)
            and _visible(following)
        )


def nickname_problem(value: str) -> StrOrPromise | None:
    """Why ``value`` (NFC, stripped) would not display as itself, or ``None``.

    The first character that may not stand where it is gives the answer; failing
    that, a value with nothing visible at all.
    """
    reader = _NicknameReader(value)
    for index in range(len(value)):
        problem = reader.problem_at(index)
        if problem is not None:
            return problem
    if not any(_visible(char) for char in value):
        return _("Enter at least one visible character.")
    return None


class ProfileSerializer(serializers.Serializer):
    """Everything the official SDK's ``init({clientId, accessToken, endpoint})`` needs."""

    profile_id = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "LiveLike's id of the profile, or null while it is not known yet (a minted "
            "token's profile, until LiveLike is first asked)."
        ),
    )
    nickname = serializers.CharField(read_only=True)
    access_token = serializers.CharField(
        read_only=True, help_text=_("The caller's own profile access token: a credential.")
    )
    client_id = serializers.CharField(read_only=True, help_text=_("LiveLike client id."))
    api_url = serializers.CharField(
        read_only=True, help_text=_("LiveLike API base URL, the SDK's `endpoint`.")
    )
    status = serializers.CharField(read_only=True)
    guest = serializers.BooleanField(
        read_only=True,
        help_text=_(
            "True for an anonymous visitor's guest profile, kept in their session "
            '(LIVELIKE["GUEST_PROFILES"]); false for a signed-in user\'s.'
        ),
    )
    expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "When `access_token` expires (a token the site minted), or null if it does not: "
            "ask again before then."
        ),
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """The answer for the profile ``instance``: every field, ``null`` where not known."""
        # The view hands over the credential it already obtained: minting
        # twice would make two tokens for one answer.
        credential = self.context.get("credential") or instance.credential()
        expires_at = credential.expires_at
        return {
            "profile_id": instance.profile_id or None,  # None in Python too: one "not yet"
            "nickname": instance.nickname,
            "access_token": credential.token,
            "expires_at": expires_at.isoformat().replace("+00:00", "Z") if expires_at else None,
            "client_id": conf.CLIENT_ID,
            "api_url": conf.API_URL,
            "status": instance.status,
            "guest": instance.is_guest,
        }


class NicknameField(serializers.CharField):
    """A stripped string in Unicode's composed form (NFC): the length limit counts what shows."""

    def to_internal_value(self, data: Any) -> str:
        return unicodedata.normalize("NFC", super().to_internal_value(data))


def _unknown_fields(names: list[str]) -> dict[str, list[StrOrPromise]]:
    """The 400 for fields the API does not have: each named, with "Unknown field."

    Names an error answer already gives a meaning to, ``detail`` (a string: the whole
    problem) and ``non_field_errors``, are named in a ``non_field_errors`` message
    instead, or a field called ``detail`` would turn ``detail`` into a list.
    """
    reserved = {"detail", api_settings.NON_FIELD_ERRORS_KEY}
    errors: dict[str, list[StrOrPromise]] = {
        name: [_("Unknown field.")] for name in names if name not in reserved
    }
    clashing = [name for name in names if name in reserved]
    if clashing:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = [
            _("Unknown field: %(name)s.") % {"name": name} for name in clashing
        ]
    return errors


class NicknameSerializer(serializers.Serializer):
    """A new nickname: a string, stripped, NFC, 1 to ``NICKNAME_MAX_LENGTH`` characters.

    Refused: anything that would not display as itself (see :func:`nickname_problem`).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built per instance, so the maximum follows the setting (never frozen at import).
        return {
            "nickname": NicknameField(
                max_length=conf.NICKNAME_MAX_LENGTH, trim_whitespace=True, allow_blank=False
            )
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """DRF's checks, after two it does not make: no unknown field, a string nickname."""
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields), key=str)
            if unknown:
                raise serializers.ValidationError(_unknown_fields([str(n) for n in unknown]))
            # CharField would turn a number or a boolean into a string.
            value = data.get("nickname")
            if value is not None and not isinstance(value, str):
                raise serializers.ValidationError({"nickname": [_("Not a valid string.")]})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate_nickname(self, value: str) -> str:
        """The nickname as it is, or a 400 saying why it would not display as itself."""
        problem = nickname_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value
