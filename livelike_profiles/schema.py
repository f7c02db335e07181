"""OpenAPI description of the profile API (DRF's own schema generation)."""

from __future__ import annotations

from typing import Any

from rest_framework.schemas.openapi import AutoSchema


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
                "the profile on first use; 503 with Retry-After while it is not ready."
            )
        return (
            "Change the caller's nickname at LiveLike, then locally. 400 names the field; "
            "502/503 when LiveLike refuses or is unavailable (nothing changed)."
        )

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        responses = super().get_responses(path, method)
        detail = {
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
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
            errors["400"] = {"description": "Invalid input, naming the field."}
            errors["415"] = {"description": "A body that is not JSON or form data.", **detail}
            errors["429"] = {"description": "Too many nickname changes.", **detail}
            errors["502"] = {
                "description": "LiveLike refused the token or the request, or answered badly.",
                **detail,
            }
        responses.update(errors)
        return responses
