"""SCIM protocol errors (RFC 7644 §3.12).

Each class carries the HTTP status and, where RFC 7644 §3.12 Table 9 defines one, the
``scimType``. The HTTP layer turns any of them into an error response; nothing else in the
code builds error bodies.
"""

from __future__ import annotations

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def encodable(text: str) -> str:
    """Return `text` with each lone surrogate spelled as its escape (``\\ud800``).

    Details quote what the client sent, and JSON may carry a lone surrogate that UTF-8 cannot
    encode: quoted as it is, it would break the response that reports the error.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class SCIMError(Exception):
    """A client-visible SCIM error: an HTTP status, an optional scimType and a detail."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "The request is not valid."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = encodable(detail or self.default_detail)
        super().__init__(self.detail)

    def to_scim(self) -> dict:
        """Return the RFC 7644 §3.12 error body; ``status`` is a string, as the RFC shows."""
        body = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


# scimType values of RFC 7644 §3.12 Table 9.


class InvalidFilter(SCIMError):
    scim_type = "invalidFilter"
    default_detail = "The specified filter syntax was invalid, or the attribute and comparison combination is not supported."


class TooMany(SCIMError):
    scim_type = "tooMany"
    default_detail = (
        "The specified filter yields more results than the server is willing to return."
    )


class Uniqueness(SCIMError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "One or more of the attribute values are already in use or are reserved."


class Mutability(SCIMError):
    scim_type = "mutability"
    default_detail = (
        "The attempted modification is not compatible with the target attribute's mutability."
    )


class InvalidSyntax(SCIMError):
    scim_type = "invalidSyntax"
    default_detail = "The request body message structure was invalid."


class InvalidPath(SCIMError):
    scim_type = "invalidPath"
    default_detail = "The path attribute was invalid or malformed."


class NoTarget(SCIMError):
    scim_type = "noTarget"
    default_detail = "The specified path did not yield an attribute or attribute value that could be operated on."


class InvalidValue(SCIMError):
    scim_type = "invalidValue"
    default_detail = "A required value was missing, or the value specified was not compatible with the operation or attribute type."


class InvalidVersion(SCIMError):
    scim_type = "invalidVers"
    default_detail = "The specified SCIM protocol version is not supported."


class Sensitive(SCIMError):
    status = 403
    scim_type = "sensitive"
    default_detail = (
        "The request cannot be completed because it contains sensitive information in its URI."
    )


# Errors without a scimType: RFC 7644 §3.12 lists their status codes only.


class Unauthorized(SCIMError):
    status = 401
    default_detail = "Authorization failure. The authorization header is invalid or missing."


class Forbidden(SCIMError):
    status = 403
    default_detail = "Operation is not permitted."


class NotFound(SCIMError):
    status = 404
    default_detail = "Specified resource or endpoint does not exist."


class MethodNotAllowed(SCIMError):
    status = 405
    default_detail = "The HTTP method is not allowed on this endpoint."


class NotAcceptable(SCIMError):
    status = 406
    default_detail = "The server can only answer with application/scim+json or application/json."


class Conflict(SCIMError):
    """A 409 other than `uniqueness`: a Bulk operation caught in a circle of bulkId
    references (RFC 7644 §3.7.1)."""

    status = 409
    default_detail = "The request conflicts with the state of the service provider."


class PreconditionFailed(SCIMError):
    status = 412
    default_detail = "The resource has changed on the server: the If-Match version does not match."


class PayloadTooLarge(SCIMError):
    status = 413
    default_detail = "The request body exceeds the maximum payload size."


class UnsupportedMediaType(SCIMError):
    status = 415
    default_detail = "The request body must be application/scim+json or application/json."


class TooManyRequests(SCIMError):
    """RFC 6585 §4: the client sent too many requests; `Retry-After` says when to come back.

    RFC 7644 §3.12 lists no 429 and Table 9 no scimType for it (its types describe a request's
    content, not its rate), so the body carries none.
    """

    status = 429
    default_detail = "Too many requests: this connection's rate limit is exceeded."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class InternalError(SCIMError):
    status = 500
    default_detail = "An internal error occurred. It has been logged."


class NotImplementedByServer(SCIMError):
    status = 501
    default_detail = "The service provider does not support the requested operation."


class InvalidCursor(SCIMError):
    """RFC 9865 §2.4: the cursor is not one the server issued or can resume from."""

    scim_type = "invalidCursor"
    default_detail = "The cursor value is invalid."
