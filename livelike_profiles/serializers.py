"""What the API accepts and answers (DRF serializers)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .conf import conf

# Bidirectional overrides and isolates (Unicode "format" characters) can make
# a nickname display as something else; other format characters such as the
# zero-width joiner inside emoji sequences are allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ProfileSerializer(serializers.Serializer):
    """Everything the official SDK's ``init({clientId, accessToken, endpoint})`` needs."""

    profile_id = serializers.CharField(read_only=True)
    nickname = serializers.CharField(read_only=True)
    access_token = serializers.CharField(
        read_only=True, help_text=_("The caller's own profile access token: a credential.")
    )
    client_id = serializers.CharField(read_only=True, help_text=_("LiveLike client id."))
    api_url = serializers.CharField(
        read_only=True, help_text=_("LiveLike API base URL, the SDK's `endpoint`.")
    )
    status = serializers.CharField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "profile_id": instance.profile_id or "",
            "nickname": instance.nickname,
            "access_token": instance.access_token,
            "client_id": conf.CLIENT_ID,
            "api_url": conf.API_URL,
            "status": instance.status,
        }


class NicknameSerializer(serializers.Serializer):
    """A new nickname: a string, stripped, 1 to ``NICKNAME_MAX_LENGTH`` characters."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built per instance, so the maximum follows the setting (never frozen at import).
        return {
            "nickname": serializers.CharField(
                max_length=conf.NICKNAME_MAX_LENGTH, trim_whitespace=True, allow_blank=False
            )
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields), key=str)
            if unknown:
                raise serializers.ValidationError(
                    {str(name): [_("Unknown field.")] for name in unknown}
                )
            # CharField would turn a number or a boolean into a string.
            value = data.get("nickname")
            if value is not None and not isinstance(value, str):
                raise serializers.ValidationError({"nickname": [_("Not a valid string.")]})
        return super().to_internal_value(data)

    def validate_nickname(self, value: str) -> str:
        for char in value:
            if unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS:
                raise serializers.ValidationError(_("Control characters are not allowed."))
        return value
