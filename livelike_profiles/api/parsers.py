"""Request body parsing for the API, and its refusals of a body as JSON errors."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError


class RequestBodyTooLarge(APIException):
    """413: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


def as_api_error(error: Exception) -> Exception:
    """Django's refusal of a body (too large, too many fields) as the API's JSON error.

    Django raises them as ``SuspiciousOperation``, which DRF leaves to Django's
    HTML 400 page; anything else is returned as it is.
    """
    if not isinstance(error, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return error
    # Logged where Django logs them when it answers them itself.
    logging.getLogger(f"django.security.{type(error).__name__}").error(str(error))
    if isinstance(error, RequestDataTooBig):
        return RequestBodyTooLarge()
    return ParseError(_("The request body has too many fields."))


def _capped(stream: IO[Any]) -> IO[bytes]:
    """The body, read at most up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``, as Django limits it.

    Newer DRF reads ``request.body``, where Django enforces the limit; older
    DRF (3.15) hands the parser the request's own stream, read without one.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        # Django's own exception: the view answers it as it answers Django's (as_api_error).
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return io.BytesIO(body)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 (not 500) to JSON nested past Python's recursion limit."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(_capped(stream), media_type, parser_context)
        except RecursionError:
            # json raises RecursionError, not the ValueError DRF turns into a ParseError.
            raise ParseError("JSON parse error - nested too deeply.") from None


class FormParser(parsers.FormParser):
    """DRF's form parser, with the body's size limit on every DRF version."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return super().parse(_capped(stream), media_type, parser_context)
