"""OpenAPI description of the profile API (DRF's own schema generation)."""

from __future__ import annotations

from typing import Any

from rest_framework.schemas.openapi import AutoSchema

# A 400: DRF's field errors (a list of messages per field, ``non_field_errors`` for the
# body as a whole), or ``detail`` for a body that does not parse.
_FIELD_ERRORS = {
    "type": "object",
    "minProperties": 1,
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
}


class ProfileSchema(AutoSchema):
    """Describes GET (no body) and PATCH (a nickname) answering the profile, and their errors."""

    def __init__(self) -> None:
        super().__init__(tags=["livelike"], operation_id_base="LiveLikeProfile")

    def get_request_serializer(self, path: str, method: str) -> Any:
        from .serializers import NicknameSerializer

        return NicknameSerializer()

    def get_response_serializer(self, path: str, method: str) -> Any:
        from .serializers import ProfileSerializer

        return ProfileSerializer()

    def get_operation_id(self, path: str, method: str) -> str:
        return {"GET": "getLiveLikeProfile", "PATCH": "updateLiveLikeNickname"}[method]

    def get_description(self, path: str, method: str) -> str:
        if method == "GET":
            return (
                "The caller's LiveLike profile and what the SDK's init() needs. Provisions "
                "the profile on first use; 503 with Retry-After while it is not ready. With "
                "guest profiles on, an anonymous caller gets their session's guest profile."
            )
        return (
            "Change the caller's nickname at LiveLike, then locally. 400 names the field; "
            "502/503 when LiveLike refuses or is unavailable (nothing changed)."
        )

    def map_serializer(self, serializer: Any) -> dict[str, Any]:
        from .serializers import ProfileSerializer

        result: dict[str, Any] = super().map_serializer(serializer)
        if isinstance(serializer, ProfileSerializer):
            # Every answer has every field; DRF lists none as required because all are read-only.
            result["required"] = list(result["properties"])
        return result

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        from .serializers import ProfileSerializer

        responses = super().get_responses(path, method)
        # One profile, the caller's: DRF takes any GET without a path parameter for a list.
        profile = self.get_reference(ProfileSerializer())
        for media_type in responses["200"]["content"].values():
            media_type["schema"] = profile
        detail = {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"detail": {"type": "string"}},
                        "required": ["detail"],
                    }
                }
            }
        }
        errors = {
            "403": {"description": "Not authenticated, or the account is deactivated.", **detail},
            "406": {"description": "The Accept header excludes JSON.", **detail},
            "503": {
                "description": "Not ready, LiveLike unavailable, or the stored token cannot "
                "be decrypted (Retry-After).",
                **detail,
            },
        }
        if method == "PATCH":
            errors["400"] = {
                "description": "Invalid input: each field named with its messages, or `detail` "
                "(a body that does not parse, or with more fields than the site allows).",
                "content": {"application/json": {"schema": _FIELD_ERRORS}},
            }
            errors["413"] = {
                "description": "A body larger than the site's DATA_UPLOAD_MAX_MEMORY_SIZE.",
                **detail,
            }
            errors["415"] = {"description": "A body that is not JSON or form data.", **detail}
            errors["429"] = {"description": "Too many nickname changes.", **detail}
            errors["502"] = {
                "description": "LiveLike refused the token or the request, or answered badly.",
                **detail,
            }
        responses.update(errors)
        return responses
