"""Request body parsers: `application/scim+json` (RFC 7644 §8.1) and `application/json`.

Bodies larger than the `MAX_PAYLOAD_BYTES` app setting are refused with 413 before they are
read whole; malformed JSON is a 400 `invalidSyntax`.
"""

import json

from rest_framework import parsers

from . import app_settings
from .scim.errors import InvalidSyntax, PayloadTooLarge


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = app_settings.get("MAX_PAYLOAD_BYTES")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            # UnicodeDecodeError and JSONDecodeError are both ValueErrors.
            raise InvalidSyntax(f"The request body is not valid JSON: {exc}") from None


class SCIMParser(JSONParser):
    media_type = "application/scim+json"
